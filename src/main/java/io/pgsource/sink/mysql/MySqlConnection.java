package io.pgsource.sink.mysql;

import io.pgsource.config.DestinationSettings;
import io.pgsource.config.Secrets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one connection of the mysql destination (MariaDB's driver, autocommit off), opened on first use and again after
 * it broke. {@code jdbc:mysql://} URLs are served by the same driver ({@code permitMysqlScheme}), so MySQL Connector/J
 * is not needed. Every session runs in strict mode ({@code STRICT_ALL_TABLES}: a value a column cannot hold is an error,
 * never truncated), in UTC, with utf8mb4. Callers synchronize on this object for the duration of a transaction.
 */
final class MySqlConnection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlConnection.class);
    private static final Pattern SECRET_PARAMS = Pattern.compile("(?i)([?&](?:password|keyStorePassword|trustStorePassword)=)[^&]*");
    static final String SQL_MODE = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

    private final String url;
    /** The URL as configured, for messages. */
    private final String configured;
    private final String username;
    private final String password;
    private final MySqlTables tables;
    private Connection connection;
    private Boolean mariadb;
    private long maxAllowedPacket = 16L << 20;

    MySqlConnection(DestinationSettings settings) {
        if (settings.url() == null || settings.url().isBlank()) {
            throw new IllegalArgumentException("destination.url is not set: give the JDBC URL of the MySQL or MariaDB database,"
                    + " e.g. jdbc:mariadb://localhost:3306/warehouse");
        }
        this.configured = settings.url().strip();
        this.url = driverUrl(configured);
        this.username = settings.username();
        this.password = settings.password();
        this.tables = new MySqlTables(settings);
    }

    /**
     * The URL MariaDB's driver accepts: {@code jdbc:mysql:} gets {@code permitMysqlScheme}; anything but
     * {@code jdbc:mariadb:} or {@code jdbc:mysql:} is refused with the fix.
     */
    static String driverUrl(String url) {
        if (url.startsWith("jdbc:mariadb:")) {
            return url;
        }
        if (url.startsWith("jdbc:mysql:")) {
            return url.contains("permitMysqlScheme") ? url : url + (url.contains("?") ? "&" : "?") + "permitMysqlScheme";
        }
        throw new IllegalArgumentException("destination.url=" + safeUrl(url) + " is not a MySQL or MariaDB URL: destination=mysql"
                + " takes jdbc:mariadb://host:3306/database or jdbc:mysql://host:3306/database");
    }

    static String safeUrl(String url) {
        return SECRET_PARAMS.matcher(url).replaceAll("$1***");
    }

    String safeUrl() {
        return safeUrl(configured);
    }

    MySqlTables tables() {
        return tables;
    }

    /** The open connection, (re)connecting if there is none or it was closed. */
    Connection get() throws SQLException {
        if (connection == null || connection.isClosed()) {
            connection = open();
        }
        return connection;
    }

    /** The server's max_allowed_packet, as the last connection read it. */
    long maxAllowedPacket() {
        return maxAllowedPacket;
    }

    /** Whether there is no open connection (a failure dropped it). */
    boolean closed() {
        return connection == null;
    }

    /** Whether the server is MariaDB (else MySQL). */
    boolean mariadb() throws SQLException {
        get();
        return mariadb;
    }

    /** Rolls back after a failure, and drops the connection when the failure broke it; the next {@link #get} reconnects. */
    void failed(SQLException failure) {
        boolean broken = failure.getSQLState() == null || failure.getSQLState().startsWith("08");
        try {
            if (connection != null && !connection.isClosed()) {
                connection.rollback();
            }
            broken |= connection == null || !connection.isValid(5);
        } catch (SQLException e) {
            broken = true;
        }
        if (broken) {
            LOG.warn("connection to destination {} lost; reconnecting on the next batch", safeUrl());
            close();
        }
    }

    private Connection open() throws SQLException {
        Properties props = new Properties();
        if (username != null && !username.isEmpty()) {
            props.setProperty("user", username);
        }
        if (password != null && !password.isEmpty()) {
            props.setProperty("password", password);
        }
        Connection c;
        try {
            c = DriverManager.getConnection(url, props);
        } catch (SQLException e) {
            String message = Secrets.scrub(String.valueOf(e.getMessage()).replace(url, safeUrl()), password);
            String fix = switch (e.getErrorCode()) {
                case 1045 -> "check destination.username and destination.password";
                case 1049 -> "create the database (CREATE DATABASE ...) or fix its name in destination.url";
                default -> "check destination.url (host, port, database) and that the server is running";
            };
            throw new SQLException("cannot connect to the destination " + safeUrl() + ": " + message + " — " + fix, e.getSQLState(), e);
        }
        try (Statement s = c.createStatement()) {
            s.execute("SET SESSION sql_mode = '" + SQL_MODE + "', time_zone = '+00:00'");
        }
        c.setAutoCommit(false);
        try (Statement s = c.createStatement(); java.sql.ResultSet rs = s.executeQuery("SELECT @@max_allowed_packet")) {
            rs.next();
            maxAllowedPacket = rs.getLong(1);
        }
        mariadb = c.getMetaData().getDatabaseProductVersion().toLowerCase(java.util.Locale.ROOT).contains("mariadb");
        tables.collation(mariadb);
        LOG.info("connected to destination {}", safeUrl());
        return c;
    }

    @Override
    public void close() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException e) {
                LOG.debug("closing the destination connection", e);
            }
            connection = null;
        }
        tables.forget();
    }
}
