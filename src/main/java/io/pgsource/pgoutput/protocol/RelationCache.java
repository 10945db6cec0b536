package io.pgsource.pgoutput.protocol;

import io.pgsource.change.Column;
import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Relation;
import io.pgsource.pgoutput.protocol.PgOutputMessage.RelationColumn;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Type;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.IntPredicate;
import java.util.function.Predicate;

/**
 * The latest Relation message per relation OID, turned into the {@link TableSchema} the following changes of that
 * relation use. Columns come from the Relation message only (never from the catalog: that would zip values with
 * dropped or generated columns); only their type names come from {@link TypeNames}. Tables are identified by OID and
 * {@link TableId}(namespace, name), never by name alone.
 *
 * <p>A Relation message whose shape differs from the cached one is a schema change: {@link #schema} returns a new
 * TableSchema from then on. A resent identical Relation keeps the same TableSchema instance.
 *
 * <p>The key is the columns the Relation message flags as replica identity. With REPLICA IDENTITY FULL every
 * column is flagged, which is not a key: the key is then the table's primary key ({@link PrimaryKeys}, when every one
 * of its columns is in the message), else none: a keyless table, whose UPDATE and DELETE carry the whole old row.
 * This is the key the catalog discovery gives the same table, so the copy and the stream agree on it (a destination
 * table created from either has the same key). {@link #fullIdentity} tells a FULL table apart.
 *
 * <p>Generated columns come from {@link GeneratedColumns}: those the message carries (PostgreSQL 18 with
 * {@code publish_generated_columns = stored}) are marked {@link Column#generated()}, the others are listed in
 * {@link TableSchema#generatedNotInRows()}; a key that includes one is no key, as in the catalog discovery.
 *
 * <p>A captured table's schema carries what the catalog says of its columns ({@link ColumnOrigins}), asked at every
 * Relation message: PostgreSQL sends one again after each change of the table's definition or storage, so a resent
 * message of the same shape makes a new schema too when the catalog changed (a column dropped and added again under
 * its name, a rewrite), which a destination then checks.
 * Not thread-safe.
 */
public final class RelationCache {
    private final TypeNames typeNames;
    private final PrimaryKeys primaryKeys;
    private final GeneratedColumns generatedColumns;
    private final PartitionRoots roots;
    private final ColumnOrigins origins;
    private final IntPredicate columnTypes;
    private final Predicate<TableId> captured;
    private final Map<Integer, Entry> relations = new HashMap<>();
    private final Map<TableId, Entry> byTable = new HashMap<>();
    private final Map<Integer, Type> types = new HashMap<>();

    /**
     * One cached relation: the message and the schema made from it.
     *
     * @param rootOid  the OID of the table its changes belong to (its partition tree's root, or itself)
     * @param captured whether its changes are delivered
     */
    public record Entry(Relation relation, TableSchema schema, int rootOid, boolean captured) {
    }

    /**
     * A table a TRUNCATE message names.
     *
     * @param schema         the table (for a partition: its root)
     * @param partitionsOnly empty when the whole table was truncated; else the partitions truncated alone, which leave
     *                       the rows of the others
     */
    public record Truncated(TableSchema schema, List<TableId> partitionsOnly) {
    }

    /** A cache that knows no primary keys: REPLICA IDENTITY FULL tables are keyless. */
    public RelationCache(TypeNames typeNames) {
        this(typeNames, PrimaryKeys.NONE, oid -> true);
    }

    public RelationCache(TypeNames typeNames, PrimaryKeys primaryKeys) {
        this(typeNames, primaryKeys, oid -> true);
    }

    /**
     * @param primaryKeys the primary keys of REPLICA IDENTITY FULL tables
     * @param columnTypes the column types a relation may have; a Relation message with another one throws
     *                    {@link UnsupportedColumnTypeException} (a binary-mode stream whose reader cannot decode it)
     */
    public RelationCache(TypeNames typeNames, PrimaryKeys primaryKeys, IntPredicate columnTypes) {
        this(typeNames, primaryKeys, GeneratedColumns.NONE, PartitionRoots.NONE, ColumnOrigins.NONE, columnTypes, table -> true);
    }

