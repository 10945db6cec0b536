package io.pgsource.app;

import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.Destination;
import io.pgsource.sink.Destinations;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The zero-config run: an embedded PostgreSQL with a demo database (schemas shop and crm) standing in for the source
 * that {@code source.host} would name.
 *
 * <p>The demo database is kept between runs, so a run continues where the one before stopped (the slot, the
 * positions, the rows changed meanwhile), as with a real source: in {@code demo.directory}, by default a directory of
 * the system's temporary directory named after the user and the destination (its output directory, or its URL), so
 * each output has its own demo database. Only one run at a time uses it (a lock file next to it).
 *
 * <p>When that database is gone (the temporary directory was cleaned, a newer pgsource ships another demo.sql or
 * another PostgreSQL version) a new one is created, and a {@code jsonl} output written from the old one is started
 * over: its files are moved aside into a {@code replaced-<time>} directory, saying so, because positions of another
 * database would make the stream skip changes or stop with a lost slot. The output remembers which demo database it
 * holds in {@value #MARKER}.
 */
final class DemoSource implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DemoSource.class);
    static final String DATABASE = "demo";
    static final List<String> SCHEMAS = List.of("shop", "crm");
    /** In a jsonl output: the system identifier of the demo database it was written from. */
    static final String MARKER = "_pgsource-demo-source.txt";
    /** In the kept directory: the superuser's password and the demo.sql the database was made with; written last. */
    private static final String KEPT = "pgsource-demo.properties";

    private final EmbeddedPostgres postgres;
    private final Path directory;
    private final FileChannel lock;
    private final String systemIdentifier;

    private DemoSource(EmbeddedPostgres postgres, Path directory, FileChannel lock, String systemIdentifier) {
        this.postgres = postgres;
        this.directory = directory;
        this.lock = lock;
        this.systemIdentifier = systemIdentifier;
    }

    /**
     * Where the demo database of this configuration is kept: {@code demo.directory}, or the system's temporary directory
     * (traversable by the unprivileged user PostgreSQL runs as when the JVM runs as root).
     */
    static Path directory(Properties props, Settings configured) {
        String set = props.getProperty("demo.directory", "").strip();
        if (!set.isEmpty()) {
            return Path.of(set).toAbsolutePath().normalize();
        }
        DestinationSettings d = configured.destination();
        String output = Destinations.create(d.kind()).outputIdentity(d);
        String name = "pgsource-demo-" + System.getProperty("user.name").replaceAll("[^A-Za-z0-9_.-]", "_") + "-"
                + sha256(d.kind() + "\n" + output).substring(0, 12);
        return Path.of(System.getProperty("java.io.tmpdir")).resolve(name);
    }

    static DemoSource start(Path directory) throws SQLException, IOException {
        FileChannel lock = lock(directory);
        try {
            LOG.info("source.host is not set: the source is an embedded PostgreSQL with a demo database ({} with schemas {}), kept"
                    + " in {} between runs (delete that directory to start with a new one)", DATABASE, SCHEMAS, directory);
            String demoSql = demoSql();
            EmbeddedPostgres postgres = resume(directory, demoSql);
            if (postgres == null) {
                postgres = create(directory, demoSql);
            } else {
                LOG.info("Demo database: the one the last run left, as it was then");
            }
            try {
                return new DemoSource(postgres, directory, lock, systemIdentifier(postgres));
            } catch (SQLException | RuntimeException e) {
                postgres.close();
                throw e;
            }
        } catch (IOException | SQLException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /** Keeps other runs out of the demo database while this one uses it. */
    private static FileChannel lock(Path directory) throws IOException {
        Path file = directory.resolveSibling(directory.getFileName() + ".lock");
        Files.createDirectories(file.getParent());
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held;
        try {
            held = channel.tryLock();
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (held == null) {
            channel.close();
            throw new ConfigurationException("Another pgsource demo run uses the demo database in " + directory
                    + " (and its output): stop that run first, or give this one another destination.directory or demo.directory");
        }
        return channel;
    }

    /** The kept demo database started again, or null when there is none that can be (then it is removed). */
    private static EmbeddedPostgres resume(Path directory, String demoSql) throws IOException {
        Path keptFile = directory.resolve(KEPT);
        if (!Files.exists(directory)) {
            return null;
        }
        String why;
        if (!Files.exists(keptFile)) {
            why = "it was not completed";
        } else {
            Properties kept = new Properties();
            try (Reader r = Files.newBufferedReader(keptFile, StandardCharsets.UTF_8)) {
                kept.load(r);
            }
            if (!sha256(demoSql).equals(kept.getProperty("demo_sql_sha256"))) {
                why = "this pgsource ships another demo.sql";
            } else {
                try {
                    return EmbeddedPostgres.builder().keptIn(directory, kept.getProperty("password")).start();
                } catch (RuntimeException e) {
                    // the server log's last line says why (files of another PostgreSQL version, a damaged cluster)
                    why = "it does not start: " + String.valueOf(e.getMessage()).lines().filter(l -> !l.isBlank()).reduce((a, b) -> b)
                            .orElse("").strip();
                }
            }
        }
        LOG.warn("The demo database in {} cannot be used ({}): creating a new one", directory, why);
        EmbeddedPostgres.deleteKept(directory);
        return null;
    }

    private static EmbeddedPostgres create(Path directory, String demoSql) throws SQLException, IOException {
        EmbeddedPostgres postgres = EmbeddedPostgres.builder().keptIn(directory, null).start();
        try {
            postgres.createDatabase(DATABASE);
            try (Connection c = DriverManager.getConnection(postgres.jdbcUrl(DATABASE), postgres.superuser(), postgres.password());
                 Statement s = c.createStatement()) {
                s.execute(demoSql);
            }
            LOG.info("Demo database: created");
            // written last: a directory without it holds no complete demo database
            Properties kept = new Properties();
            kept.setProperty("password", postgres.password());
            kept.setProperty("demo_sql_sha256", sha256(demoSql));
            Path file = directory.resolve(KEPT);
            Files.deleteIfExists(file);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
                kept.store(w, "pgsource's demo database (the superuser's password: the server listens on 127.0.0.1 only)");
            }
        } catch (SQLException | IOException | RuntimeException e) {
            postgres.close();
            EmbeddedPostgres.deleteKept(directory);
            throw e;
        }
        return postgres;
    }

    /**
     * The properties that point the source (and an unset postgres destination) at the embedded server; they
     * override what the user configured for the source, which names no server in demo mode. A jsonl output written
     * from another demo database is started over first.
     */
    Properties overrides(Settings configured) throws Exception {
        Properties p = new Properties();
        p.setProperty("source.host", postgres.host());
        p.setProperty("source.port", Integer.toString(postgres.port()));
        p.setProperty("source.database", DATABASE);
        p.setProperty("source.username", postgres.superuser());
        p.setProperty("source.password", postgres.password());
        p.setProperty("source.password_file", "");
        p.setProperty("source.schema", String.join(",", SCHEMAS));
        p.setProperty("source.sslmode", "");
        if (configured.source().replicationKey() == null && configured.source().replicationMethod() == ReplicationMethod.INCREMENTAL) {
            p.setProperty("source.replication_key", "updated_at");
        }
        DestinationSettings d = configured.destination();
        Destinations.create(d.kind()).demo(new Destination.DemoServer() {
            @Override
            public String database(String name) throws SQLException {
                if (!databaseExists(name)) {
                    postgres.createDatabase(name);
                }
                return postgres.jdbcUrl(name);
            }

            @Override
            public String user() {
                return postgres.superuser();
            }

            @Override
            public String password() {
                return postgres.password();
            }

            @Override
            public void claimDirectory(Path directory) throws IOException {
                claimOutput(directory);
            }
        }, d, p);
        return p;
    }

    /**
     * Makes the jsonl output this demo database's: one written from another demo database (or from before the output
     * named its source) is moved aside, since its positions do not belong to this one.
     */
    private void claimOutput(Path output) throws IOException {
        Path marker = output.resolve(MARKER);
        String holds = Files.exists(marker) ? Files.readString(marker, StandardCharsets.UTF_8).lines().findFirst().orElse("").strip() : null;
        if (systemIdentifier.equals(holds)) {
            return;
        }
        List<Path> written = new ArrayList<>();
        if (Files.isDirectory(output)) {
            try (Stream<Path> files = Files.list(output)) {
                // the files of a destination writing here, and its positions files (_pgsource-*.json)
                files.filter(f -> Files.isRegularFile(f) && (f.getFileName().toString().endsWith(".jsonl")
                        || f.getFileName().toString().startsWith("_pgsource-")
                        || f.getFileName().toString().equals(MARKER))).sorted().forEach(written::add);
            }
        }
        if (!written.isEmpty()) {
            Path aside = output.resolve("replaced-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
            Files.createDirectories(aside);
            for (Path f : written) {
                Files.move(f, aside.resolve(f.getFileName()));
            }
            LOG.warn("{} holds the output of {}, not of the demo database in {}: starting the output over (its {} file(s) moved to {})",
                    output.toAbsolutePath().normalize(), holds == null ? "another source" : "an earlier demo database (gone since)",
                    directory, written.size(), aside.toAbsolutePath().normalize());
        }
        Files.createDirectories(output);
        Files.writeString(marker, systemIdentifier + "\nthe system identifier of the demo database this output was written from ("
                + directory + ")\n", StandardCharsets.UTF_8);
    }

    private boolean databaseExists(String name) throws SQLException {
        try (Connection c = DriverManager.getConnection(postgres.jdbcUrl(DATABASE), postgres.superuser(), postgres.password());
             var ps = c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Tells this database apart from any other: initdb picks it at random. */
    private static String systemIdentifier(EmbeddedPostgres postgres) throws SQLException {
        try (Connection c = DriverManager.getConnection(postgres.jdbcUrl(DATABASE), postgres.superuser(), postgres.password());
             Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT system_identifier FROM pg_control_system()")) {
            rs.next();
            return rs.getString(1);
        }
    }

    String describe() {
        return "embedded PostgreSQL at " + postgres.host() + ":" + postgres.port() + " (user " + postgres.superuser() + ")";
    }

    Path directory() {
        return directory;
    }

    /** See {@link EmbeddedPostgres#closeAtJvmExitAfter}. */
    void closeAtJvmExitAfter(java.time.Duration grace) {
        postgres.closeAtJvmExitAfter(grace);
    }

    @Override
    public void close() {
        try {
            postgres.close();
        } finally {
            try {
                lock.close();
            } catch (IOException e) {
                LOG.debug("releasing the lock of the demo database", e);
            }
        }
    }

    private static String demoSql() throws IOException {
        try (InputStream sql = DemoSource.class.getResourceAsStream("/demo/demo.sql")) {
            return new String(sql.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
