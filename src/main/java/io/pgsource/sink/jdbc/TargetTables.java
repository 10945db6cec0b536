package io.pgsource.sink.jdbc;

import io.pgsource.change.Column;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.state.CopyNeededException;
import io.pgsource.state.HeldColumns;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates and evolves destination tables from the source's table schemas: same columns (user-defined types become the
 * built-in types of {@link Column#baseTypeName()}), same key as primary key, in the source schema's name or in
 * {@code destination.schema}, named by {@code destination.table_name}; with soft delete, plus a
 * {@value TargetTable#DELETED_AT} column. Two source tables never share a destination table: the second one stops the
 * batch with a {@link SchemaChangeException} naming both. What was created or checked is remembered per table shape
 * (once committed), so a new {@link TableSchema} (the source changed the table) is checked again, before any of its
 * rows is written:
 * <ul>
 * <li>columns the source gained are added;</li>
 * <li>a column whose source type changed is widened when {@link ColumnTypes} knows the widening is lossless
 * ({@code ALTER COLUMN ... TYPE}), left alone when it already holds the new type, and otherwise stops the batch with a
 * {@link SchemaChangeException} naming the table, column, both types and the fix: values are never converted
 * silently.</li>
 * </ul>
 * Columns the source dropped stay at the destination (and receive NULL in new rows).
 *
 * <p>A schema read from the WAL says what the source's catalog had ({@link TableSchema#sourceColumns()}); with the
 * record of the source columns each destination table holds ({@link HeldColumns}, kept with the positions, in the
 * batch's transaction) the table follows the source exactly: a renamed column is renamed, a column added with a
 * default the source did not write into its rows is added with that value for the rows already there (then without the
 * default), and what no statement can make exact (a rewrite of the table, say) refuses the batch with a
 * {@link CopyNeededException}: the table is copied again first.
 *
 * <p>Generated columns, whether the rows carry them or not ({@link TableSchema#generatedNotInRows()}), are created
 * {@code GENERATED ALWAYS AS (<the source's expression>) STORED}, so the destination computes them from the same
 * inputs and the copy and a stream without them agree; such columns are never written ({@link TargetTable#computed()},
 * read back from the destination's catalog). An expression the destination cannot compute (a function or type only
 * the source has) makes a plain column instead, with a warning: it holds the values the rows carry.
 */
final class TargetTables {
    private static final Logger LOG = LoggerFactory.getLogger(TargetTables.class);
    /** Extension types a destination may lack: {@code citext}, {@code hstore}, possibly schema-qualified. */
    private static final Pattern EXTENSION_TYPE = Pattern.compile("(?:.*\\.)?\"?(citext|hstore)\"?((?:\\[\\])*)");

    private final DestinationSettings names;
    private final boolean softDelete;
    /** Schema instances seen; bounded, in case a source makes a new instance per batch. */
    private final Map<TableSchema, TargetTable> targets = new IdentityHashMap<>();
    /** One target per table shape (destination table, columns, key), so equal shapes share checks and staging. */
    private final Map<List<Object>, TargetTable> byShape = new HashMap<>();
    private final CommitCache<TargetTable> checked = new CommitCache<>();
    /** Checked tables whose every column has exactly the type of {@link TargetTable#type} (not a wider one kept). */
    private final Set<TargetTable> exactTypes = ConcurrentHashMap.newKeySet();
    /** Schemas with source columns whose changes were followed (the destination table renamed, filled, recorded). */
    private final CommitCache<TableSchema> followed = new CommitCache<>();
    private final JdbcPositionStore positions;
    /** The source table each destination table holds, so that two never share one. */
    private final Map<TableId, TableId> sources = new HashMap<>();
    /** The generated columns of each destination table, as its catalog said when last checked. */
    private final Map<TableId, Set<String>> computed = new HashMap<>();
    /** Schemas made sure of by a committed transaction, and by the open one. */
    private final Set<String> schemas = new HashSet<>();
    private final Set<String> schemasPending = new HashSet<>();
    /** Destination tables the open transaction created, while it wrote no row yet. */
    private final Set<TableId> createdEmpty = new HashSet<>();
    /**
     * The columns of destination tables as {@link #prefetch} read them in one query before log replication streamed (a
     * value with null columns: the table did not exist); each serves the first check of its table only, within
     * {@link #PREFETCH_VALID_NANOS}, and goes at the first DDL on it or when a transaction fails.
     */
    private final Map<TableId, Prefetched> prefetched = new HashMap<>();
    private long prefetchedAt;
    /** How long a prefetched catalog read stands in for the read the first check of a table would make. */
    private static final long PREFETCH_VALID_NANOS = TimeUnit.SECONDS.toNanos(60);

    private record Prefetched(Map<String, DestinationColumn> columns) {
    }

    /**
     * @param names     {@code destination.schema} and {@code destination.table_name}: where each source table goes
     * @param positions where the record of each table's source columns is kept
     */
    TargetTables(DestinationSettings names, boolean softDelete, JdbcPositionStore positions) {
        this.names = names;
        this.softDelete = softDelete;
        this.positions = positions;
    }

    /** Where rows of this schema go (no database access). */
    TargetTable target(TableSchema schema) {
        TargetTable known = targets.get(schema);
        if (known != null) {
            return known;
        }
        TableId id = destination(schema.id());
        // until the destination's catalog says otherwise, every generated column is computed there
        Set<String> computedThere = computed.getOrDefault(id, generated(schema));
        List<Object> key = List.of(id, schema.columns(), schema.key(), schema.generatedNotInRows(), computedThere);
        TargetTable t = byShape.computeIfAbsent(key, shape -> {
            List<String> types = new ArrayList<>(schema.size());
            for (Column c : schema.columns()) {
                types.add(destinationType(c));
            }
            if (softDelete && schema.indexOf(TargetTable.DELETED_AT) >= 0) {
                throw new SchemaChangeException(schema.id().quoted() + " has a column " + TargetTable.DELETED_AT
                        + ", the column destination.soft_delete=true marks deleted rows with: rename the source column,"
                        + " or turn soft delete off");
            }
            return new TargetTable(id, schema, List.copyOf(types), softDelete, computedThere);
        });
        if (targets.size() >= 10_000) {
            targets.clear();
        }
        targets.put(schema, t);
        return t;
    }

    /** The destination table of a source table; a second source table mapped onto it stops the batch. */
    private TableId destination(TableId source) {
        TableId id;
        try {
            id = names.table(source);
        } catch (ConfigurationException e) {
            throw new SchemaChangeException(e.getMessage());
        }
        TableId other = sources.putIfAbsent(id, source);
        if (other != null && !other.equals(source)) {
            throw new SchemaChangeException(names.sharedTable(other, source, id));
        }
        return id;
    }

    /** The schema's generated columns, in rows or not (package-private: {@link FirstUse} makes its lambdas before streaming). */
    static Set<String> generated(TableSchema schema) {
        Set<String> out = new HashSet<>();
        schema.columns().stream().filter(Column::generated).forEach(c -> out.add(c.name()));
        schema.generatedNotInRows().forEach(c -> out.add(c.name()));
        return Set.copyOf(out);
    }

    /** Makes sure the destination table exists with every column of this schema, inside the open transaction. */
    TargetTable ensure(Connection c, TableSchema schema) throws SQLException {
        return ensure(c, schema, true);
    }

    /**
     * Makes sure the destination table exists with every column of this schema, inside the open transaction, following
     * the source's change of the table's columns.
     *
     * @param alone false when the batch also has rows of another shape of the same table (a source transaction that
     *              changed the table's columns between its changes): a rename cannot serve both, the table is copied
     * @throws CopyNeededException when only a copy of the table makes the rows it holds what the source shows
     */
    TargetTable ensure(Connection c, TableSchema schema, boolean alone) throws SQLException {
        TargetTable t = target(schema);
        try {
            return ensure(c, schema, alone, t);
        } finally {
            // a prefetched read serves a table's first check only: a later shape reads the catalog as it is then
            prefetched.remove(t.id());
        }
    }

    private TargetTable ensure(Connection c, TableSchema schema, boolean alone, TargetTable t) throws SQLException {
        Map<String, String> fills = Map.of();
        boolean renamed = false;
        if (schema.sourceColumns() != null && !followed.contains(schema)) {
            HeldColumns.Plan plan = plan(c, schema, t);
            if (plan.copyNeeded()) {
                throw new CopyNeededException(schema.id(), plan.copyReason());
            }
            if (!plan.renames().isEmpty() && !alone) {
                throw new CopyNeededException(schema.id(), "columns of " + schema.id().quoted() + " were renamed " + plan.renames()
                        + " inside a source transaction that also changed its rows before");
            }
            renamed = rename(c, t, plan.renames());
            if (renamed) {
                prefetched.remove(t.id());
            }
            fills = plan.fills();
            if (plan.next() != null) {
                positions.saveInTransaction(c, HeldColumns.stream(schema.id()), plan.next().serialize());
            }
            followed.add(schema);
        }
        if (checked.contains(t) && fills.isEmpty() && !renamed) {
            return t;
        }
        TablePreparer ahead = preparer;
        TablePreparer.Claim claim = ahead != null && fills.isEmpty() && !renamed ? ahead.claim(t) : TablePreparer.Claim.NONE;
        if (claim == TablePreparer.Claim.CREATED) {
            // created just now by its statement on another connection, committed, and empty: nothing to check
            exactTypes.add(t);
            checked.add(t);
            createdEmpty.add(t.id());
            return t;
        }
        if (claim == TablePreparer.Claim.OTHER_SHAPE) {
            // created ahead from the source's columns, but the pages bring others (a route changed them): still empty and
            // nobody's but this run's, so it is made again for the rows that come, as without creating ahead
            prefetched.remove(t.id());
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE " + t.quoted());
            }
            LOG.debug("{} was created ahead for the source's columns; the rows bring others: created again for them", t.quoted());
        }
        Map<String, DestinationColumn> existing = existingColumns(c, t.id());
        // what follows may change the table: a read after it asks the catalog
        prefetched.remove(t.id());
        boolean added = false;
        boolean exact = true;
        try (Statement s = c.createStatement()) {
            for (String ext : extensions(t)) {
                s.execute("CREATE EXTENSION IF NOT EXISTS " + ext);
            }
            if (existing == null) {
                if (!schemaKnown(t.id().schema())) {
                    s.execute("CREATE SCHEMA IF NOT EXISTS " + TableId.quoteIdent(t.id().schema()));
                    schemasPending.add(t.id().schema());
                }
                createTable(c, t);
                createdEmpty.add(t.id());
                logCreated(t);
            } else {
                for (int i = 0; i < schema.size(); i++) {
                    Column column = schema.columns().get(i);
                    DestinationColumn current = existing.get(column.name());
                    if (current == null) {
                        addColumn(c, t, column, t.type(i), fills.get(column.name()));
                        added = true;
                    } else if (!current.type().equals(t.type(i))) {
                        exact = false;
                        retype(s, t, column.name(), current.type(), t.type(i));
                    }
                }
                for (Column column : schema.generatedNotInRows()) {
                    if (!existing.containsKey(column.name())) {
                        addColumn(c, t, column, destinationType(column), null);
                        added = true;
                    }
                }
                if (t.softDelete() && !existing.containsKey(TargetTable.DELETED_AT)) {
                    s.execute("ALTER TABLE " + t.quoted() + " ADD COLUMN " + TableId.quoteIdent(TargetTable.DELETED_AT) + " timestamptz");
                    LOG.info("added column {} (soft delete) to destination table {}", TargetTable.DELETED_AT, t.quoted());
                }
            }
        }
        Set<String> computedThere = new HashSet<>();
        // a table just created from a schema without generated columns computes none: no need to ask its catalog
        boolean mayCompute = schema.columns().stream().anyMatch(Column::generated) || !schema.generatedNotInRows().isEmpty();
        Map<String, DestinationColumn> now = existing == null && !mayCompute ? Map.of()
                : existing == null || added ? existingColumns(c, t.id()) : existing;
        now.forEach((name, column) -> {
            if (column.generated()) {
                computedThere.add(name);
            }
        });
        if (!computedThere.equals(t.computed())) {
            computed.put(t.id(), Set.copyOf(computedThere));
            targets.remove(schema);
            t = target(schema);
        }
        if (exact) {
            exactTypes.add(t);
        } else {
            exactTypes.remove(t);
        }
        checked.add(t);
        return t;
    }

    /** Creates the destination tables of a copy ahead of its pages; null: none does. */
    private volatile TablePreparer preparer;

    /**
     * Starts creating the destination tables of these schemas that do not exist yet on connections of their own
     * ({@link TablePreparer}), when there are many: only tables without generated columns or extension types, which the
     * pages' transactions would create with the same one statement. Returns at once; the pages take each table over.
     *
     * @return the preparer started, or null when there are too few tables for it
     */
    TablePreparer prepare(DestinationSettings settings, List<TableSchema> schemas) {
        Map<TargetTable, String> creates = new LinkedHashMap<>();
        for (TableSchema schema : schemas) {
            if (schema.sourceColumns() != null || !schema.generatedNotInRows().isEmpty()
                    || schema.columns().stream().anyMatch(Column::generated)) {
                continue;
            }
            TargetTable t;
            try {
                t = target(schema);
            } catch (RuntimeException e) {
                continue; // its first page reports it
            }
            if (checked.contains(t) || !t.computed().isEmpty() || !extensions(t).isEmpty()) {
                continue;
            }
            creates.put(t, createTable(t, t.id().quoted(), Map.of(), "").replaceFirst("^CREATE TABLE IF NOT EXISTS ", "CREATE TABLE "));
        }
        stopPreparing();
        if (creates.size() < TablePreparer.MIN_TABLES) {
            return null;
        }
        TablePreparer p = new TablePreparer(settings, creates);
        preparer = p;
        p.start();
        return p;
    }

    TablePreparer preparing() {
        return preparer;
    }

    /** Stops creating tables ahead: what was not reached is created by the pages. */
    void stopPreparing() {
        TablePreparer p = preparer;
        preparer = null;
        if (p != null) {
            p.stop();
        }
    }

    /**
     * Whether every column of this checked table has exactly the type {@link TargetTable#type} names, so values in that
     * type's binary form can be copied into it ({@code COPY ... (FORMAT binary)}); false when unknown.
     */
    boolean exactTypes(TargetTable t) {
        return exactTypes.contains(t);
    }

    /**
     * {@code CREATE TABLE} with the source's columns in order (the generated ones the rows lack at the end), its key as
     * primary key, and every generated column computed by the source's expression where the destination can: when the
     * table cannot be created so, each expression is tried alone and those that fail become plain columns.
     */
    private static void createTable(Connection c, TargetTable t) throws SQLException {
        List<Column> generated = new ArrayList<>();
        t.source().columns().stream().filter(Column::generated).forEach(generated::add);
        generated.addAll(t.source().generatedNotInRows());
        Map<String, String> failed = new HashMap<>();
        if (!generated.isEmpty() && tryStatement(c, createTable(t, t.id().quoted(), Map.of(), ""), true) == null) {
            return;
        }
        for (Column g : generated) {
            // alone, in a temporary table of the same columns: whether the destination can compute it
            Map<String, String> others = new HashMap<>();
            generated.stream().filter(o -> o != g).forEach(o -> others.put(o.name(), ""));
            String error = tryStatement(c, createTable(t, "pg_temp.pgsource_generated_probe", others, ""), false);
            if (error != null) {
                failed.put(g.name(), error);
            }
        }
        try (Statement s = c.createStatement()) {
            s.execute(createTable(t, t.id().quoted(), failed, ""));
        }
        failed.forEach((column, error) -> warnPlain(t, column, error));
    }

    /**
     * The CREATE TABLE statement of {@code t} under the given name.
     *
     * @param plain generated columns created as plain columns instead
     */
    private static String createTable(TargetTable t, String name, Map<String, String> plain, String suffix) {
        StringBuilder sql = new StringBuilder("CREATE TABLE IF NOT EXISTS ").append(name).append(" (");
        for (int i = 0; i < t.source().size(); i++) {
            Column c = t.source().columns().get(i);
            sql.append(i == 0 ? "" : ", ").append(columnDefinition(c, t.type(i), !plain.containsKey(c.name())));
        }
        for (Column c : t.source().generatedNotInRows()) {
            sql.append(", ").append(columnDefinition(c, destinationType(c), !plain.containsKey(c.name())));
        }
        if (t.softDelete()) {
            sql.append(", ").append(TableId.quoteIdent(TargetTable.DELETED_AT)).append(" timestamptz");
        }
        if (t.source().hasKey()) {
            sql.append(", PRIMARY KEY (").append(Sql.columns(t.source().key())).append(')');
        }
        return sql.append(')').append(suffix).toString();
    }

    private static String columnDefinition(Column c, String type, boolean compute) {
        String definition = TableId.quoteIdent(c.name()) + " " + type;
        return c.generated() && compute ? definition + " GENERATED ALWAYS AS (" + c.generation() + ") STORED" : definition;
    }

    /**
     * Why the destination needs a copy of the source table before it takes rows of this shape; null when it needs none.
     * Reads only, inside the open transaction.
     */
    String copyReason(Connection c, TableSchema schema) throws SQLException {
        if (schema.sourceColumns() == null || followed.contains(schema)) {
            return null;
        }
        return plan(c, schema, target(schema)).copyReason();
    }

    /** How the destination table follows the schema, from the record of the source columns it holds. */
    private HeldColumns.Plan plan(Connection c, TableSchema schema, TargetTable t) throws SQLException {
        Map<String, DestinationColumn> existing = existingColumns(c, t.id());
        String stored = positions.current(c, HeldColumns.stream(schema.id()));
        return HeldColumns.plan(schema, stored, existing == null ? null : existing.keySet(), true, t.quoted());
    }

    /** Renames destination columns as the source did; whether there were any. */
    private static boolean rename(Connection c, TargetTable t, Map<String, String> renames) throws SQLException {
        try (Statement s = c.createStatement()) {
            for (Map.Entry<String, String> r : renames.entrySet()) {
                s.execute("ALTER TABLE " + t.quoted() + " RENAME COLUMN " + TableId.quoteIdent(r.getKey()) + " TO "
                        + TableId.quoteIdent(r.getValue()));
                LOG.info("renamed column {} of destination table {} to {}, as the source did", r.getKey(), t.quoted(), r.getValue());
            }
        }
        return !renames.isEmpty();
    }

    /**
     * Adds a column the destination table lacks: a generated one computed if the destination can, else plain.
     *
     * @param fill the text form of the value the rows already there take (as the source's older rows show it), null
     *             for none: the column is added with it as default, which PostgreSQL gives those rows without rewriting
     *             the table, then the default is dropped
     */
    private static void addColumn(Connection c, TargetTable t, Column column, String type, String fill) throws SQLException {
        String add = "ALTER TABLE " + t.quoted() + " ADD COLUMN ";
        if (fill != null && !column.generated()) {
            String literal;
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.quote_literal(?)")) {
                ps.setString(1, fill);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    literal = rs.getString(1);
                }
            }
            try (Statement s = c.createStatement()) {
                s.execute(add + columnDefinition(column, type, false) + " DEFAULT " + literal + "::" + type);
                s.execute("ALTER TABLE " + t.quoted() + " ALTER COLUMN " + TableId.quoteIdent(column.name()) + " DROP DEFAULT");
            }
            // the value stays out of the log: it may be personal data
            LOG.info("added column {} {} to destination table {}; the rows already there hold the value the source's older rows show",
                    column.name(), type, t.quoted());
            return;
        }
        String error = column.generated() ? tryStatement(c, add + columnDefinition(column, type, true), true) : "";
        if (error != null) {
            try (Statement s = c.createStatement()) {
                s.execute(add + columnDefinition(column, type, false));
            }
            if (column.generated()) {
                warnPlain(t, column.name(), error);
            }
        }
        LOG.info("added column {} {} to destination table {}", column.name(), type, t.quoted());
    }

    /**
     * Runs a statement under a savepoint: null when it succeeded, else the database's message (and rolled back).
     *
     * @param keep false to roll a success back too (a trial)
     */
    private static String tryStatement(Connection c, String sql, boolean keep) throws SQLException {
        Savepoint savepoint = c.setSavepoint();
        String error = null;
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            if (e.getSQLState() == null || e.getSQLState().startsWith("08") || e.getSQLState().startsWith("57")) {
                throw e; // the connection, not the statement
            }
            error = String.valueOf(e.getMessage()).lines().findFirst().orElse("").strip();
        }
        if (error == null && keep) {
            c.releaseSavepoint(savepoint);
        } else {
            c.rollback(savepoint);
        }
        return error;
    }

    private static void warnPlain(TargetTable t, String column, String error) {
        LOG.warn("destination table {}: generated column {} cannot be computed at the destination as the source does ({}),"
                + " so it is a plain column holding the values the source sends: the batch query and the initial copy send"
                + " them, log replication only from PostgreSQL 18 with publish_generated_columns = stored (before, rows it"
                + " inserts leave it NULL and rows it updates keep their old value). Fix: create what the expression needs at"
                + " the destination, drop the table and copy it again (sync.resnapshot)",
                t.quoted(), TableId.quoteIdent(column), error);
    }

    /** A source column's type changed: widen the destination column, accept it, or stop with the fix. */
    private static void retype(Statement s, TargetTable t, String column, String current, String wanted) throws SQLException {
        switch (ColumnTypes.fit(current, wanted)) {
            case HOLDS -> LOG.debug("{}.{} is {}, which holds the source's {}", t.quoted(), column, current, wanted);
            case WIDEN -> {
                s.execute("ALTER TABLE " + t.quoted() + " ALTER COLUMN " + TableId.quoteIdent(column) + " TYPE " + wanted);
                LOG.info("widened column {} of destination table {} from {} to {}, as the source did", column, t.quoted(), current, wanted);
            }
            case INCOMPATIBLE -> throw new SchemaChangeException("the source changed the type of column "
                    + TableId.quoteIdent(column) + " of " + t.source().id().quoted() + " from " + current + " to " + wanted
                    + ", and the destination column " + t.quoted() + "." + TableId.quoteIdent(column) + " (" + current
                    + ") cannot hold " + wanted + " values; pgsource does not convert them silently. Fix: change the"
                    + " destination column yourself (ALTER TABLE " + t.quoted() + " ALTER COLUMN " + TableId.quoteIdent(column)
                    + " TYPE " + wanted + " USING ...), or drop the destination table and copy it again (sync.resnapshot)");
        }
    }

    void commit() {
        checked.commit();
        followed.commit();
        createdEmpty.clear();
        schemas.addAll(schemasPending);
        schemasPending.clear();
    }

    void forget() {
        prefetched.clear();
        checked.clear();
        followed.clear();
        createdEmpty.clear();
        schemas.clear();
        schemasPending.clear();
    }

    /**
     * The first {@value #NAMED_CREATIONS} tables created are named at INFO, the others at DEBUG with a count at INFO at
     * most every 5 seconds: a first run on thousands of tables would log a line for each.
     */
    private void logCreated(TargetTable t) {
        created++;
        if (created <= NAMED_CREATIONS) {
            LOG.info("created destination table {}", t.quoted());
            return;
        }
        LOG.debug("created destination table {}", t.quoted());
        long now = System.nanoTime();
        if (now - lastCreatedLine >= 5_000_000_000L) {
            lastCreatedLine = now;
            LOG.info("created {} destination tables so far (each named at DEBUG after the first {}), the last {}", created,
                    NAMED_CREATIONS, t.quoted());
        }
    }

    private static final int NAMED_CREATIONS = 10;
    private int created;
    private long lastCreatedLine = System.nanoTime();

    /** Whether this connection made sure the schema exists (committed, or in the open transaction). */
    private boolean schemaKnown(String schema) {
        return schemas.contains(schema) || schemasPending.contains(schema);
    }

    /**
     * Whether the open transaction created this destination table and wrote nothing since ({@link #written}): a
     * TRUNCATE of it has nothing to empty (and would cost a scan of the destination's shared buffers per table).
     */
    boolean createdEmpty(TableId table) {
        return createdEmpty.contains(table);
    }

    /** Rows were written in the open transaction (to any table): no table counts as created empty any more. */
    void written() {
        createdEmpty.clear();
    }

    /** A column of an existing destination table: its type ({@code format_type}), and whether the table computes it. */
    private record DestinationColumn(String type, boolean generated) {
    }

    /**
     * Reads the columns of the destination tables of these source tables in one catalog query, so that the first check
     * of each (the first transaction of log replication, say) asks the catalog nothing: a table's read otherwise costs
     * one to three round trips inside that transaction. Source tables without a valid destination name are left to
     * their first check, which reports it.
     */
    int prefetch(Connection c, Collection<TableId> sources) throws SQLException {
        Set<TableId> ids = new LinkedHashSet<>();
        for (TableId source : sources) {
            try {
                ids.add(names.table(source));
            } catch (ConfigurationException e) {
                LOG.debug("no destination table of {} to prefetch: {}", source, e.getMessage());
            }
        }
        prefetched.clear();
        if (ids.isEmpty()) {
            return 0;
        }
        Map<TableId, Map<String, DestinationColumn>> found = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, r.relname, a.attname,"
                + " pg_catalog.format_type(a.atttypid, a.atttypmod), a.attgenerated <> ''"
                + " FROM " + Sql.tables("w")
                + " JOIN pg_catalog.pg_namespace n ON n.nspname = w.nspname"
                + " JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = w.relname AND r.relkind IN ('r', 'p')"
                + " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped")) {
            Sql.bindTables(c, ps, ids);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, DestinationColumn> columns = found.computeIfAbsent(new TableId(rs.getString(1), rs.getString(2)),
                            id -> new HashMap<>());
                    if (rs.getString(3) != null) {
                        columns.put(rs.getString(3), new DestinationColumn(rs.getString(4), rs.getBoolean(5)));
                    }
                }
            }
        }
        for (TableId id : ids) {
            Map<String, DestinationColumn> columns = found.get(id);
            prefetched.put(id, new Prefetched(columns == null ? null : Map.copyOf(columns)));
        }
        prefetchedAt = System.nanoTime();
        return found.size();
    }

    /** The table's columns, or null if it does not exist: as prefetched for its first check, else from the catalog. */
    private Map<String, DestinationColumn> existingColumns(Connection c, TableId table) throws SQLException {
        Prefetched read = prefetched.get(table);
        if (read != null) {
            if (System.nanoTime() - prefetchedAt < PREFETCH_VALID_NANOS) {
                return read.columns();
            }
            prefetched.clear();
        }
        return catalogColumns(c, table);
    }

    /** The table's columns as the catalog has them now, or null if it does not exist. */
    private static Map<String, DestinationColumn> catalogColumns(Connection c, TableId table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
                + " a.attgenerated <> ''"
                + " FROM pg_catalog.pg_class r"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
                + " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped"
                + " WHERE n.nspname = ? AND r.relname = ? AND r.relkind IN ('r', 'p')")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.name());
            try (ResultSet rs = ps.executeQuery()) {
                Map<String, DestinationColumn> columns = null;
                while (rs.next()) {
                    if (columns == null) {
                        columns = new HashMap<>();
                    }
                    if (rs.getString(1) != null) {
                        columns.put(rs.getString(1), new DestinationColumn(rs.getString(2), rs.getBoolean(3)));
                    }
                }
                return columns;
            }
        }
    }

    private static Set<String> extensions(TargetTable t) {
        Set<String> out = new LinkedHashSet<>();
        for (String type : t.types()) {
            if (type.equals("citext") || type.startsWith("citext[")) {
                out.add("citext");
            } else if (type.equals("hstore") || type.startsWith("hstore[")) {
                out.add("hstore");
            }
        }
        return out;
    }

    /**
     * The destination type of a column: the built-in base type; extension types lose a schema qualification, as the
     * extension may live elsewhere at the destination.
     */
    static String destinationType(Column c) {
        String t = c.baseTypeName() != null && !c.baseTypeName().isBlank() ? c.baseTypeName() : c.typeName();
        Matcher m = EXTENSION_TYPE.matcher(t.strip());
        if (m.matches()) {
            return m.group(1).toLowerCase(Locale.ROOT) + m.group(2);
        }
        return t;
    }
}