    /**
     * @param primaryKeys      the primary keys of REPLICA IDENTITY FULL tables
     * @param generatedColumns the generated columns of a relation
     * @param roots            where partitions' changes belong
     * @param origins          what the catalog says of a captured table's columns
     * @param columnTypes      the column types a captured relation may have; a Relation message with another one throws
     *                         {@link UnsupportedColumnTypeException} (a binary-mode stream whose reader cannot decode it)
     * @param captured         the tables (partitioned tables for their partitions) whose changes are delivered
     */
    public RelationCache(TypeNames typeNames, PrimaryKeys primaryKeys, GeneratedColumns generatedColumns, PartitionRoots roots,
                         ColumnOrigins origins, IntPredicate columnTypes, Predicate<TableId> captured) {
        this.typeNames = typeNames;
        this.primaryKeys = primaryKeys;
        this.generatedColumns = generatedColumns;
        this.roots = roots;
        this.origins = origins;
        this.columnTypes = columnTypes;
        this.captured = captured;
    }

    /** Records a Relation message; returns the schema the relation's next changes use. */
    public TableSchema accept(Relation relation) {
        return accept(relation, false);
    }

    /**
     * Records a Relation message of a relation not known yet; a known one's only when it changes nothing (for a
     * streamed transaction applied in progress, whose other Relation messages apply only at its commit).
     *
     * @return false when it would change what is known of the relation (nothing is recorded then)
     */
    public boolean acceptUnlessChanged(Relation relation) {
        return accept(relation, true) != null;
    }

    private TableSchema accept(Relation relation, boolean unlessChanged) {
        // asked at every Relation message: PostgreSQL sends one again after a partition was attached or detached
        PartitionRoots.Root root = roots.root(relation.oid());
        TableId id = root != null ? root.id() : new TableId(relation.namespace(), relation.name());
        boolean delivered = captured.test(id);
        SourceColumns source = delivered ? origins.columns(root != null ? root.oid() : relation.oid()) : null;
        Entry known = relations.get(relation.oid());
        if (known != null && known.relation.sameShape(relation) && known.schema.id().equals(id)
                && Objects.equals(known.schema.sourceColumns(), source)) {
            return known.schema;
        }
        if (known != null && unlessChanged) {
            return null;
        }
        TableSchema schema = toSchema(id, relation, root != null, source);
        for (Column c : schema.columns()) {
            if (delivered && !columnTypes.test(c.typeOid())) {
                throw new UnsupportedColumnTypeException(schema.id(), c.name(), c.typeName());
            }
        }
        Entry entry = new Entry(relation, schema, root != null ? root.oid() : relation.oid(), delivered);
        relations.put(relation.oid(), entry);
        byTable.put(schema.id(), entry);
        return schema;
    }

    /** Records a Type message (names of a non-built-in type, a fallback when the catalog no longer knows it). */
    public void accept(Type type) {
        types.put(type.oid(), type);
    }

    /**
     * The current schema of a relation.
     *
     * @throws PgOutputException when no Relation message for it was seen (the stream started mid-way)
     */
    public TableSchema schema(int relationOid) {
        return entry(relationOid).schema;
    }

    /** The current entry of a relation; throws like {@link #schema}. */
    public Entry entry(int relationOid) {
        Entry e = relations.get(relationOid);
        if (e == null) {
            throw new PgOutputException("a change refers to relation OID " + Integer.toUnsignedString(relationOid)
                    + " before any Relation message described it");
        }
        return e;
    }

