package io.pgsource.config;

import java.net.ConnectException;
import java.net.UnknownHostException;
import java.sql.SQLException;

/**
 * Turns a failed connection into a message that says what is wrong and which setting fixes it.
 * Messages name host, port, database and user, never the password.
 */
public final class ConnectionErrors {

    private ConnectionErrors() {
    }

    /**
     * @param side      "source" or "destination": the key prefix of the settings to fix
     * @param target    where we connected, e.g. {@code db.example.com:5432/shop} (no credentials)
     * @param user      the user name
     * @param password  the password, only to scrub it from any message that might echo it
     */
    public static SQLException explain(SQLException e, String side, String target, String user, String password) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String message = switch (state) {
            case "28P01" -> "PostgreSQL at " + target + " rejected the password for user '" + user + "'. Check " + side
                    + ".password (or " + EffectiveProperties.envName(side + ".password") + ").";
            case "28000" -> "PostgreSQL at " + target + " does not allow user '" + user + "' to connect: "
                    + firstLine(e) + ". Add a matching line to pg_hba.conf (or check " + side + ".username and " + side + ".sslmode).";
            case "3D000" -> "Database missing at " + target + ": " + firstLine(e) + ". Check " + side
                    + ".database, or create it (CREATE DATABASE ...).";
            case "53300" -> "PostgreSQL at " + target + " has no free connection slots (max_connections reached). "
                    + "Close idle sessions or raise max_connections.";
            case "57P03" -> "PostgreSQL at " + target + " is starting up or shutting down; pgsource will retry. (" + firstLine(e) + ")";
            default -> unreachable(e, side, target);
        };
        SQLException explained = new SQLException(Secrets.scrub(message, password), e.getSQLState(), e.getErrorCode());
        explained.setStackTrace(e.getStackTrace());
        return explained;
    }

    private static String unreachable(SQLException e, String side, String target) {
        Throwable cause = e.getCause();
        if (cause instanceof UnknownHostException) {
            return "Cannot resolve the host of " + target + ". Check " + side + ".host.";
        }
        if (cause instanceof ConnectException || (e.getSQLState() != null && e.getSQLState().startsWith("08"))) {
            return "Cannot reach PostgreSQL at " + target + " (" + firstLine(e) + "). Check " + side + ".host and " + side
                    + ".port, and that the server listens there (listen_addresses, firewall).";
        }
        return "Cannot connect to PostgreSQL at " + target + ": " + firstLine(e);
    }

    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).strip();
    }
}
