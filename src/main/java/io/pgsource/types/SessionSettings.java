package io.pgsource.types;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;

/** STUB (the types work owns this file): the session settings that make PostgreSQL's text output deterministic. */
public final class SessionSettings {
    private SessionSettings() {
    }

    public static Properties jdbcProperties() {
        Properties p = new Properties();
        p.setProperty("binaryTransfer", "false");
        return p;
    }

    public static void apply(Connection c) throws SQLException {
        try (var s = c.createStatement()) {
            s.execute("SET DateStyle = ISO; SET IntervalStyle = iso_8601; SET TimeZone = 'UTC'; SET extra_float_digits = 3; "
                    + "SET bytea_output = hex; SET lc_monetary = 'C'");
        }
    }
}
