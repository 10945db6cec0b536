package io.pgsource.catalog;

import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads {@link SourceColumns} from {@code pg_attribute}, {@code pg_class} and {@code pg_inherits}: plain catalog tables
 * only, so inside a transaction that imported an exported snapshot it reads the catalog as of that snapshot (catalog
 * functions such as {@code pg_partition_tree} read the newest state instead). A partitioned table's column numbers are
 * the root's; its storage and missing values are its leaf partitions' (a missing value counts when every leaf holding
 * rows has the same one).
 */
public final class ColumnCatalog {
    private ColumnCatalog() {
    }

    /** The columns of the table of this OID, or null when there is no such table. */
    public static SourceColumns read(Connection c, long oid) throws SQLException {
        return CatalogSession.run(c, () -> columns(c, oid));
    }

    /** The columns of the named table (ordinary or partitioned), or null when there is no such table. */
    public static SourceColumns read(Connection c, TableId table) throws SQLException {
        return CatalogSession.run(c, () -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT r.oid FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace"
                    + " WHERE n.nspname = ? AND r.relname = ? AND r.relkind IN ('r', 'p')")) {
                ps.setString(1, table.schema());
                ps.setString(2, table.name());
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? columns(c, rs.getLong(1)) : null;
                }
            }
        });
    }

    private record Live(String name, int number, String type) {
    }

    private static SourceColumns columns(Connection c, long oid) throws SQLException {
        List<Live> live = new ArrayList<>();
        int last = 0;
        boolean exists = false;
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attisdropped"
                + " FROM pg_class r LEFT JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 WHERE r.oid = ?::oid ORDER BY a.attnum")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    exists = true;
                    if (rs.getString(1) == null) {
                        continue;
                    }
                    last = Math.max(last, rs.getInt(2));
                    if (!rs.getBoolean(4)) {
                        live.add(new Live(rs.getString(1), rs.getInt(2), rs.getString(3)));
                    }
                }
            }
        }
        if (!exists) {
            return null;
        }
        // the relations holding rows: the table itself, or the leaves under a partitioned one (at any depth)
        Map<Long, Long> storage = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("WITH RECURSIVE tree(relid) AS (SELECT ?::oid"
                + " UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid"
                + " JOIN pg_class p ON p.oid = t.relid WHERE p.relkind = 'p')"
                + " SELECT r.oid, r.relfilenode FROM tree t JOIN pg_class r ON r.oid = t.relid WHERE r.relkind = 'r'")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    storage.put(rs.getLong(1), rs.getLong(2));
                }
            }
        }
        // per column name: the missing value of each leaf that has one; a NULL element prints as {NULL}, a value's own
        // text as a single element (array_to_string needs no delimiter then, whatever the type's)
        Map<String, List<String>> missing = new HashMap<>();
        if (!storage.isEmpty()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, CASE WHEN a.attmissingval::text = '{NULL}' THEN NULL"
                    + " ELSE array_to_string(a.attmissingval, ',') END FROM pg_attribute a"
                    + " WHERE a.attrelid = ANY (?::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.atthasmissing")) {
                ps.setArray(1, c.createArrayOf("bigint", storage.keySet().toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        missing.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getString(2));
                    }
                }
            }
        }
        Map<String, SourceColumns.Attribute> columns = new LinkedHashMap<>();
        for (Live l : live) {
            List<String> values = missing.get(l.name());
            String value = null;
            boolean mixed = false;
            if (values != null) {
                value = values.get(0);
                mixed = values.size() != storage.size() || values.stream().anyMatch(v -> !java.util.Objects.equals(v, values.get(0)));
            }
            columns.put(l.name(), new SourceColumns.Attribute(l.number(), l.type(), mixed ? null : value, mixed));
        }
        return new SourceColumns(oid, columns, last, storage);
    }
}
