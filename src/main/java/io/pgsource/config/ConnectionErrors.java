package io.pgsource.config;

import java.net.ConnectException;
import java.net.UnknownHostException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.sql.SQLException;
import javax.net.ssl.SSLException;

/**
 * Turns a failed connection into a message that says what is wrong and which setting fixes it.
 * Messages name host, port, database and user, never the password.
 */
public final class ConnectionErrors {

    private ConnectionErrors() {
    }

    /**
     * @param side      "source" or "destination": the key prefix of the settings to fix
     * @param target    where we connected, e.g. {@code db.example.com:5432/shop} or the destination's URL (no credentials)
     * @param user      the user name
     * @param password  the password, only to scrub it from any message that might echo it
     */
    public static SQLException explain(SQLException e, String side, String target, String user, String password) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String tls = tlsProblem(e, side);
        boolean destination = side.equals("destination");
        String message = tls != null ? "TLS connection to PostgreSQL at " + target + " failed: " + tls : switch (state) {
            case "28P01" -> "PostgreSQL at " + target + " rejected the password for user '" + user + "'. Check " + side
                    + ".password (or " + EffectiveProperties.envName(side + ".password") + ").";
            case "28000" -> "PostgreSQL at " + target + " does not allow user '" + user + "' to connect: "
                    + firstLine(e) + ". Add a matching line to pg_hba.conf (or check " + side + ".username and " + side + ".sslmode).";
            case "42501" -> notPermitted(e, side, target, user);
            case "3D000" -> "Database missing at " + target + ": " + firstLine(e) + ". Check "
                    + (destination ? "the database in destination.url" : "source.database") + ", or create it (CREATE DATABASE ...).";
            case "53300" -> "PostgreSQL at " + target + " has no free connection slots (max_connections reached). "
                    + "Close idle sessions or raise max_connections.";
            case "57P03" -> "PostgreSQL at " + target + " is starting up or shutting down; pgsource will retry. (" + firstLine(e) + ")";
            default -> unreachable(e, side, target);
        };
        SQLException explained = new SQLException(Secrets.scrub(message, password), e.getSQLState(), e.getErrorCode());
        explained.setStackTrace(e.getStackTrace());
        return explained;
    }

    /**
     * What is wrong with TLS and which setting fixes it, or null when the failure is not about TLS. {@code side} is the
     * key prefix ("source" or "destination").
     */
    public static String tlsProblem(SQLException e, String side) {
        String text = chainText(e);
        if (has(e, CertificateExpiredException.class) || text.contains("CertificateExpiredException")) {
            return "the server's certificate (or its CA's) has expired. Renew it on the server.";
        }
        if (has(e, CertPathBuilderException.class) || has(e, CertPathValidatorException.class) || text.contains("PKIX path")) {
            return "the server's certificate is not signed by a CA in " + side + ".sslrootcert. Set " + side
                    + ".sslrootcert to the file of the CA that issued the server's certificate.";
        }
        if (text.contains("could not be verified by hostnameverifier")) {
            String host = side.equals("destination") ? "the host in destination.url" : side + ".host";
            return "the server's certificate does not name the host pgsource connects to. Set " + host
                    + " to a name the certificate lists (its subjectAltName), or set " + side
                    + ".sslmode=verify-ca to check the CA only.";
        }
        if (text.contains("requires a valid client certificate")) {
            return "the server wants a client certificate. Set " + side + ".sslcert and " + side
                    + ".sslkey to the certificate (PEM) and key (PKCS-8 DER or PKCS-12) issued for this role.";
        }
        if (text.contains("SSL root certificate file")) {
            return firstLine(e) + " Set " + side + ".sslrootcert to a readable PEM file of the CA certificate(s).";
        }
        if (text.contains("SSL certificate file") || text.contains("SSL key")) {
            return firstLine(e) + " Check " + side + ".sslcert and " + side + ".sslkey (a PKCS-8 DER or PKCS-12 key file).";
        }
        if (text.contains("server does not support SSL")) {
            return "the server does not accept TLS, but " + side + ".sslmode asks for it. Enable ssl on the server, or change "
                    + side + ".sslmode.";
        }
        if (has(e, SSLException.class) || text.contains("SSL error")) {
            return firstLine(e) + " Check " + side + ".sslmode, " + side + ".sslrootcert, " + side + ".sslcert and " + side + ".sslkey.";
        }
        return null;
    }

    private static String notPermitted(SQLException e, String side, String target, String user) {
        String m = String.valueOf(e.getMessage());
        String role = '"' + user.replace("\"", "\"\"") + '"';
        if (m.contains("replication role") || m.contains("WAL sender")) {
            return "Role '" + user + "' may not open a replication connection to " + target + " (log replication needs it): run "
                    + "ALTER ROLE " + role + " WITH REPLICATION; as a superuser (on RDS: GRANT rds_replication TO " + role
                    + ";), or check " + side + ".username.";
        }
        if (m.contains("for database")) {
            // the server's first line names the database as it is: permission denied for database "shop"
            String line = firstLine(e);
            int at = line.indexOf("for database \"");
            int close = line.lastIndexOf('"');
            String database = at < 0 || close <= at + 14 ? "<database>"
                    : '"' + line.substring(at + 14, close).replace("\"", "\"\"") + '"';
            return "Role '" + user + "' may not connect to " + target + ": " + firstLine(e) + ". Run GRANT CONNECT ON DATABASE "
                    + database + " TO " + role + "; or check " + (side.equals("destination") ? "the database in destination.url"
                    : "source.database") + " and " + side + ".username.";
        }
        return "PostgreSQL at " + target + " refused role '" + user + "': " + firstLine(e) + ". Check " + side + ".username.";
    }

    private static boolean has(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static String chainText(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            sb.append(t.getClass().getName()).append(": ").append(t.getMessage()).append('\n');
        }
        return sb.toString();
    }

    private static String unreachable(SQLException e, String side, String target) {
        Throwable cause = e.getCause();
        boolean destination = side.equals("destination");
        if (destination && String.valueOf(e.getMessage()).startsWith("No suitable driver")) {
            return "destination.url=" + target + " is not a PostgreSQL JDBC URL. Write it as jdbc:postgresql://host:5432/database.";
        }
        if (cause instanceof UnknownHostException) {
            return "Cannot resolve the host of " + target + ". Check " + (destination ? "the host in destination.url" : "source.host") + ".";
        }
        if (cause instanceof ConnectException || (e.getSQLState() != null && e.getSQLState().startsWith("08"))) {
            return "Cannot reach PostgreSQL at " + target + " (" + firstLine(e) + "). Check "
                    + (destination ? "the host and port in destination.url" : "source.host and source.port")
                    + ", and that the server listens there (listen_addresses, firewall).";
        }
        return "Cannot connect to PostgreSQL at " + target + ": " + firstLine(e);
    }

    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).strip();
    }
}
