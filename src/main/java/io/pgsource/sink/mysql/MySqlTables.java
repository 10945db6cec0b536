package io.pgsource.sink.mysql;

import io.pgsource.change.Column;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.mysql.MySqlTypes.Kind;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Creates the destination tables from the source's table schemas and adds the columns the source gains. MySQL commits
 * every DDL statement on its own (an implicit COMMIT), so this runs before the batch's transaction starts, and every
 * statement is one a replay can run again ({@code CREATE TABLE IF NOT EXISTS}, a column added only when missing).
 *
 * <p>A table goes into {@code destination.schema} when set, else into the database of {@code destination.url}, named by
 * {@code destination.table_name}; its columns are the source's in order, its primary key the source's key, InnoDB,
 * utf8mb4 with a binary collation that does not pad (so keys {@code 'a'}, {@code 'A'} and {@code 'a '} stay three rows).
 * A column that already exists keeps its type (a user may declare one as text beforehand, see {@link MySqlTypes}); how
 * values are bound follows the type it has.
 */
final class MySqlTables {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(MySqlTables.class);
    /** Where rows of one source table shape go. */
    record Target(TableId id, TableSchema source, List<Kind> kinds) {
        String quoted() {
            return MySqlTypes.quote(id.schema()) + "." + MySqlTypes.quote(id.name());
        }

        String columnName(int i) {
            return source.columns().get(i).name();
        }
    }

    private final DestinationSettings names;
    private volatile String collation = "utf8mb4_nopad_bin";
    private final Map<TableSchema, Target> checked = Collections.synchronizedMap(new IdentityHashMap<>());
    private final Map<TableId, TableId> sources = new HashMap<>();
    private String database;

    MySqlTables(DestinationSettings names) {
        this.names = names;
    }

    /** @param mariadb whether the server is MariaDB (its no-pad binary collation has another name than MySQL's) */
    void collation(boolean mariadb) {
        this.collation = mariadb ? "utf8mb4_nopad_bin" : "utf8mb4_0900_bin";
    }

    /** The database tables go to: {@code destination.schema}, else the URL's. */
    String database(Connection c) throws SQLException {
        if (database == null) {
            String d = names.schema() != null && !names.schema().isBlank() ? names.schema() : c.getCatalog();
            if (d == null || d.isBlank()) {
                throw new ConfigurationException("destination.url names no database and destination.schema is not set: name the"
                        + " database the tables go to, e.g. jdbc:mariadb://localhost:3306/warehouse");
            }
            database = d;
        }
        return database;
    }

    /** The target of a schema checked before (no database access), or null. */
    Target known(TableSchema schema) {
        return checked.get(schema);
    }

    /**
     * The names of the columns the destination table of a source table has; null when it does not exist yet.
     */
    java.util.Set<String> existingColumns(Connection c, TableId source) throws SQLException {
        Map<String, String> existing = columns(c, destination(c, source));
        return existing.isEmpty() ? null : existing.keySet();
    }

