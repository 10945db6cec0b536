package io.pgsource.catalog;

import io.pgsource.change.Column;
import io.pgsource.change.TableId;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Discovers the tables to capture from the source's system catalogs: ordinary tables and partitioned table
 * roots (never their partitions, whose rows are read through the root), with columns, primary keys, replica
 * identity and size estimates.
 *
 * <p>Type names come from {@code format_type} under {@code search_path = pg_catalog}, so user-defined types are
 * always schema-qualified and can be used in casts whatever the reader's search path.
 */
public final class CatalogReader {
    private static final Logger LOG = LoggerFactory.getLogger(CatalogReader.class);

    private CatalogReader() {
    }

    /**
     * The tables of {@code schemas} (only those of {@code include} when it is not empty), sorted by TableId.
     *
     * @throws CatalogException when a schema or an included table does not exist (the message says how to fix it)
     */
    public static List<TableInfo> discover(Connection connection, List<String> schemas, List<TableId> include) throws SQLException {
        return CatalogSession.run(connection, () -> new Discovery(connection).run(schemas, include));
    }

    /** One discovery, on one connection inside one transaction. */
    private static final class Discovery {
        private final Connection connection;
        private final int serverMajor;
        private final BaseTypeNames baseTypes;

        Discovery(Connection connection) throws SQLException {
            this.connection = connection;
            this.serverMajor = connection.getMetaData().getDatabaseMajorVersion();
            this.baseTypes = new BaseTypeNames(connection);
        }

        List<TableInfo> run(List<String> schemas, List<TableId> include) throws SQLException {
            checkSchemas(schemas);
            Map<Long, TableRow> tables = tables(schemas);
            Set<String> schemasWithTables = new LinkedHashSet<>();
            tables.values().forEach(t -> schemasWithTables.add(t.id.schema()));
            for (String schema : schemas) {
                if (!schemasWithTables.contains(schema)) {
                    LOG.warn("Schema {} has no tables to capture (source.schema); check the name or create tables there", TableId.quoteIdent(schema));
                }
            }
            if (!include.isEmpty()) {
                Map<TableId, TableRow> byId = new HashMap<>();
                tables.values().forEach(t -> byId.put(t.id, t));
                Map<Long, TableRow> chosen = new LinkedHashMap<>();
                for (TableId id : include) {
                    TableRow t = byId.get(id);
                    if (t == null) {
                        throw new CatalogException(whyNotCapturable(id, schemas));
                    }
                    chosen.put(t.oid, t);
                }
                tables = chosen;
            }
            if (tables.isEmpty()) {
                return List.of();
            }
            requireReadable(tables.values());
            Map<Long, List<ColumnInfo>> columns = columns(tables.keySet());
            Map<Long, List<String>> keys = primaryKeys(tables.keySet());
            Map<Long, List<String>> identityIndexes = identityIndexes(tables.keySet());
            Map<Long, List<List<String>>> indexes = indexes(tables.keySet());
            Map<Long, long[]> partitionSizes = partitionSizes(tables.values().stream().filter(t -> t.partitioned).map(t -> t.oid).toList());
            Map<TableId, TableInfo> result = new TreeMap<>();
            for (TableRow t : tables.values()) {
                long rows = t.reltuples;
                long pages = t.relpages;
                long[] sizes = partitionSizes.get(t.oid);
                if (sizes != null) {
                    rows = sizes[0];
                    pages = sizes[1];
                }
                result.put(t.id, new TableInfo(t.id, t.oid, columns.getOrDefault(t.oid, List.of()), keys.getOrDefault(t.oid, List.of()),
                        ReplicaIdentity.of(t.replident), identityIndexes.getOrDefault(t.oid, List.of()), rows, pages, t.partitioned,
                        indexes.getOrDefault(t.oid, List.of())));
            }
            return List.copyOf(result.values());
        }

