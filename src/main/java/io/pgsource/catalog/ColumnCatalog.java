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

    /**
     * The columns of every named table (ordinary or partitioned) that exists, in three catalog queries whatever their
     * number (a copy of thousands of tables must not ask per table); a table that does not exist is not in the map.
     */
    public static Map<TableId, SourceColumns> readAll(Connection c, List<TableId> tables) throws SQLException {
        if (tables.isEmpty()) {
            return Map.of();
        }
        return CatalogSession.run(c, () -> {
            List<TableId> distinct = List.copyOf(new java.util.LinkedHashSet<>(tables));
            String[] schemas = new String[distinct.size()];
            String[] names = new String[distinct.size()];
            for (int i = 0; i < distinct.size(); i++) {
                schemas[i] = distinct.get(i).schema();
                names[i] = distinct.get(i).name();
            }
            Map<Long, TableId> byOid = new LinkedHashMap<>();
            Map<Long, List<Live>> live = new HashMap<>();
            Map<Long, Integer> last = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT w.s, w.t, r.oid, a.attname, a.attnum,"
                    + " format_type(a.atttypid, a.atttypmod), a.attisdropped FROM unnest(?::text[], ?::text[]) AS w(s, t)"
                    + " JOIN pg_namespace n ON n.nspname = w.s JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = w.t"
                    + " AND r.relkind IN ('r', 'p') LEFT JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0"
                    + " ORDER BY r.oid, a.attnum")) {
                ps.setArray(1, c.createArrayOf("text", schemas));
                ps.setArray(2, c.createArrayOf("text", names));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long oid = rs.getLong(3);
                        byOid.putIfAbsent(oid, new TableId(rs.getString(1), rs.getString(2)));
                        List<Live> columns = live.computeIfAbsent(oid, k -> new ArrayList<>());
                        if (rs.getString(4) == null) {
                            continue;
                        }
                        last.merge(oid, rs.getInt(5), Math::max);
                        if (!rs.getBoolean(7)) {
                            columns.add(new Live(rs.getString(4), rs.getInt(5), rs.getString(6)));
                        }
                    }
                }
            }
            if (byOid.isEmpty()) {
                return Map.of();
            }
            Map<Long, Map<Long, Long>> storage = storage(c, byOid.keySet());
            Map<Long, Map<String, List<String>>> missing = missing(c, storage);
            Map<TableId, SourceColumns> out = new LinkedHashMap<>();
            byOid.forEach((oid, id) -> {
                Map<Long, Long> leaves = storage.getOrDefault(oid, Map.of());
                out.put(id, columns(oid, live.get(oid), last.getOrDefault(oid, 0), leaves, missing.getOrDefault(oid, Map.of())));
            });
            return out;
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
        Map<Long, Long> storage = storage(c, List.of(oid)).getOrDefault(oid, Map.of());
        return columns(oid, live, last, storage, missing(c, Map.of(oid, storage)).getOrDefault(oid, Map.of()));
    }

    /**
     * Per table: the relations holding its rows (OID to relfilenode), the table itself, or the leaves under a partitioned
     * one (at any depth).
     */
    private static Map<Long, Map<Long, Long>> storage(Connection c, java.util.Collection<Long> oids) throws SQLException {
        Map<Long, Map<Long, Long>> storage = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("WITH RECURSIVE tree(root, relid) AS (SELECT o, o FROM unnest(?::oid[]) AS o"
                + " UNION ALL SELECT t.root, i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid"
                + " JOIN pg_class p ON p.oid = t.relid WHERE p.relkind = 'p')"
                + " SELECT t.root, r.oid, r.relfilenode FROM tree t JOIN pg_class r ON r.oid = t.relid WHERE r.relkind = 'r'")) {
            ps.setArray(1, c.createArrayOf("bigint", oids.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    storage.computeIfAbsent(rs.getLong(1), k -> new HashMap<>()).put(rs.getLong(2), rs.getLong(3));
                }
            }
        }
        return storage;
    }

    /**
     * Per table, per column name: the missing value of each of its storage relations that has one; a NULL element prints
     * as {NULL}, a value's own text as a single element (array_to_string needs no delimiter then, whatever the type's).
     */
    private static Map<Long, Map<String, List<String>>> missing(Connection c, Map<Long, Map<Long, Long>> storage) throws SQLException {
        Map<Long, List<Long>> tablesOf = new HashMap<>();
        storage.forEach((table, leaves) -> leaves.keySet().forEach(leaf -> tablesOf.computeIfAbsent(leaf, k -> new ArrayList<>()).add(table)));
        Map<Long, Map<String, List<String>>> missing = new HashMap<>();
        if (tablesOf.isEmpty()) {
            return missing;
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attrelid, a.attname, CASE WHEN a.attmissingval::text = '{NULL}'"
                + " THEN NULL ELSE array_to_string(a.attmissingval, ',') END FROM pg_attribute a"
                + " WHERE a.attrelid = ANY (?::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.atthasmissing")) {
            ps.setArray(1, c.createArrayOf("bigint", tablesOf.keySet().toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    for (long table : tablesOf.get(rs.getLong(1))) {
                        missing.computeIfAbsent(table, k -> new HashMap<>()).computeIfAbsent(rs.getString(2), k -> new ArrayList<>())
                                .add(rs.getString(3));
                    }
                }
            }
        }
        return missing;
    }

    private static SourceColumns columns(long oid, List<Live> live, int last, Map<Long, Long> storage, Map<String, List<String>> missing) {
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
