package io.pgsource.testsupport;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Compares a PostgreSQL source table with its copy in MySQL/MariaDB made by the mysql destination: every row as a
 * multiset, each value brought to one text form on both sides by its type, so a difference is a real one:
 * <ul>
 * <li>boolean: {@code 1} / {@code 0} (MySQL's BOOLEAN is TINYINT(1));</li>
 * <li>timestamptz: the UTC time, {@code YYYY-MM-DD HH:MM:SS.ffffff} (the destination holds DATETIME(6) in UTC);
 * timestamp likewise, as it is; date {@code YYYY-MM-DD}; time {@code HH:MM:SS.ffffff};</li>
 * <li>real and double precision: parsed as a float or double on both sides and printed by Java (the two servers
 * print the same number differently: {@code 1e+20} and {@code 1e20}; MySQL prints a FLOAT with 6 digits, so it is read
 * as a DOUBLE, which holds the float exactly);</li>
 * <li>interval: PostgreSQL's ISO 8601 form ({@code IntervalStyle = iso_8601}), which the destination holds;</li>
 * <li>bytea: lower-case hex;</li>
 * <li>char(n): with its padding, as PostgreSQL outputs it (a cast to text would drop it);</li>
 * <li>everything else (integers, numeric in DECIMAL or in text, text, json/jsonb, arrays, uuid …), and any value in a
 * destination column of a text type (pgsource writes PostgreSQL's text form there, e.g. a date column a user declared
 * as text to hold BC dates): PostgreSQL's text form as it is, which the destination's DECIMAL prints the same way
 * (same scale) and its text columns hold.</li>
 * </ul>
 */
public final class MySqlCompare {
    private MySqlCompare() {
    }

    /** What differs: counts, and a few rows found on one side only (empty when equal). */
    public static String difference(Connection pg, String schema, Connection mysql, String table) throws SQLException {
        Map<String, String> types = pgTypes(pg, schema, table);
        Map<String, String> held = mysqlTypes(mysql, table);
        StringBuilder pgSql = new StringBuilder("SELECT ");
        StringBuilder mySql = new StringBuilder("SELECT ");
        List<String> kinds = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, String> column : types.entrySet()) {
            String q = "\"" + column.getKey().replace("\"", "\"\"") + "\"";
            String m = "`" + column.getKey().replace("`", "``") + "`";
            String type = column.getValue();
            String kind = type.equals("real") ? "float" : type.equals("double precision") ? "double" : "";
            kinds.add(kind);
            boolean text = TEXT_TYPES.contains(held.getOrDefault(column.getKey(), ""));
            // char(n)::text drops the padding, which the value (and so the destination) has: format() keeps it
            String pgText = type.equals("character") ? "CASE WHEN " + q + " IS NOT NULL THEN format('%s', " + q + ") END" : q + "::text";
            String[] forms = text ? new String[] {pgText, m} : switch (type) {
                case "boolean" -> new String[] {"CASE WHEN " + q + " THEN '1' WHEN NOT " + q + " THEN '0' END", "CAST(" + m + " AS CHAR)"};
                case "timestamp with time zone" -> new String[] {"to_char(" + q + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
                        "DATE_FORMAT(" + m + ", '%Y-%m-%d %H:%i:%s.%f')"};
                case "timestamp without time zone" -> new String[] {"to_char(" + q + ", 'YYYY-MM-DD HH24:MI:SS.US')",
                        "DATE_FORMAT(" + m + ", '%Y-%m-%d %H:%i:%s.%f')"};
                case "date" -> new String[] {"to_char(" + q + ", 'YYYY-MM-DD')", "CAST(" + m + " AS CHAR)"};
                case "time without time zone" -> new String[] {"to_char(" + q + ", 'HH24:MI:SS.US')", "TIME_FORMAT(" + m + ", '%H:%i:%s.%f')"};
                // MySQL prints a FLOAT with 6 digits: as a double it shows the float's exact value
                case "real" -> new String[] {q + "::text", "CAST(" + m + " AS DOUBLE)"};
                case "bytea" -> new String[] {"encode(" + q + ", 'hex')", "LOWER(HEX(" + m + "))"};
                default -> new String[] {pgText, "CAST(" + m + " AS CHAR)"};
            };
            pgSql.append(i == 0 ? "" : ", ").append(forms[0]);
            mySql.append(i == 0 ? "" : ", ").append(forms[1]);
            i++;
        }
        pgSql.append(" FROM \"").append(schema.replace("\"", "\"\"")).append("\".\"").append(table.replace("\"", "\"\"")).append('"');
        mySql.append(" FROM `").append(table.replace("`", "``")).append('`');
        Map<String, Integer> counts = new HashMap<>();
        int sourceRows;
        int targetRows;
        try (Statement s = pg.createStatement()) {
            s.execute("SET IntervalStyle = 'iso_8601'");
            s.execute("SET DateStyle = 'ISO, YMD'");
            s.execute("SET TimeZone = 'UTC'");
            s.execute("SET extra_float_digits = 1");
            sourceRows = read(s, pgSql.toString(), kinds, counts, 1);
        }
        try (Statement s = mysql.createStatement()) {
            targetRows = read(s, mySql.toString(), kinds, counts, -1);
        }
        List<String> onlySource = new ArrayList<>();
        List<String> onlyTarget = new ArrayList<>();
        counts.forEach((row, n) -> {
            if (n > 0 && onlySource.size() < 3) {
                onlySource.add(n + "× " + abbreviate(row));
            } else if (n < 0 && onlyTarget.size() < 3) {
                onlyTarget.add(-n + "× " + abbreviate(row));
            }
        });
        if (onlySource.isEmpty() && onlyTarget.isEmpty()) {
            return "";
        }
        return table + ": " + sourceRows + " source rows, " + targetRows + " destination rows; only at the source: " + onlySource
                + "; only at the destination: " + onlyTarget;
    }

    private static int read(Statement s, String sql, List<String> kinds, Map<String, Integer> counts, int sign) throws SQLException {
        int rows = 0;
        try (ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int c = 0; c < kinds.size(); c++) {
                    String v = rs.getString(c + 1);
                    if (v != null && kinds.get(c).equals("float")) {
                        v = Float.toString(Float.parseFloat(v));
                    } else if (v != null && kinds.get(c).equals("double")) {
                        v = Double.toString(Double.parseDouble(v));
                    }
                    row.append(c == 0 ? "" : "\u0001").append(v == null ? "\u0000NULL" : v);
                }
                counts.merge(row.toString(), sign, Integer::sum);
                rows++;
            }
        }
        counts.values().removeIf(n -> n == 0);
        return rows;
    }

    private static String abbreviate(String row) {
        String r = row.replace('\u0001', '|');
        return r.length() > 600 ? r.substring(0, 600) + "…" : r;
    }

    private static final java.util.Set<String> TEXT_TYPES = java.util.Set.of("char", "varchar", "tinytext", "text", "mediumtext", "longtext");

    /** The DATA_TYPE of each column of a destination table. */
    private static Map<String, String> mysqlTypes(Connection mysql, String table) throws SQLException {
        Map<String, String> out = new HashMap<>();
        try (PreparedStatement ps = mysql.prepareStatement("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS"
                + " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?")) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getString(2).toLowerCase(Locale.ROOT));
                }
            }
        }
        return out;
    }

    /** The columns of a source table and their types (format_type, lower case), in order. */
    private static Map<String, String> pgTypes(Connection pg, String schema, String table) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (PreparedStatement ps = pg.prepareStatement("SELECT a.attname, pg_catalog.format_type(a.atttypid, NULL)"
                + " FROM pg_catalog.pg_attribute a WHERE a.attrelid = (quote_ident(?) || '.' || quote_ident(?))::regclass"
                + " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getString(2).toLowerCase(Locale.ROOT));
                }
            }
        }
        return out;
    }
}
