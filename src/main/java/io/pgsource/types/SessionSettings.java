package io.pgsource.types;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The session parameters every source connection runs with, so PostgreSQL's text output is the same on every
 * path (batch query via {@code ResultSet.getString}, and pgoutput in text mode, whose output functions run in the
 * walsender under its session settings) and the decoders in this package can rely on it.
 *
 * <p>Use both: {@link #jdbcProperties()} when connecting, then {@link #apply(Connection)}. The startup
 * {@code options} alone are not enough: pgjdbc sends its own {@code TimeZone} (the JVM's zone) as a startup
 * parameter, and PostgreSQL applies startup parameters after {@code options}, so only a {@code SET} afterwards
 * makes the zone UTC.
 */
public final class SessionSettings {
    /** Parameter name → value, in the order they are applied. */
    public static final Map<String, String> PARAMETERS;

    static {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("DateStyle", "ISO, MDY"); // pgjdbc insists on ISO; MDY is PostgreSQL's default and irrelevant to output
        p.put("IntervalStyle", "iso_8601");
        p.put("TimeZone", "UTC");
        p.put("extra_float_digits", "3");
        p.put("bytea_output", "hex");
        p.put("lc_monetary", "C");
        PARAMETERS = java.util.Collections.unmodifiableMap(p);
    }

    private SessionSettings() {
    }

    /**
     * pgjdbc connection properties: {@code binaryTransfer=false} (so {@code getString} returns PostgreSQL's text
     * output) and the parameters as startup {@code options}. Add user, password and SSL settings to the copy.
     */
    public static Properties jdbcProperties() {
        Properties p = new Properties();
        p.setProperty("binaryTransfer", "false");
        p.setProperty("options", options());
        return p;
    }

    /** {@code -c DateStyle=ISO,\ MDY -c IntervalStyle=iso_8601 ...}: the startup options form. */
    public static String options() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : PARAMETERS.entrySet()) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            // a space inside a value is escaped with a backslash in the options string
            sb.append("-c ").append(e.getKey()).append('=').append(e.getValue().replace(" ", "\\ "));
        }
        return sb.toString();
    }

    /**
     * Sets the parameters in the connection's session (also on a replication connection). Call it right after
     * connecting: a SET is transactional, so with autocommit off this commits.
     */
    public static void apply(Connection connection) throws SQLException {
        StringBuilder sql = new StringBuilder();
        for (Map.Entry<String, String> e : PARAMETERS.entrySet()) {
            // constants of this class, not user input
            sql.append("SET ").append(e.getKey()).append(" = '").append(e.getValue()).append("';");
        }
        try (Statement s = connection.createStatement()) {
            s.execute(sql.toString());
        }
        if (!connection.getAutoCommit()) {
            connection.commit();
        }
    }

    /**
     * The parameters whose current value differs from ours (name → current value); empty when all hold.
     * TimeZone counts as held for {@code UTC} and its aliases {@code Etc/UTC}, {@code UCT}, {@code Etc/UCT}.
     */
    public static Map<String, String> differences(Connection connection) throws SQLException {
        Map<String, String> diff = new LinkedHashMap<>();
        try (Statement s = connection.createStatement()) {
            for (Map.Entry<String, String> e : PARAMETERS.entrySet()) {
                try (ResultSet rs = s.executeQuery("SHOW " + e.getKey())) {
                    rs.next();
                    String current = rs.getString(1);
                    if (!same(e.getKey(), e.getValue(), current)) {
                        diff.put(e.getKey(), current);
                    }
                }
            }
        }
        return diff;
    }

    private static boolean same(String name, String wanted, String current) {
        if (name.equals("TimeZone")) {
            return current.equalsIgnoreCase("UTC") || current.equalsIgnoreCase("Etc/UTC")
                    || current.equalsIgnoreCase("UCT") || current.equalsIgnoreCase("Etc/UCT");
        }
        return wanted.equalsIgnoreCase(current);
    }
}