        private void checkSchemas(List<String> schemas) throws SQLException {
            List<String> existing = new ArrayList<>();
            try (Statement s = connection.createStatement();
                 ResultSet rs = s.executeQuery("SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY nspname")) {
                while (rs.next()) {
                    existing.add(rs.getString(1));
                }
            }
            List<String> missing = schemas.stream().filter(s -> !existing.contains(s)).toList();
            if (!missing.isEmpty()) {
                throw new CatalogException("Schema " + String.join(", ", missing.stream().map(TableId::quoteIdent).toList())
                        + " does not exist in the source database: fix source.schema (names are case-sensitive). Existing schemas: "
                        + String.join(", ", existing.stream().map(TableId::quoteIdent).toList()));
            }
        }

        private Map<Long, TableRow> tables(List<String> schemas) throws SQLException {
            String sql = "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relreplident, c.reltuples, c.relpages"
                    + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + " WHERE n.nspname = ANY (?) AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                    + " ORDER BY n.nspname, c.relname";
            Map<Long, TableRow> tables = new LinkedHashMap<>();
            try (PreparedStatement ps = connection.prepareStatement(sql)) {
                ps.setArray(1, connection.createArrayOf("text", schemas.toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        TableRow t = new TableRow(rs.getLong(1), new TableId(rs.getString(2), rs.getString(3)), "p".equals(rs.getString(4)),
                                rs.getString(5), Math.round(rs.getDouble(6)), rs.getLong(7));
                        tables.put(t.oid, t);
                    }
                }
            }
            return tables;
        }