    /**
     * The captured tables a TRUNCATE of these relations empties, in order. A partitioned table is emptied when its root
     * or every one of its leaf partitions was truncated (a publication without publish_via_partition_root names the
     * leaves); a TRUNCATE of only some of its partitions cannot be applied to the root's copy, which holds the rows of
     * all of them, and is returned with those partitions named.
     */
    public List<Truncated> truncated(List<Integer> relationOids) {
        Map<Integer, List<Entry>> byRoot = new LinkedHashMap<>();
        for (int oid : relationOids) {
            Entry e = entry(oid);
            if (e.captured) {
                byRoot.computeIfAbsent(e.rootOid, k -> new ArrayList<>()).add(e);
            }
        }
        List<Truncated> out = new ArrayList<>(byRoot.size());
        byRoot.forEach((rootOid, entries) -> {
            TableSchema schema = entries.get(0).schema;
            List<Integer> oids = entries.stream().map(e -> e.relation.oid()).toList();
            if (oids.contains(rootOid) || oids.containsAll(roots.leaves(rootOid))) {
                out.add(new Truncated(schema, List.of()));
            } else {
                out.add(new Truncated(schema, entries.stream().map(e -> new TableId(e.relation.namespace(), e.relation.name())).toList()));
            }
        });
        return out;
    }

    /** Whether the relation's key is all its columns because of REPLICA IDENTITY FULL (not a real key). */
    public boolean fullIdentity(int relationOid) {
        return entry(relationOid).relation.fullIdentity();
    }

    /**
     * The same by table, for consumers that hold a {@link TableSchema}: true when its key is all columns because of
     * REPLICA IDENTITY FULL (and an UPDATE's or DELETE's {@code before} is the whole old row, not only the key).
     * False for tables not seen.
     */
    public boolean fullIdentity(TableId table) {
        Entry e = byTable.get(table);
        return e != null && e.relation.fullIdentity();
    }

    /** The last Type message for a type OID, or null. */
    public Type type(int typeOid) {
        return types.get(typeOid);
    }

    /**
     * @param partition whether the relation is a partition: its replica identity columns come in its own column order,
     *                  which may differ from the root's; its primary key (an index made from the root's) gives the root's
     *                  key order, so the rows of all partitions and of the copy have their key in the same order
     */
    private TableSchema toSchema(TableId id, Relation relation, boolean partition, SourceColumns source) {
        Map<String, GeneratedColumns.Generated> generated = new LinkedHashMap<>();
        for (GeneratedColumns.Generated g : generatedColumns.generatedColumns(relation.oid())) {
            generated.put(g.name(), g);
        }
        List<Column> columns = new ArrayList<>(relation.columns().size());
        List<String> key = new ArrayList<>();
        for (RelationColumn c : relation.columns()) {
            GeneratedColumns.Generated g = generated.remove(c.name());
            columns.add(column(c.name(), c.typeOid(), c.typmod(), g == null ? null : g.expression()));
            if (c.key()) {
                key.add(c.name());
            }
        }
        if (relation.fullIdentity()) {
            List<String> primary = primaryKeys.primaryKey(relation.oid());
            key = key.containsAll(primary) ? primary : List.of();
        } else if (partition && !key.isEmpty()) {
            List<String> primary = primaryKeys.primaryKey(relation.oid());
            if (primary.size() == key.size() && primary.containsAll(key)) {
                key = primary;
            }
        }
        for (Column c : columns) {
            if (c.generated() && key.contains(c.name())) {
                key = List.of();
            }
        }
        List<Column> notInRows = new ArrayList<>(generated.size());
        for (GeneratedColumns.Generated g : generated.values()) {
            notInRows.add(column(g.name(), g.typeOid(), g.typmod(), g.expression()));
        }
        return new TableSchema(id, columns, key, notInRows, source);
    }

    private Column column(String name, int typeOid, int typmod, String generation) {
        TypeNames.Names names = typeNames.names(typeOid, typmod);
        if (names == null) {
            names = fallbackNames(typeOid);
        }
        return new Column(name, typeOid, names.typeName(), names.baseTypeName(), generation);
    }

    /** The type was dropped since: the Type message's name if one came, else the OID (the value stays text). */
    private TypeNames.Names fallbackNames(int typeOid) {
        Type t = types.get(typeOid);
        String name = t != null ? new TableId(t.namespace(), t.name()).quoted() : "oid " + Integer.toUnsignedString(typeOid);
        return new TypeNames.Names(name, name);
    }
}