    /** Creates the table or adds missing columns (each statement commits on its own), and returns where its rows go. */
    Target ensure(Connection c, TableSchema schema) throws SQLException {
        Target t = checked.get(schema);
        if (t != null) {
            return t;
        }
        TableId id = destination(c, schema.id());
        Map<String, String> existing = columns(c, id);
        Map<String, String> columnTypes = existing.isEmpty() ? Map.of() : columns(c, id, "COLUMN_TYPE");
        List<String> types = types(schema);
        try (Statement s = c.createStatement()) {
            if (existing.isEmpty()) {
                s.execute("CREATE DATABASE IF NOT EXISTS " + MySqlTypes.quote(id.schema()));
                s.execute(createTable(id, schema, types));
            } else {
                for (int i = 0; i < schema.size(); i++) {
                    Column column = schema.columns().get(i);
                    if (!existing.containsKey(column.name())) {
                        s.execute("ALTER TABLE " + quoted(id) + " ADD COLUMN " + MySqlTypes.quote(column.name()) + " " + types.get(i));
                        LOG.info("added column {} {} to destination table {}", column.name(), types.get(i), quoted(id));
                    } else if (MySqlTypes.widens(columnTypes.get(column.name()), types.get(i))) {
                        // the source widened the column (integer to bigint, numeric(8,2) to numeric(12,2), varchar(n) to m > n)
                        s.execute("ALTER TABLE " + quoted(id) + " MODIFY COLUMN " + MySqlTypes.quote(column.name()) + " " + types.get(i)
                                + (schema.key().contains(column.name()) ? " NOT NULL" : ""));
                        LOG.info("widened column {} of destination table {} from {} to {}, as the source did", column.name(), quoted(id),
                                columnTypes.get(column.name()), types.get(i));
                    }
                }
            }
        }
        existing = columns(c, id);
        List<Kind> kinds = new ArrayList<>(schema.size());
        for (Column column : schema.columns()) {
            kinds.add(Kind.of(existing.get(column.name())));
        }
        t = new Target(id, schema, List.copyOf(kinds));
        if (checked.size() > 10_000) {
            checked.clear();
        }
        checked.put(schema, t);
        return t;
    }

    /** Checks every table again (after a failure: a table may have changed behind pgsource's back). */
    void forget() {
        checked.clear();
    }

    private TableId destination(Connection c, TableId source) throws SQLException {
        TableId named;
        try {
            named = names.table(source);
        } catch (ConfigurationException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        TableId id = new TableId(database(c), named.name());
        TableId other = sources.putIfAbsent(id, source);
        if (other != null && !other.equals(source)) {
            throw new IllegalStateException(names.sharedTable(other, source, id));
        }
        return id;
    }

    /** The MySQL type of each column, in row order (text key columns share the characters InnoDB can index). */
    static List<String> types(TableSchema schema) {
        Set<String> key = Set.copyOf(schema.key());
        int keyCharacters = MySqlTypes.KEY_CHARACTERS / Math.max(1, schema.key().size());
        List<String> types = new ArrayList<>(schema.size());
        for (Column column : schema.columns()) {
            types.add(MySqlTypes.columnType(column, key.contains(column.name()) ? keyCharacters : 0));
        }
        return types;
    }

    private String createTable(TableId id, TableSchema schema, List<String> types) {
        StringBuilder sql = new StringBuilder("CREATE TABLE IF NOT EXISTS ").append(quoted(id)).append(" (");
        for (int i = 0; i < schema.size(); i++) {
            Column column = schema.columns().get(i);
            sql.append(i == 0 ? "" : ", ").append(MySqlTypes.quote(column.name())).append(' ').append(types.get(i));
            if (schema.key().contains(column.name())) {
                sql.append(" NOT NULL");
            }
        }
        if (schema.hasKey()) {
            sql.append(", PRIMARY KEY (").append(columnList(schema.key())).append(')');
        }
        return sql.append(") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=").append(collation).toString();
    }

    static String columnList(List<String> names) {
        StringBuilder sb = new StringBuilder();
        for (String n : names) {
            sb.append(sb.isEmpty() ? "" : ", ").append(MySqlTypes.quote(n));
        }
        return sb.toString();
    }

    private static String quoted(TableId id) {
        return MySqlTypes.quote(id.schema()) + "." + MySqlTypes.quote(id.name());
    }

    /** The table's columns and their DATA_TYPE, in order; empty when there is no such table. */
    private static Map<String, String> columns(Connection c, TableId id) throws SQLException {
        return columns(c, id, "DATA_TYPE");
    }

    /** The table's columns and their {@code DATA_TYPE} or {@code COLUMN_TYPE} (with length, precision), in order. */
    private static Map<String, String> columns(Connection c, TableId id, String what) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT COLUMN_NAME, " + what + " FROM information_schema.COLUMNS"
                + " WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION")) {
            ps.setString(1, id.schema());
            ps.setString(2, id.name());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getString(2));
                }
            }
        }
        return out;
    }
}
