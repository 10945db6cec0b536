package io.pgsource.catalog;

import io.pgsource.change.Column;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.util.List;
import java.util.Optional;

/**
 * One source table as discovered: its columns (generated ones included, dropped ones not), primary key,
 * replica identity and size estimates. {@link #schema()} is the shape of the rows the batch query reads.
 *
 * <p>The key of the rows is the one log replication identifies changes by, so the copy, the stream and a destination
 * table created from either agree: the replica identity index's columns for {@code REPLICA IDENTITY USING INDEX},
 * else the primary key. A key that includes a generated column is no key (log replication before PostgreSQL 18 does
 * not carry that column).
 */
public final class TableInfo {
    private final TableId id;
    private final long oid;
    private final List<ColumnInfo> columns;
    private final List<String> primaryKey;
    private final ReplicaIdentity replicaIdentity;
    private final List<String> identityIndex;
    private final long estimatedRows;
    private final long pages;
    private final boolean partitioned;
    private final List<List<String>> indexes;
    private final Publications.Scope published;
    private final TableSchema schema;

    /**
     * @param id              schema and name
     * @param oid             the table's pg_class OID (valid in the source database only)
     * @param columns         every column in attnum order, dropped ones excluded
     * @param primaryKey      primary key column names in key order; empty when the table has none
     * @param replicaIdentity relreplident
     * @param identityIndex   the columns of the replica identity index in index order; empty unless replicaIdentity is
     *                        {@link ReplicaIdentity#INDEX}
     * @param estimatedRows   reltuples (for a partitioned table: summed over its partitions); -1 if never analyzed
     * @param pages           relpages (for a partitioned table: summed over its partitions)
     * @param partitioned     true for a partitioned table (relkind p), whose rows live in its partitions
     * @param indexes         the key columns of the table's valid, non-partial btree indexes on plain columns
     */
    public TableInfo(TableId id, long oid, List<ColumnInfo> columns, List<String> primaryKey, ReplicaIdentity replicaIdentity,
                     List<String> identityIndex, long estimatedRows, long pages, boolean partitioned, List<List<String>> indexes) {
        this(id, oid, columns, primaryKey, replicaIdentity, identityIndex, estimatedRows, pages, partitioned, indexes,
                Publications.Scope.WHOLE);
    }

    private TableInfo(TableId id, long oid, List<ColumnInfo> columns, List<String> primaryKey, ReplicaIdentity replicaIdentity,
                      List<String> identityIndex, long estimatedRows, long pages, boolean partitioned, List<List<String>> indexes,
                      Publications.Scope published) {
        this.id = id;
        this.oid = oid;
        this.columns = List.copyOf(columns);
        this.primaryKey = List.copyOf(primaryKey);
        this.replicaIdentity = replicaIdentity;
        this.identityIndex = List.copyOf(identityIndex);
        this.estimatedRows = estimatedRows;
        this.pages = pages;
        this.partitioned = partitioned;
        this.indexes = indexes.stream().map(List::copyOf).toList();
        this.published = published;
        List<String> stored = this.columns.stream().filter(c -> !c.generated()).map(ColumnInfo::name).toList();
        List<String> key = replicaIdentity == ReplicaIdentity.INDEX && !this.identityIndex.isEmpty() ? this.identityIndex : this.primaryKey;
        // a key that includes a generated column cannot identify the rows a stream before PostgreSQL 18 carries, and a
        // key column a publication's column list leaves out cannot identify the rows at all: the table is keyless
        this.schema = new TableSchema(id, this.columns.stream().map(ColumnInfo::column).toList(),
                stored.containsAll(key) ? key : List.of());
    }

    public TableId id() {
        return id;
    }

    public long oid() {
        return oid;
    }

    /** Every column in attnum order, generated ones included. */
    public List<ColumnInfo> columns() {
        return columns;
    }

    /** The generated columns, with their expressions, for destinations that recreate them. */
    public List<ColumnInfo> generatedColumns() {
        return columns.stream().filter(ColumnInfo::generated).toList();
    }

    public Optional<ColumnInfo> column(String name) {
        return columns.stream().filter(c -> c.name().equals(name)).findFirst();
    }

    public List<String> primaryKey() {
        return primaryKey;
    }

    public ReplicaIdentity replicaIdentity() {
        return replicaIdentity;
    }

    /** The columns of the replica identity index, in index order; empty unless the replica identity is INDEX. */
    public List<String> identityIndex() {
        return identityIndex;
    }

    public long estimatedRows() {
        return estimatedRows;
    }

    public long pages() {
        return pages;
    }

    public boolean partitioned() {
        return partitioned;
    }

    /** The key columns of each valid, non-partial btree index on plain columns (an ordered scan can use them). */
    public List<List<String>> indexes() {
        return indexes;
    }

    /** True when some index of the table starts with this column. */
    public boolean hasIndexLeadingWith(String column) {
        return indexes.stream().anyMatch(i -> !i.isEmpty() && i.get(0).equals(column));
    }

    /**
     * The table as publications publish it (log replication): only the columns of their column list, and the rows of
     * their row filter ({@link #rowFilter()}). Generated columns stay, as a subscriber computes them too (a column list
     * before PostgreSQL 18 cannot name them). A key column left out makes the table keyless.
     */
    public TableInfo published(Publications.Scope scope) {
        List<ColumnInfo> kept = scope.columns() == null ? columns
                : columns.stream().filter(c -> c.generated() || scope.columns().contains(c.name())).toList();
        return new TableInfo(id, oid, kept, primaryKey, replicaIdentity, identityIndex, estimatedRows, pages, partitioned, indexes,
                scope);
    }

    /** The condition (SQL over this table's columns and {@code tableoid}) on the rows read, or null for every row. */
    public String rowFilter() {
        return published.rowFilter();
    }

    /** What reads a column: its quoted name, or an expression for a column published for some partitions only. */
    public String readExpression(String column) {
        String partial = published.partialColumns().get(column);
        return partial != null ? partial : TableId.quoteIdent(column);
    }

    /** The shape of the rows the batch query reads: every column (generated ones marked) and the key (empty if none). */
    public TableSchema schema() {
        return schema;
    }

    @Override
    public String toString() {
        return id + (partitioned ? " (partitioned)" : "") + " key=" + primaryKey + " columns=" + columns.stream().map(ColumnInfo::name).toList();
    }
}
