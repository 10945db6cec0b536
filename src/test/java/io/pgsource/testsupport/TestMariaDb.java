package io.pgsource.testsupport;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Assumptions;

/**
 * The MySQL/MariaDB server the mysql destination's tests write to: {@code PGSOURCE_TEST_MYSQL_HOST}/{@code _PORT}/
 * {@code _USER}/{@code _PASSWORD}, by default 127.0.0.1:3306, root, no password (the development and CI machines run
 * MariaDB there). A test that needs it is skipped, with a message, when nothing listens there. Each test makes its own
 * database ({@link #createDatabase}) and drops it ({@link #dropDatabase}).
 */
public final class TestMariaDb {
    public final String host = env("PGSOURCE_TEST_MYSQL_HOST", "127.0.0.1");
    public final int port = Integer.parseInt(env("PGSOURCE_TEST_MYSQL_PORT", "3306"));
    public final String user = env("PGSOURCE_TEST_MYSQL_USER", "root");
    public final String password = env("PGSOURCE_TEST_MYSQL_PASSWORD", "");

    private TestMariaDb() {
    }

    /** The server, or the test is skipped (JUnit assumption) when none listens. */
    public static TestMariaDb server() {
        TestMariaDb m = new TestMariaDb();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(m.host, m.port), 1_000);
        } catch (Exception e) {
            Assumptions.abort("no MySQL/MariaDB server at " + m.host + ":" + m.port + " (" + e.getMessage()
                    + "): the mysql destination's tests need one (set PGSOURCE_TEST_MYSQL_HOST/_PORT/_USER/_PASSWORD)");
        }
        return m;
    }

    /** A JDBC URL of a database on this server (through another host and port, e.g. a proxy, when given). */
    public String url(String database) {
        return url(host, port, database);
    }

    public String url(String viaHost, int viaPort, String database) {
        return "jdbc:mariadb://" + viaHost + ":" + viaPort + "/" + database;
    }

    public Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(url(database), user, password);
    }

    /** Creates a database named after the prefix and this JVM (dropped first if a killed run left it). */
    public String createDatabase(String prefix) throws SQLException {
        String name = prefix + "_" + ProcessHandle.current().pid();
        try (Connection c = DriverManager.getConnection(url(""), user, password); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS `" + name + "`");
            s.execute("CREATE DATABASE `" + name + "`");
        }
        return name;
    }

    public void dropDatabase(String name) throws SQLException {
        try (Connection c = DriverManager.getConnection(url(""), user, password); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS `" + name + "`");
        }
    }

    private static String env(String key, String fallback) {
        String v = System.getenv(key);
        return v == null || v.isBlank() ? fallback : v;
    }
}
