package io.pgsource.catalog;

import io.pgsource.change.TableId;
import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * What a set of publications publishes, for each table a consumer captures: the one place that reads it from the
 * catalog (the prerequisite checks, the slot monitor and the copy all ask here) and that writes the SQL which changes
 * it. PostgreSQL publishes a partitioned table through its root ({@code publish_via_partition_root = true}) or as its
 * leaf partitions (false, the default; FOR ALL TABLES and FOR TABLES IN SCHEMA then list leaves only), and a
 * publication may name single partitions: so coverage is decided per leaf, and a captured table means its partition
 * tree's root. {@code pg_publication_tables} lists what a publication publishes as PostgreSQL itself resolves it
 * (the root or the leaves, each with its effective row filter and column list on PostgreSQL 15+); each listed relation
 * is mapped to its root ({@code pg_partition_root}) and to the leaves it covers ({@code pg_partition_tree}).
 *
 * <p>Catalog reads run with {@code search_path = pg_catalog} ({@link CatalogSession}), so a row filter reads back with
 * every name qualified and means the same in any session. Immutable once read.
 */
public final class Publications {
    /** The publish_generated_columns option of CREATE PUBLICATION (PostgreSQL 18). */
    private static final int GENERATED_COLUMNS_VERSION = 180000;
    /** Row filters and column lists (PostgreSQL 15). */
    private static final int FILTERS_VERSION = 150000;
    /**
     * Whether the table {@code l} lacks a usable replica identity (no primary key, REPLICA IDENTITY NOTHING, or a
     * replica identity index that is gone): PostgreSQL rejects UPDATE and DELETE on it while a publication that
     * publishes them covers it.
     */
    private static final String KEYLESS = "(l.relreplident = 'n'"
            + " OR (l.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = l.oid AND i.indisprimary))"
            + " OR (l.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = l.oid AND i.indisreplident)))";

    /**
     * One publication as {@code pg_publication} has it.
     *
     * @param allTables FOR ALL TABLES: every table, present and future; tables cannot be added or dropped
     * @param viaRoot   publish_via_partition_root: partitions' changes are published as their root's
     */
    public record Publication(String name, boolean allTables, boolean viaRoot, boolean insert, boolean update, boolean delete,
                              boolean truncate) {

        /** Whether PostgreSQL rejects UPDATE and DELETE on a table of it that lacks a replica identity. */
        public boolean updatesOrDeletes() {
            return update || delete;
        }

        /** The actions it does not publish, as CREATE PUBLICATION's publish option names them. */
        public List<String> unpublishedActions() {
            List<String> out = new ArrayList<>();
            if (!insert) {
                out.add("insert");
            }
            if (!update) {
                out.add("update");
            }
            if (!delete) {
                out.add("delete");
            }
            if (!truncate) {
                out.add("truncate");
            }
            return out;
        }
    }

    /**
     * One relation a publication lists for a root.
     *
     * @param publication the publication's name
     * @param oid         the listed relation: the root, a partition at some level, or a leaf
     * @param leaves      the leaf partitions it covers (itself for a table that is no partitioned table)
     * @param rowFilter   its effective row filter (SQL over the table's columns), null for none
     * @param columns     its effective column list, null when it publishes every column
     */
    public record Listed(String publication, long oid, Set<Long> leaves, String rowFilter, Set<String> columns) {
    }