        /**
         * The role must be able to read every captured table (USAGE on its schema, SELECT on it): said now, with the
         * GRANTs to run, rather than as "permission denied" in the middle of a copy.
         */
        private void requireReadable(Collection<TableRow> tables) throws SQLException {
            List<TableId> unreadable = new ArrayList<>();
            Set<String> noUsage = new TreeSet<>();
            String role = null;
            try (PreparedStatement ps = connection.prepareStatement("SELECT current_user, t.oid, n.nspname,"
                    + " has_schema_privilege(n.oid, 'USAGE'), has_table_privilege(t.oid, 'SELECT')"
                    + " FROM unnest(?::oid[]) AS t(oid) JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace")) {
                ps.setArray(1, oidArray(tables.stream().map(t -> t.oid).toList()));
                Map<Long, TableId> ids = new HashMap<>();
                tables.forEach(t -> ids.put(t.oid, t.id));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        role = rs.getString(1);
                        if (!rs.getBoolean(4)) {
                            noUsage.add(rs.getString(3));
                        }
                        if (!rs.getBoolean(5)) {
                            unreadable.add(ids.get(rs.getLong(2)));
                        }
                    }
                }
            }
            if (unreadable.isEmpty() && noUsage.isEmpty()) {
                return;
            }
            String who = TableId.quoteIdent(role);
            StringBuilder fix = new StringBuilder();
            for (String schema : noUsage) {
                fix.append(" GRANT USAGE ON SCHEMA ").append(TableId.quoteIdent(schema)).append(" TO ").append(who).append(';');
            }
            if (!unreadable.isEmpty()) {
                fix.append(" GRANT SELECT ON ").append(String.join(", ", unreadable.stream().sorted().map(TableId::quoted).toList()))
                        .append(" TO ").append(who).append(';');
            }
            List<String> what = new ArrayList<>();
            if (!noUsage.isEmpty()) {
                what.add("USAGE on schema " + String.join(", ", noUsage.stream().map(TableId::quoteIdent).toList()));
            }
            if (!unreadable.isEmpty()) {
                what.add("SELECT on " + String.join(", ", unreadable.stream().sorted().map(TableId::quoted).toList()));
            }
            throw new CatalogException("Role " + who + " (source.username) lacks " + String.join(" and ", what)
                    + ", so it cannot read the tables it is to capture. Run as their owner or a superuser:" + fix
                    + " Or leave the tables out (source.schema, source.tables).");
        }

        /** Explains why an included table is not among the discovered ones. */
        private String whyNotCapturable(TableId id, List<String> schemas) throws SQLException {
            String inTables = "Table " + id.quoted() + " (source.tables) ";
            if (!schemas.contains(id.schema())) {
                return inTables + "is in schema " + TableId.quoteIdent(id.schema()) + ", which is not in source.schema " + schemas
                        + ": add the schema to source.schema or remove the table from source.tables";
            }
            String sql = "SELECT c.relkind, c.relispartition,"
                    + " (SELECT quote_ident(pn.nspname) || '.' || quote_ident(p.relname) FROM pg_inherits i"
                    + "  JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid LIMIT 1)"
                    + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?";
            try (PreparedStatement ps = connection.prepareStatement(sql)) {
                ps.setString(1, id.schema());
                ps.setString(2, id.name());
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        if (rs.getBoolean(2)) {
                            return inTables + "is a partition of " + rs.getString(3)
                                    + ": list the partitioned table instead (its rows are read through it)";
                        }
                        String kind = switch (rs.getString(1)) {
                            case "v" -> "a view";
                            case "m" -> "a materialized view";
                            case "f" -> "a foreign table";
                            case "S" -> "a sequence";
                            case "i", "I" -> "an index";
                            default -> "not a table";
                        };
                        return inTables + "is " + kind + "; only tables and partitioned tables can be captured: remove it from source.tables";
                    }
                }
            }
            List<String> similar = new ArrayList<>();
            try (PreparedStatement ps = connection.prepareStatement(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                            + " WHERE n.nspname = ? AND lower(c.relname) = lower(?) AND c.relkind IN ('r', 'p')")) {
                ps.setString(1, id.schema());
                ps.setString(2, id.name());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        similar.add(new TableId(id.schema(), rs.getString(1)).quoted());
                    }
                }
            }
            return inTables + "does not exist: fix source.tables (names are case-sensitive; quote mixed-case names as \"Name\")"
                    + (similar.isEmpty() ? "" : ". Did you mean " + String.join(" or ", similar) + "?");
        }

        private Map<Long, List<ColumnInfo>> columns(Set<Long> oids) throws SQLException {
            String generated = serverMajor >= 12 ? "a.attgenerated" : "''::\"char\"";
            // user-defined types a destination may lack: domains, enums, composite, range and multirange types, arrays of them
            String userTypes = "('d', 'e', 'c', 'r', 'm')";
            String sql = "SELECT a.attrelid, a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                    + generated + " <> '', pg_get_expr(d.adbin, d.adrelid),"
                    + " t.typtype IN " + userTypes + " OR (t.typcategory = 'A' AND e.typtype IN " + userTypes + "), a.atttypmod"
                    + " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
                    + " LEFT JOIN pg_type e ON e.oid = t.typelem"
                    + " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
                    + " WHERE a.attrelid = ANY (?::oid[]) AND a.attnum > 0 AND NOT a.attisdropped"
                    + " ORDER BY a.attrelid, a.attnum";
            Map<Long, List<ColumnInfo>> columns = new HashMap<>();
            try (PreparedStatement ps = connection.prepareStatement(sql)) {
                ps.setArray(1, oidArray(oids));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long table = rs.getLong(1);
                        String name = rs.getString(2);
                        long typeOid = rs.getLong(3);
                        String typeName = rs.getString(4);
                        boolean isGenerated = rs.getBoolean(6);
                        boolean userDefined = rs.getBoolean(8);
                        String baseTypeName = userDefined ? baseTypes.baseTypeName(typeOid, rs.getInt(9)) : typeName;
                        String generation = isGenerated ? rs.getString(7) : null;
                        Column column = new Column(name, (int) typeOid, typeName, baseTypeName, generation);
                        columns.computeIfAbsent(table, k -> new ArrayList<>()).add(new ColumnInfo(column, rs.getBoolean(5), generation));
                    }
                }
            }
            return columns;
        }

        private Map<Long, List<String>> primaryKeys(Set<Long> oids) throws SQLException {
            String sql = "SELECT con.conrelid, a.attname FROM pg_constraint con"
                    + " CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)"
                    + " JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum"
                    + " WHERE con.contype = 'p' AND con.conrelid = ANY (?::oid[])"
                    + " ORDER BY con.conrelid, k.ord";
            Map<Long, List<String>> keys = new HashMap<>();
            try (PreparedStatement ps = connection.prepareStatement(sql)) {
                ps.setArray(1, oidArray(oids));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        keys.computeIfAbsent(rs.getLong(1), k -> new ArrayList<>()).add(rs.getString(2));
                    }
                }
            }
            return keys;
        }

        /**
         * The columns of each table's replica identity index ({@code REPLICA IDENTITY USING INDEX}), in index order: a
         * unique index on NOT NULL columns, which keys the table's changes in the WAL.
         */
        private Map<Long, List<String>> identityIndexes(Set<Long> oids) throws SQLException {
            String sql = "SELECT i.indrelid, a.attname FROM pg_index i"
                    + " CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
                    + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                    + " WHERE i.indisreplident AND i.indrelid = ANY (?::oid[])"
                    + " ORDER BY i.indrelid, k.ord";
            Map<Long, List<String>> keys = new HashMap<>();
            try (PreparedStatement ps = connection.prepareStatement(sql)) {
                ps.setArray(1, oidArray(oids));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        keys.computeIfAbsent(rs.getLong(1), k -> new ArrayList<>()).add(rs.getString(2));
                    }
                }
            }
            return keys;
        }

        private Map<Long, List<List<String>>> indexes(Set<Long> oids) throws SQLException {
            String keyColumns = serverMajor >= 11 ? "i.indnkeyatts" : "i.indnatts";
            String sql = "SELECT i.indrelid, i.indexrelid, a.attname FROM pg_index i"
                    + " JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam"
                    + " CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
                    + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                    + " WHERE i.indrelid = ANY (?::oid[]) AND am.amname = 'btree' AND i.indisvalid AND i.indpred IS NULL"
                    + " AND i.indexprs IS NULL AND k.ord <= " + keyColumns
                    + " ORDER BY i.indrelid, i.indexrelid, k.ord";
            Map<Long, Map<Long, List<String>>> byTable = new HashMap<>();
            try (PreparedStatement ps = connection.prepareStatement(sql)) {
                ps.setArray(1, oidArray(oids));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        byTable.computeIfAbsent(rs.getLong(1), k -> new LinkedHashMap<>())
                                .computeIfAbsent(rs.getLong(2), k -> new ArrayList<>()).add(rs.getString(3));
                    }
                }
            }
            Map<Long, List<List<String>>> indexes = new HashMap<>();
            byTable.forEach((table, byIndex) -> indexes.put(table, List.copyOf(byIndex.values())));
            return indexes;
        }

        /** Rows and pages of partitioned tables, summed over their leaf partitions: {rows, pages}. */
        private Map<Long, long[]> partitionSizes(List<Long> roots) throws SQLException {
            Map<Long, long[]> sizes = new HashMap<>();
            if (roots.isEmpty()) {
                return sizes;
            }
            String sql = "WITH RECURSIVE tree(root, relid) AS ("
                    + " SELECT r, r FROM unnest(?::oid[]) AS r"
                    + " UNION ALL SELECT t.root, i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid)"
                    + " SELECT t.root, sum(greatest(c.reltuples, 0)), sum(c.relpages), bool_and(c.reltuples < 0)"
                    + " FROM tree t JOIN pg_class c ON c.oid = t.relid WHERE c.relkind = 'r' GROUP BY t.root";
            try (PreparedStatement ps = connection.prepareStatement(sql)) {
                ps.setArray(1, oidArray(roots));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        sizes.put(rs.getLong(1), new long[] {rs.getBoolean(4) ? -1 : Math.round(rs.getDouble(2)), rs.getLong(3)});
                    }
                }
            }
            return sizes;
        }

        private Array oidArray(java.util.Collection<Long> oids) throws SQLException {
            return connection.createArrayOf("int8", oids.toArray(new Long[0]));
        }
    }

    private record TableRow(long oid, TableId id, boolean partitioned, String replident, long reltuples, long relpages) {
    }

}
