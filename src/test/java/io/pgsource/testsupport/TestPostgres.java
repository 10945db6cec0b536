package io.pgsource.testsupport;

import io.pgsource.change.TableId;
import io.pgsource.embedded.EmbeddedPostgres;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.postgresql.Driver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The PostgreSQL server tests talk to: one per test JVM, each test class makes its own database. Resolved once, in
 * this order: the server named by {@code PGSOURCE_TEST_JDBC_URL} (a superuser URL
 * {@code jdbc:postgresql://host:port/db?user=..&password=..}), else a Testcontainers {@code postgres:17} when Docker is
 * available, else the embedded launcher. Testcontainers and the embedded server run with {@code wal_level=logical}.
 */
public final class TestPostgres {
    /** Environment variable naming an existing server (superuser JDBC URL). */
    public static final String URL_ENV = "PGSOURCE_TEST_JDBC_URL";

    private static final Logger LOG = LoggerFactory.getLogger(TestPostgres.class);
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static TestPostgres server;

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

    private TestPostgres(Kind kind, String host, int port, String user, String password, EmbeddedPostgres embedded) {
        this.kind = kind;
        this.host = host;
        this.port = port;
        this.user = user;
        this.password = password;
        this.embedded = embedded;
    }

    /** The shared server (started on first use). */
    public static synchronized TestPostgres server() {
        if (server == null) {
            server = resolve();
            LOG.info("Tests use the {} PostgreSQL at {}:{} (user {})", server.kind, server.host, server.port, server.user);
        }
        return server;
    }

    private static TestPostgres resolve() {
        String url = System.getenv(URL_ENV);
        if (url != null && !url.isBlank()) {
            return fromUrl(url.trim());
        }
        if (dockerAvailable()) {
            try {
                return fromContainer();
            } catch (RuntimeException e) {
                // e.g. Docker runs but cannot pull the image (offline): the embedded server still works
                LOG.warn("Cannot start a postgres:17 container ({}); using the embedded PostgreSQL", e.toString());
            }
        }
        // prepared transactions (off by default) for the tests of INCREMENTAL's bound
        EmbeddedPostgres pg = EmbeddedPostgres.builder().testMode(true).setting("max_prepared_transactions", "10").start();
        return new TestPostgres(Kind.EMBEDDED, pg.host(), pg.port(), pg.superuser(), pg.password(), pg);
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
    private static TestPostgres fromContainer() {
        PostgreSQLContainer<?> container = new PostgreSQLContainer<>(DockerImageName.parse("postgres:17"))
                .withCommand("postgres", "-c", "wal_level=logical", "-c", "max_replication_slots=20",
                        "-c", "max_wal_senders=20", "-c", "fsync=off", "-c", "max_prepared_transactions=10");
        container.start();
        return new TestPostgres(Kind.TESTCONTAINERS, container.getHost(), container.getMappedPort(PostgreSQLContainer.POSTGRESQL_PORT),
                container.getUsername(), container.getPassword(), null);
    }

    public Kind kind() {
        return kind;
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
