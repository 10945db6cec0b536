package io.pgsource.sink.jdbc;

import io.pgsource.config.ConnectionErrors;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.SslSettings;
import io.pgsource.types.SessionSettings;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one pgjdbc connection of a table destination (autocommit off), opened on first use and again after it broke.
 * Connection failures become errors that name the destination (without credentials) and the fix, never the
 * password. Callers synchronize on this object for the duration of a transaction.
 */
final class DestinationConnection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DestinationConnection.class);
    /** Query parameters that may carry secrets; they are cut out of the URL before it goes into a message. */
    private static final Pattern SECRET_PARAMS = Pattern.compile("(?i)([?&](?:password|sslpassword|sslkey)=)[^&]*");

    private final String url;
    private final String username;
    private final String password;
    private final SslSettings ssl;
    private Connection connection;

    DestinationConnection(DestinationSettings settings) {
        if (settings.url() == null || settings.url().isBlank()) {
            throw new IllegalArgumentException("destination.url is not set: give the JDBC URL of the destination "
                    + "database, e.g. jdbc:postgresql://localhost:5432/warehouse");
        }
        this.url = settings.url().strip();
        this.username = settings.username();
        this.password = settings.password();
        this.ssl = settings.ssl() == null ? SslSettings.NONE : settings.ssl();
    }

    /** The destination URL without any credential, safe for messages and logs. */
    String safeUrl() {
        return safeUrl(url);
    }

    static String safeUrl(String url) {
        return SECRET_PARAMS.matcher(url).replaceAll("$1***");
    }

    /** The open connection, (re)connecting if there is none or it was closed. */
    Connection get() throws SQLException {
        if (connection == null || connection.isClosed()) {
            connection = open();
        }
        return connection;
    }

    /** Drops the connection after a failure that broke it (true then); the next {@link #get} reconnects. */
    boolean discardIfBroken(SQLException failure) {
        String state = failure.getSQLState();
        boolean broken = state == null || state.startsWith("08") || state.startsWith("57P");
        try {
            broken |= connection == null || connection.isClosed() || !connection.isValid(5);
        } catch (SQLException e) {
            broken = true;
        }
        if (broken) {
            LOG.warn("connection to destination {} lost; reconnecting on the next batch", safeUrl());
            close();
        }
        return broken;
    }

    private Connection open() throws SQLException {
        Properties props = new Properties();
        if (username != null && !username.isEmpty()) {
            props.setProperty("user", username);
        }
        if (password != null && !password.isEmpty()) {
            props.setProperty("password", password);
        }
        // destination.sslmode etc.; parameters written into destination.url win over these (pgjdbc's rule)
        ssl.applyTo(props);
        // the same session settings as the source, so text forms and comparisons behave the same on both sides
        props.setProperty("options", SessionSettings.options());
        props.setProperty("ApplicationName", "pgsource");
        Connection c;
        try {
            c = DriverManager.getConnection(url, props);
        } catch (SQLException e) {
            throw new SQLException(describe(e), e.getSQLState(), redactedCause(e));
        }
        c.setAutoCommit(false);
        LOG.info("connected to destination {}", safeUrl());
        return c;
    }

    private String describe(SQLException e) {
        String who = username == null || username.isEmpty() ? "" : " as user \"" + username + "\"";
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String tls = ConnectionErrors.tlsProblem(e, "destination");
        if (tls != null) {
            return "cannot connect to the destination " + safeUrl() + who + " over TLS: " + tls;
        }
        String fix = switch (state) {
            case "28P01" -> "the password was rejected: set destination.password to the password of destination.username";
            case "28000" -> "the user or this client is not allowed in: check destination.username and the server's pg_hba.conf";
            case "3D000" -> "the database does not exist: create it or fix the database name in destination.url";
            case "08001", "08004", "08006" -> "check the host and port in destination.url and that the server is running and reachable";
            default -> "check destination.url, destination.username and destination.password";
        };
        return "cannot connect to the destination " + safeUrl() + who + ": " + redact(e.getMessage()) + " — " + fix;
    }

    /** The driver's exception, unless its message somehow contains the password (then a plain copy without it). */
    private SQLException redactedCause(SQLException e) {
        if (password == null || password.isEmpty() || e.getMessage() == null || !e.getMessage().contains(password)) {
            return e;
        }
        return new SQLException(redact(e.getMessage()), e.getSQLState());
    }

    private String redact(String message) {
        if (message == null) {
            return "";
        }
        String m = password == null || password.isEmpty() ? message : message.replace(password, "***");
        return m.replace(url, safeUrl());
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
    }
}
