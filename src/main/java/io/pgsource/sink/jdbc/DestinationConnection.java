package io.pgsource.sink.jdbc;

import io.pgsource.config.ConnectionErrors;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.Secrets;
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
    /** Its transaction is held open for a source transaction in progress: any other use rolls it back first. */
    private boolean holding;
    /** Told when the transaction held open was rolled back (or lost with the connection) by something else. */
    private Runnable heldRolledBack;

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

    /**
     * The open connection, (re)connecting if there is none or it was closed. A transaction held open for a source
     * transaction in progress ({@link #hold}) is rolled back first: this use needs the connection for something else.
     */
    Connection get() throws SQLException {
        if (holding) {
            LOG.debug("rolling back the destination transaction held open for a source transaction in progress: the connection"
                    + " is needed for something else; that transaction is applied after its commit");
            Connection held = connection;
            endHolding();
            if (held != null) {
                JdbcPositionStore.rollbackQuietly(held);
            }
        }
        if (connection == null || connection.isClosed()) {
            connection = open();
        }
        return connection;
    }

    /** The connection as it is, without connecting: null when there is none. */
    Connection current() {
        return connection;
    }

    /**
     * The connection, whose transaction is held open from now on for a source transaction in progress: any other use
     * ({@link #get}) or losing the connection rolls it back, and then tells {@code rolledBack}.
     */
    Connection hold(Runnable rolledBack) throws SQLException {
        Connection c = get();
        holding = true;
        heldRolledBack = rolledBack;
        return c;
    }

    /** The connection whose transaction is held open, or null when none is (any more). */
    Connection held() {
        return holding ? connection : null;
    }

    /** The transaction held open ends here (the holder commits or rolls it back itself). */
    void release() {
        holding = false;
        heldRolledBack = null;
    }

    private void endHolding() {
        Runnable told = heldRolledBack;
        release();
        if (told != null) {
            told.run();
        }
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
            String message = String.valueOf(e.getMessage());
            // a URL may carry credentials in its parameters: never in a message
            SQLException safe = message.contains(url) || (password != null && !password.isEmpty() && message.contains(password))
                    ? new SQLException(Secrets.scrub(message.replace(url, safeUrl()), password), e.getSQLState(), e.getCause()) : e;
            throw ConnectionErrors.explain(safe, "destination", safeUrl(), username, password);
        }
        c.setAutoCommit(false);
        LOG.info("connected to destination {}", safeUrl());
        return c;
    }

    @Override
    public void close() {
        if (holding) {
            endHolding(); // closing the connection rolls it back
        }
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