    /**
     * How the publications cover one captured table (the root of a partition tree, or a table that is no partition).
     *
     * @param id           the table
     * @param oid          its OID
     * @param partitioned  whether it is a partitioned table (its rows live in its leaf partitions)
     * @param leaves       its leaf partitions now, by OID (the table itself when it is not partitioned)
     * @param keyless      the ones among {@code leaves} without a usable replica identity (no primary key, REPLICA
     *                     IDENTITY NOTHING, or a replica identity index that is gone): PostgreSQL rejects their UPDATE
     *                     and DELETE while a publication that publishes those covers them
     * @param members      publications that cover the table as a whole, future partitions included (FOR ALL TABLES,
     *                     FOR TABLE of it, FOR TABLES IN SCHEMA of its schema)
     * @param listed       what the publications list for it
     */
    public record Coverage(TableId id, long oid, boolean partitioned, Map<Long, TableId> leaves, Set<Long> keyless,
                           Set<String> members, List<Listed> listed) {

        /** Whether any of its rows is published (a partitioned table without partitions: whether it will be). */
        public boolean published() {
            return !coveredLeaves().isEmpty() || (partitioned && leaves.isEmpty() && !members.isEmpty());
        }

        /** Its leaf partitions no publication covers (empty when it is published as a whole). */
        public List<TableId> unpublishedPartitions() {
            Set<Long> covered = coveredLeaves();
            return leaves.entrySet().stream().filter(e -> !covered.contains(e.getKey())).map(Map.Entry::getValue).sorted().toList();
        }

        /** The publications that publish some of its rows, in the order they were named. */
        public List<String> publishedBy() {
            return listed.stream().map(Listed::publication).distinct().toList();
        }

        /** Whether some of its leaves lack a usable replica identity. */
        public boolean isKeyless() {
            return !keyless.isEmpty();
        }

        private Set<Long> coveredLeaves() {
            Set<Long> covered = new HashSet<>();
            listed.forEach(l -> covered.addAll(l.leaves()));
            covered.retainAll(leaves.keySet());
            return covered;
        }

        /**
         * The rows and columns the publications publish, as the copy reads them: the effective row filter of each listed
         * relation, restricted with {@code tableoid} to the leaves it covers where it does not cover the whole table
         * (a partition published on its own, or each leaf's own filter with publish_via_partition_root = false), OR-ed
         * over the listed relations as PostgreSQL combines several publications; and the union of their column lists,
         * a column that some leaves publish and others not read as NULL for the others (as the stream then carries no
         * value for them). {@link Scope#WHOLE} when everything is published.
         */
        public Scope scope(List<String> tableColumns) {
            Set<String> terms = new LinkedHashSet<>();
            boolean unrestricted = false;
            for (Listed l : listed) {
                List<String> parts = new ArrayList<>(2);
                if (!l.leaves().containsAll(leaves.keySet())) {
                    parts.add(tableoidIn(l.leaves()));
                }
                if (l.rowFilter() != null) {
                    parts.add("(" + l.rowFilter() + ")");
                }
                if (parts.isEmpty()) {
                    unrestricted = true;
                }
                terms.add(String.join(" AND ", parts));
            }
            String rowFilter = unrestricted || terms.isEmpty() ? null
                    : terms.size() == 1 ? terms.iterator().next() : "(" + String.join(" OR ", terms) + ")";
            // per column: the leaves that publish it
            Map<String, Set<Long>> publishedFor = new LinkedHashMap<>();
            boolean restricted = false;
            for (Listed l : listed) {
                Set<String> columns = l.columns() == null || l.columns().containsAll(tableColumns) ? Set.copyOf(tableColumns) : l.columns();
                restricted |= !columns.containsAll(tableColumns);
                for (String c : tableColumns) {
                    if (columns.contains(c)) {
                        publishedFor.computeIfAbsent(c, k -> new HashSet<>()).addAll(l.leaves());
                    }
                }
            }
            if (rowFilter == null && !restricted) {
                return Scope.WHOLE;
            }
            if (!restricted) {
                return new Scope(rowFilter, null, Map.of());
            }
            Set<Long> covered = coveredLeaves();
            Map<String, String> partial = new LinkedHashMap<>();
            for (Map.Entry<String, Set<Long>> e : publishedFor.entrySet()) {
                Set<Long> forColumn = new HashSet<>(e.getValue());
                forColumn.retainAll(leaves.keySet());
                if (!forColumn.containsAll(covered)) {
                    partial.put(e.getKey(), "CASE WHEN " + tableoidIn(forColumn) + " THEN " + TableId.quoteIdent(e.getKey()) + " END");
                }
            }
            return new Scope(rowFilter, publishedFor.keySet(), partial);
        }

        private static String tableoidIn(Set<Long> oids) {
            // OIDs read from the catalog, formatted by Java: numbers, no SQL text of anyone's
            return "tableoid IN (" + new TreeSet<>(oids).stream().map(o -> o + "::pg_catalog.oid").collect(Collectors.joining(", ")) + ")";
        }
    }

    /**
     * What the copy reads of a table so that it holds exactly what the publications publish.
     *
     * @param rowFilter      SQL condition over the table (its columns and {@code tableoid}), null for every row
     * @param columns        the published columns, null for all
     * @param partialColumns columns published for some leaf partitions only: the expression that reads them
     */
    public record Scope(String rowFilter, Set<String> columns, Map<String, String> partialColumns) {
        /** Every row and every column. */
        public static final Scope WHOLE = new Scope(null, null, Map.of());

        public Scope {
            columns = columns == null ? null : Set.copyOf(columns);
            partialColumns = Map.copyOf(partialColumns);
        }
    }

    private final List<String> names;
    private final Map<String, Publication> publications;
    private final Map<TableId, Coverage> tables;

    private Publications(List<String> names, Map<String, Publication> publications, Map<TableId, Coverage> tables) {
        this.names = names;
        this.publications = publications;
        this.tables = tables;
    }

