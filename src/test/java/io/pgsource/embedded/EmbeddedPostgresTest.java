package io.pgsource.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;

/** The embedded launcher against the real binaries: every test starts real servers. */
class EmbeddedPostgresTest {
    private static EmbeddedPostgres pg;

    @BeforeAll
    static void start() {
        pg = EmbeddedPostgres.builder().testMode(true).start();
    }

    @AfterAll
    static void stop() {
        if (pg != null) {
            pg.close();
        }
    }

    @Test
    void runsWithLogicalWalOnLoopback() throws SQLException {
        assertThat(pg.host()).isEqualTo("127.0.0.1");
        assertThat(pg.port()).isPositive();
        assertThat(pg.superuser()).isEqualTo("postgres");
        assertThat(show(pg, "wal_level")).isEqualTo("logical");
        assertThat(show(pg, "max_replication_slots")).isEqualTo("64");
        assertThat(show(pg, "max_wal_senders")).isEqualTo("64");
        assertThat(show(pg, "max_connections")).isEqualTo("200");
        assertThat(show(pg, "fsync")).isEqualTo("off");
        assertThat(show(pg, "server_encoding")).isEqualTo("UTF8");
        assertThat(show(pg, "synchronous_commit")).isEqualTo("on");
        try (Connection c = connect(pg, "postgres"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT datcollate, datctype FROM pg_database WHERE datname = 'postgres'")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("C");
            assertThat(rs.getString(2)).isEqualTo("C");
        }
        assertThat(show(pg, "server_version")).as("the default: the newest major").startsWith(TestPostgres.DEFAULT_MAJOR + ".");
    }

    @Test
    void extraSettingsReachPostgresqlConf() throws SQLException {
        try (EmbeddedPostgres custom = EmbeddedPostgres.builder().testMode(false).setting("wal_sender_timeout", "7s").start()) {
            assertThat(show(custom, "wal_sender_timeout")).isEqualTo("7s");
            assertThat(show(custom, "fsync")).isEqualTo("on");
        }
    }

    @Test
    void failedStartReportsTheServerLogAndCleansUp() throws Exception {
        List<Path> before = embeddedDirectories();
        assertThatThrownBy(() -> EmbeddedPostgres.builder().testMode(true).setting("wal_level", "bogus").start())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("did not start")
                .hasMessageContaining("invalid value for parameter \"wal_level\"");
        assertThat(embeddedDirectories()).isEqualTo(before);
    }

    @Test
    void pgoutputSlotCanBeCreatedOverAReplicationConnectionAndDropped() throws SQLException {
        String db = pg.createDatabase("slots");
        Properties props = new Properties();
        PGProperty.USER.set(props, pg.superuser());
        PGProperty.PASSWORD.set(props, pg.password());
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        try (Connection replication = DriverManager.getConnection(pg.jdbcUrl(db), props)) {
            replication.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot().logical()
                    .withSlotName("pgsource_it").withOutputPlugin("pgoutput").make();
        }
        try (Connection c = connect(pg, db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE t (id int PRIMARY KEY, v text)");
            s.execute("CREATE PUBLICATION pub FOR TABLE t");
            s.execute("INSERT INTO t VALUES (1, 'a')");
            try (ResultSet rs = s.executeQuery("SELECT slot_type, plugin FROM pg_replication_slots WHERE slot_name = 'pgsource_it'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("logical");
                assertThat(rs.getString(2)).isEqualTo("pgoutput");
            }
            // pgoutput decodes the insert: Begin, Relation, Insert, Commit
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_logical_slot_peek_binary_changes('pgsource_it', NULL, NULL,"
                    + " 'proto_version', '1', 'publication_names', 'pub')")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(4);
            }
            s.execute("SELECT pg_drop_replication_slot('pgsource_it')");
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_replication_slots")) {
                rs.next();
                assertThat(rs.getInt(1)).isZero();
            }
        }
    }

    @Test
    void passwordIsRequiredAndChecked() throws SQLException {
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.superuser(), pg.password())) {
            assertThat(c.isValid(5)).isTrue();
        }
        assertThatThrownBy(() -> DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.superuser(), pg.password() + "x"))
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("28P01"));
        assertThatThrownBy(() -> DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.superuser(), ""))
                .isInstanceOf(SQLException.class);
        assertThat(pg.toString()).doesNotContain(pg.password());
    }

    @Test
    void hstoreAndCitextExtensionsAreAvailable() throws SQLException {
        String db = pg.createDatabase("extensions");
        try (Connection c = connect(pg, db); Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION hstore");
            s.execute("CREATE EXTENSION citext");
            try (ResultSet rs = s.executeQuery("SELECT 'a=>1'::hstore -> 'a', 'ABC'::citext = 'abc'::citext")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("1");
                assertThat(rs.getBoolean(2)).isTrue();
            }
        }
    }

    @Test
    void twoInstancesRunSideBySide() throws SQLException {
        try (EmbeddedPostgres other = EmbeddedPostgres.builder().testMode(true).start()) {
            assertThat(other.port()).isNotEqualTo(pg.port());
            assertThat(other.password()).isNotEqualTo(pg.password());
            assertThat(other.dataDirectory()).isNotEqualTo(pg.dataDirectory());
            String db = pg.createDatabase("only_in_first");
            try (Connection c = connect(other, "postgres"); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_database WHERE datname = '" + db + "'")) {
                rs.next();
                assertThat(rs.getInt(1)).isZero();
            }
            assertThat(show(other, "wal_level")).isEqualTo("logical");
        }
    }

    @Test
    void closeStopsTheServerAndDeletesItsDirectory() throws SQLException {
        EmbeddedPostgres doomed = EmbeddedPostgres.builder().testMode(true).start();
        Path data = doomed.dataDirectory();
        assertThat(data.resolve("PG_VERSION")).exists();
        assertThat(show(doomed, "wal_level")).isEqualTo("logical");

        doomed.close();

        assertThat(data).doesNotExist();
        assertThat(data.getParent()).doesNotExist();
        assertThatThrownBy(() -> connect(doomed, "postgres"))
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("08001"));
        doomed.close(); // twice is fine
        assertThatThrownBy(doomed::restart).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void restartKeepsDataAndPort() throws SQLException {
        try (EmbeddedPostgres restarted = EmbeddedPostgres.builder().testMode(true).start()) {
            int port = restarted.port();
            String db = restarted.createDatabase("kept");
            try (Connection c = connect(restarted, db); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE t (id int PRIMARY KEY, v text)");
                s.execute("INSERT INTO t VALUES (1, 'survives')");
            }
            try (Connection open = connect(restarted, db)) {
                restarted.restart();
                // the fast shutdown ended the old session
                assertThat(open.isValid(2)).isFalse();
            }
            assertThat(restarted.port()).isEqualTo(port);
            try (Connection c = connect(restarted, db); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT v FROM t WHERE id = 1")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("survives");
            }
            restarted.stop();
            assertThatThrownBy(() -> connect(restarted, "postgres")).isInstanceOf(SQLException.class);
            restarted.restart();
            assertThat(show(restarted, "wal_level")).isEqualTo("logical");
        }
    }

    @Test
    void aKeptClusterStartsAgainWithItsDataEvenWhenAKilledRunLeftItsServerRunning() throws Exception {
        // in the temporary directory itself, which the unprivileged server user can traverse (a @TempDir is private)
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "pgsource-kept-test-" + ProcessHandle.current().pid());
        try {
            EmbeddedPostgres first = EmbeddedPostgres.builder().testMode(true).keptIn(dir, null).start();
            String db = first.createDatabase("kept");
            try (Connection c = connect(first, db); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'survives')");
            }
            // the first run is "killed": its server keeps running; the next one can start only after stopping it (a
            // postmaster refuses a data directory another one runs on)
            try (EmbeddedPostgres second = EmbeddedPostgres.builder().keptIn(dir, first.password()).start();
                 Connection c = connect(second, db); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT v FROM t WHERE id = 1")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("survives");
            }
            first.close();
            assertThat(dir.resolve("data").resolve("PG_VERSION")).as("close keeps a kept cluster").exists();
            assertThatThrownBy(() -> EmbeddedPostgres.builder().keptIn(dir, null).start())
                    .hasMessageContaining("needs the password it was created with");
        } finally {
            EmbeddedPostgres.deleteKept(dir);
        }
        assertThat(dir).doesNotExist();
    }

    @Test
    void anImmediateRestartIsACrashThatRecoversEveryCommittedRowFromTheWal() throws SQLException {
        try (EmbeddedPostgres crashed = EmbeddedPostgres.builder().testMode(true).start()) {
            String db = crashed.createDatabase("crashed");
            try (Connection c = connect(crashed, db); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE logged (id int PRIMARY KEY)");
                s.execute("INSERT INTO logged SELECT generate_series(1, 1000)");
                // an unlogged table is emptied by crash recovery and kept by a clean stop: it tells the two apart
                s.execute("CREATE UNLOGGED TABLE unlogged (id int)");
                s.execute("INSERT INTO unlogged VALUES (1)");
            }
            crashed.restart(EmbeddedPostgres.StopMode.FAST);
            assertThat(count(crashed, db, "unlogged")).isEqualTo(1);

            try (Connection open = connect(crashed, db)) {
                crashed.restart(EmbeddedPostgres.StopMode.IMMEDIATE);
                assertThat(open.isValid(2)).isFalse();
            }
            assertThat(count(crashed, db, "logged")).isEqualTo(1000);
            assertThat(count(crashed, db, "unlogged")).isZero();
        }
    }

    private static long count(EmbeddedPostgres server, String db, String table) throws SQLException {
        try (Connection c = connect(server, db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void serverRunsAsAnUnprivilegedUserWhenTheJvmIsRoot() throws Exception {
        Object owner = Files.getAttribute(pg.dataDirectory(), "unix:uid");
        if (ProcessRunner.jvmIsRoot()) {
            assertThat(owner).isNotEqualTo(0);
        } else {
            assertThat(owner).isEqualTo((int) ProcessRunner.currentUid());
        }
    }

    @Test
    void unsupportedPlatformSaysHowToUseARealServer() {
        assertThatThrownBy(() -> PostgresBinaries.locate("Windows 11", "amd64", false, getClass().getClassLoader()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("os.name=Windows 11")
                .hasMessageContaining("source.host");
        assertThatThrownBy(() -> PostgresBinaries.locate("Linux", "s390x", false, getClass().getClassLoader()))
                .hasMessageContaining("os.arch=s390x")
                .hasMessageContaining("source.host");
    }

    @Test
    void runningPlatformIsFoundWithItsArtifactVersion() {
        PostgresBinaries.Archive archive = PostgresBinaries.locate(System.getProperty("os.name"), System.getProperty("os.arch"),
                false, getClass().getClassLoader());
        assertThat(archive.version()).startsWith(TestPostgres.DEFAULT_MAJOR + ".").matches("\\d+\\.\\d+\\.\\d+");
        assertThat(archive.cacheName()).startsWith("postgres-" + archive.version() + "-");
    }

    /** The oldest supported version from its own jar (the one Maven copied for the tests), cached under its own version. */
    @Test
    void anotherVersionStartsFromItsJar() throws SQLException {
        int oldest = TestPostgres.majorVersions().get(0);
        Path jar = TestPostgres.binariesJar(oldest);
        try (EmbeddedPostgres other = EmbeddedPostgres.builder().testMode(true).binaries(jar).start()) {
            assertThat(show(other, "server_version")).startsWith(oldest + ".");
            assertThat(show(other, "wal_level")).isEqualTo("logical");
        }
        assertThatThrownBy(() -> EmbeddedPostgres.builder().binaries(jar.resolveSibling("missing.jar")).start())
                .hasMessageContaining("no PostgreSQL binaries jar at");
    }

    @Test
    void concurrentUnpacksShareOneCompleteDirectory(@TempDir Path cacheRoot) throws Exception {
        PostgresBinaries.Archive archive = PostgresBinaries.locate(System.getProperty("os.name"), System.getProperty("os.arch"),
                false, getClass().getClassLoader());
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Callable<Path> unpack = () -> PostgresBinaries.unpack(archive, cacheRoot, archive.cacheName(), ProcessRunner.currentUid());
            List<Future<Path>> results = pool.invokeAll(List.of(unpack, unpack));
            Path first = results.get(0).get();
            assertThat(results.get(1).get()).isEqualTo(first);
            assertThat(first.resolve("bin/postgres")).isExecutable();
            assertThat(first.resolve("share/postgresql/extension/hstore.control")).isReadable();
            try (var entries = Files.list(cacheRoot)) {
                assertThat(entries.map(p -> p.getFileName().toString()).toList()).containsExactly(archive.cacheName());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void cacheDirectoryWritableByOthersIsRefused(@TempDir Path cacheRoot) throws Exception {
        PostgresBinaries.Archive archive = PostgresBinaries.locate(System.getProperty("os.name"), System.getProperty("os.arch"),
                false, getClass().getClassLoader());
        Path planted = Files.createDirectory(cacheRoot.resolve(archive.cacheName()));
        Files.setPosixFilePermissions(planted, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        assertThatThrownBy(() -> PostgresBinaries.unpack(archive, cacheRoot, archive.cacheName(), ProcessRunner.currentUid()))
                .hasMessageContaining("refusing to use " + planted);
    }

    private static List<Path> embeddedDirectories() throws Exception {
        try (var entries = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return entries.filter(p -> p.getFileName().toString().startsWith("pgsource-embedded-")).sorted().toList();
        }
    }

    private static Connection connect(EmbeddedPostgres server, String db) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", server.superuser());
        props.setProperty("password", server.password());
        props.setProperty("connectTimeout", "5");
        return DriverManager.getConnection(server.jdbcUrl(db), props);
    }

    private static String show(EmbeddedPostgres server, String setting) throws SQLException {
        try (Connection c = connect(server, "postgres"); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
