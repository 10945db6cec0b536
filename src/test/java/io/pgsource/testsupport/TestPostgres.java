package io.pgsource.testsupport;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The PostgreSQL server tests talk to: one per test JVM, each test class makes its own database.
 * STUB: only PGSOURCE_TEST_JDBC_URL for now; the embedded work adds Testcontainers and the embedded launcher.
 */
public final class TestPostgres {
    private static TestPostgres server;
    private static final AtomicInteger COUNTER = new AtomicInteger();

    private final String host;
    private final int port;
    private final String user;
    private final String password;

    private TestPostgres(String host, int port, String user, String password) {
        this.host = host;
        this.port = port;
        this.user = user;
        this.password = password;
    }

    /** The shared server (started on first use). */
    public static synchronized TestPostgres server() {
        if (server == null) {
            String url = System.getenv("PGSOURCE_TEST_JDBC_URL");
            if (url == null) {
                throw new IllegalStateException("set PGSOURCE_TEST_JDBC_URL");
            }
            // jdbc:postgresql://host:port/db?user=..&password=..
            String rest = url.substring("jdbc:postgresql://".length());
            String hostPort = rest.substring(0, rest.indexOf('/'));
            String query = rest.contains("?") ? rest.substring(rest.indexOf('?') + 1) : "";
            String u = "postgres";
            String p = "";
            for (String kv : query.split("&")) {
                if (kv.startsWith("user=")) {
                    u = kv.substring(5);
                } else if (kv.startsWith("password=")) {
                    p = kv.substring(9);
                }
            }
            String[] hp = hostPort.split(":");
            server = new TestPostgres(hp[0], hp.length > 1 ? Integer.parseInt(hp[1]) : 5432, u, p);
        }
        return server;
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
        return "jdbc:postgresql://" + host + ":" + port + "/" + database;
    }

    /** A superuser connection to a database of this server. */
    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(jdbcUrl(database), user, password);
    }

    /** Creates a fresh, uniquely named database (prefix plus a counter) and returns its name. */
    public String createDatabase(String prefix) {
        String name = (prefix + "_" + ProcessHandle.current().pid() + "_" + COUNTER.incrementAndGet()).toLowerCase(Locale.ROOT);
        try (Connection c = connect("postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE \"" + name + "\"");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create test database " + name, e);
        }
        return name;
    }
}