    /**
     * Reads the named publications and how they cover the given tables.
     *
     * @param names  the publications, in the order a consumer names them
     * @param tables the captured tables (roots, or tables that are no partitions); null for every table the
     *               publications publish
     */
    public static Publications read(Connection c, List<String> names, Collection<TableId> tables) throws SQLException {
        return CatalogSession.run(c, () -> {
            int version = serverVersion(c);
            Map<String, Publication> pubs = publications(c, names);
            Map<Long, List<Listed>> listed = new LinkedHashMap<>();
            Set<TableId> roots = new LinkedHashSet<>();
            listed(c, version, names, tables, listed, roots);
            Collection<TableId> wanted = tables == null ? roots : tables;
            Map<TableId, Coverage> coverage = coverage(c, version, names, wanted, listed);
            return new Publications(List.copyOf(names), pubs, coverage);
        });
    }

    private static int serverVersion(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.current_setting('server_version_num')::int");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static Map<String, Publication> publications(Connection c, List<String> names) throws SQLException {
        Map<String, Publication> found = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT pubname, puballtables, pubviaroot, pubinsert, pubupdate, pubdelete,"
                + " pubtruncate FROM pg_catalog.pg_publication WHERE pubname = ANY (?)")) {
            ps.setArray(1, c.createArrayOf("text", names.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.put(rs.getString(1), new Publication(rs.getString(1), rs.getBoolean(2), rs.getBoolean(3), rs.getBoolean(4),
                            rs.getBoolean(5), rs.getBoolean(6), rs.getBoolean(7)));
                }
            }
        }
        Map<String, Publication> ordered = new LinkedHashMap<>();
        for (String n : names) {
            if (found.containsKey(n)) {
                ordered.put(n, found.get(n));
            }
        }
        return ordered;
    }

    /**
     * The relations the publications list, by the OID of their root; the roots' names go to {@code roots}.
     *
     * @param of the roots of interest, null for all (a FOR ALL TABLES publication lists every table of the database)
     */
    private static void listed(Connection c, int version, List<String> names, Collection<TableId> of, Map<Long, List<Listed>> listed,
                               Set<TableId> roots) throws SQLException {
        boolean filters = version >= FILTERS_VERSION;
        String sql = "WITH pt AS (SELECT pt.pubname, c.oid AS rel, c.relkind,"
                + " coalesce(pg_catalog.pg_partition_root(c.oid)::pg_catalog.oid, c.oid) AS root"
                + (filters ? ", pt.rowfilter, pt.attnames" : ", NULL::text AS rowfilter, NULL::name[] AS attnames")
                + " FROM pg_catalog.pg_publication_tables pt"
                + " JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname"
                + " JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename"
                + " WHERE pt.pubname = ANY (?))"
                + " SELECT pt.pubname, pt.rel, pt.root, rn.nspname, r.relname, pt.rowfilter, pt.attnames::text[],"
                + " CASE WHEN pt.relkind = 'p' THEN ARRAY(SELECT t.relid::pg_catalog.oid::bigint FROM pg_catalog.pg_partition_tree(pt.rel) t WHERE t.isleaf)"
                + " ELSE ARRAY[pt.rel::bigint] END"
                + " FROM pt JOIN pg_catalog.pg_class r ON r.oid = pt.root JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace"
                + (of == null ? "" : " WHERE (rn.nspname, r.relname) IN (SELECT * FROM unnest(?::text[], ?::text[]))");
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("text", names.toArray()));
            if (of != null) {
                ps.setArray(2, c.createArrayOf("text", of.stream().map(TableId::schema).toArray()));
                ps.setArray(3, c.createArrayOf("text", of.stream().map(TableId::name).toArray()));
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Set<String> columns = null;
                    Array attnames = rs.getArray(7);
                    if (attnames != null) {
                        columns = new LinkedHashSet<>(List.of((String[]) attnames.getArray()));
                    }
                    Set<Long> leaves = new HashSet<>(List.of((Long[]) rs.getArray(8).getArray()));
                    long root = rs.getLong(3);
                    listed.computeIfAbsent(root, k -> new ArrayList<>())
                            .add(new Listed(rs.getString(1), rs.getLong(2), leaves, rs.getString(6), columns));
                    roots.add(new TableId(rs.getString(4), rs.getString(5)));
                }
            }
        }
    }

    private static Map<TableId, Coverage> coverage(Connection c, int version, List<String> names, Collection<TableId> wanted,
                                                   Map<Long, List<Listed>> listed) throws SQLException {
        Map<TableId, Coverage> out = new LinkedHashMap<>();
        if (wanted.isEmpty()) {
            return out;
        }
        String inSchema = version >= FILTERS_VERSION ? " OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace pn"
                + " WHERE pn.pnpubid = p.oid AND pn.pnnspid = r.relnamespace)" : "";
        String sql = "SELECT w.s, w.t, r.oid, r.relkind = 'p',"
                + " ARRAY(SELECT p.pubname::text FROM pg_catalog.pg_publication p WHERE p.pubname = ANY (?) AND (p.puballtables"
                + " OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr WHERE pr.prpubid = p.oid AND pr.prrelid = r.oid)" + inSchema + ")),"
                + " l.oid, ln.nspname, l.relname, " + KEYLESS
                + " FROM unnest(?::text[], ?::text[]) AS w(s, t)"
                + " JOIN pg_catalog.pg_namespace n ON n.nspname = w.s"
                + " JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = w.t AND r.relkind IN ('r', 'p')"
                + " LEFT JOIN LATERAL (SELECT r.oid AS relid WHERE r.relkind = 'r'"
                + "  UNION ALL SELECT t.relid::pg_catalog.oid FROM pg_catalog.pg_partition_tree(r.oid) t WHERE t.isleaf AND r.relkind = 'p') lv ON true"
                + " LEFT JOIN pg_catalog.pg_class l ON l.oid = lv.relid"
                + " LEFT JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace";
        record Building(TableId id, long oid, boolean partitioned, Set<String> members, Map<Long, TableId> leaves, Set<Long> keyless) {
        }
        Map<TableId, Building> building = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("text", names.toArray()));
            ps.setArray(2, c.createArrayOf("text", wanted.stream().map(TableId::schema).toArray()));
            ps.setArray(3, c.createArrayOf("text", wanted.stream().map(TableId::name).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    TableId id = new TableId(rs.getString(1), rs.getString(2));
                    Building b = building.get(id);
                    if (b == null) {
                        b = new Building(id, rs.getLong(3), rs.getBoolean(4), new LinkedHashSet<>(List.of((String[]) rs.getArray(5).getArray())),
                                new LinkedHashMap<>(), new HashSet<>());
                        building.put(id, b);
                    }
                    long leaf = rs.getLong(6);
                    if (!rs.wasNull()) {
                        b.leaves().put(leaf, new TableId(rs.getString(7), rs.getString(8)));
                        if (rs.getBoolean(9)) {
                            b.keyless().add(leaf);
                        }
                    }
                }
            }
        }
        for (TableId id : wanted) {
            Building b = building.get(id);
            if (b != null) {
                out.put(id, new Coverage(id, b.oid(), b.partitioned(), Map.copyOf(b.leaves()), Set.copyOf(b.keyless()), Set.copyOf(b.members()),
                        List.copyOf(listed.getOrDefault(b.oid(), List.of()))));
            }
        }
        return out;
    }

    /**
     * The tables of the database (partitions included) without a usable replica identity, as a FOR ALL TABLES
     * publication would cover them.
     */
    public static List<TableId> keylessTables(Connection c) throws SQLException {
        return CatalogSession.run(c, () -> {
            List<TableId> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, l.relname FROM pg_catalog.pg_class l"
                    + " JOIN pg_catalog.pg_namespace n ON n.oid = l.relnamespace WHERE l.relkind = 'r' AND l.relpersistence = 'p'"
                    + " AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND " + KEYLESS + " ORDER BY 1, 2");
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new TableId(rs.getString(1), rs.getString(2)));
                }
            }
            return out;
        });
    }

    /** The named publications that exist, in the order they were named. */
    public List<Publication> existing() {
        return List.copyOf(publications.values());
    }

    /** The named publications that do not exist. */
    public List<String> missing() {
        return names.stream().filter(n -> !publications.containsKey(n)).toList();
    }

    /** A named publication, or null when it does not exist. */
    public Publication publication(String name) {
        return publications.get(name);
    }

    /** How the publications cover a table; null when it does not exist (as a table or partitioned table). */
    public Coverage coverage(TableId table) {
        return tables.get(table);
    }

    /** The coverage of every table asked for that exists. */
    public Collection<Coverage> coverages() {
        return tables.values();
    }

    /**
     * The publications among those named that publish some rows of a table and publish UPDATE or DELETE: PostgreSQL
     * rejects those on its leaves without a usable replica identity.
     */
    public List<String> rejectingUpdates(Coverage table) {
        return table.publishedBy().stream().filter(p -> publications.get(p) != null && publications.get(p).updatesOrDeletes()).toList();
    }

    /** The actions no publication that publishes some rows of the table publishes ("update", "delete", ...). */
    public List<String> unpublishedActions(Coverage table) {
        Set<String> missing = new LinkedHashSet<>(List.of("insert", "update", "delete", "truncate"));
        for (String p : table.publishedBy()) {
            Publication pub = publications.get(p);
            if (pub != null) {
                missing.retainAll(pub.unpublishedActions());
            }
        }
        return List.copyOf(missing);
    }

    /**
     * A publication of the named ones that tables can be added to ({@code ALTER PUBLICATION ... ADD TABLE}: not FOR ALL
     * TABLES), preferring one that publishes UPDATE and DELETE (or, for a keyless table, one that does not, so
     * PostgreSQL does not start rejecting them); null when there is none.
     */
    public String extensible(boolean keyless) {
        String any = null;
        for (Publication p : publications.values()) {
            if (p.allTables()) {
                continue;
            }
            if (p.updatesOrDeletes() != keyless) {
                return p.name();
            }
            if (any == null) {
                any = p.name();
            }
        }
        return any;
    }

    /** {@code ALTER PUBLICATION "p" ADD TABLE "s"."t", ...;} */
    public static String addTables(String publication, Collection<TableId> tables) {
        return "ALTER PUBLICATION " + TableId.quoteIdent(publication) + " ADD TABLE "
                + tables.stream().map(TableId::quoted).collect(Collectors.joining(", ")) + ";";
    }

    /**
     * The CREATE PUBLICATION statement for the tables (FOR ALL TABLES when there are none), without the closing
     * semicolon. Partitioned tables are published through their root (publish_via_partition_root), so their partitions'
     * changes arrive as the root's, partitions created later included; on PostgreSQL 18 stored generated columns are
     * published too. An insert-only publication publishes only inserts and truncates: PostgreSQL then accepts UPDATE and
     * DELETE on its tables even without a replica identity.
     *
     * @param partitioned whether some of the tables are partitioned
     */
    public static String create(String publication, List<TableId> tables, boolean partitioned, boolean insertOnly, int serverVersion) {
        List<String> with = new ArrayList<>();
        if (insertOnly) {
            with.add("publish = 'insert, truncate'");
        }
        if (partitioned || tables.isEmpty()) {
            with.add("publish_via_partition_root = true");
        }
        if (serverVersion >= GENERATED_COLUMNS_VERSION) {
            with.add("publish_generated_columns = stored");
        }
        return "CREATE PUBLICATION " + TableId.quoteIdent(publication)
                + (tables.isEmpty() ? " FOR ALL TABLES" : " FOR TABLE " + tables.stream().map(TableId::quoted).collect(Collectors.joining(", ")))
                + (with.isEmpty() ? "" : " WITH (" + String.join(", ", with) + ")");
    }

    /**
     * The CREATE PUBLICATION statement of a publication without tables yet (they are added later, {@link #addTables}),
     * without the closing semicolon: partitioned tables are published through their root, and on PostgreSQL 18 stored
     * generated columns too, as by {@link #create}.
     */
    public static String createEmpty(String publication, boolean insertOnly, int serverVersion) {
        List<String> with = new ArrayList<>();
        if (insertOnly) {
            with.add("publish = 'insert, truncate'");
        }
        with.add("publish_via_partition_root = true");
        if (serverVersion >= GENERATED_COLUMNS_VERSION) {
            with.add("publish_generated_columns = stored");
        }
        return "CREATE PUBLICATION " + TableId.quoteIdent(publication) + " WITH (" + String.join(", ", with) + ")";
    }

    /**
     * Splits a list of publication names at the commas outside double quotes; a name in double quotes loses them
     * ({@code "a,b"} is the one name a,b, {@code ""} inside stands for one quote).
     */
    public static List<String> names(String list) {
        return TableId.splitList(list).stream().map(TableId::unquote).toList();
    }

    /** The names as a list {@link #names} reads back: a name with a comma or a double quote is quoted. */
    public static String list(List<String> names) {
        return names.stream().map(n -> n.contains(",") || n.contains("\"") ? TableId.quoteIdent(n) : n).collect(Collectors.joining(","));
    }

    /**
     * The name of the insert-only publication that goes with {@code publication}: {@code <publication>_keyless}, cut so
     * it fits PostgreSQL's 63 bytes.
     */
    public static String keylessCompanion(String publication) {
        String suffix = "_keyless";
        String base = publication;
        while (base.getBytes(StandardCharsets.UTF_8).length + suffix.length() > 63) {
            base = base.substring(0, base.offsetByCodePoints(base.length(), -1));
        }
        return base + suffix;
    }
}
