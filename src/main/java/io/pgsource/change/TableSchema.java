package io.pgsource.change;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape of a table's rows, shared by every row of that table: columns in row order and the key columns.
 * An empty key means the table has no key (rows are copied as they are, never collapsed).
 *
 * <p>Generated columns are part of the rows whenever the source sends them (the batch query reads them; log
 * replication carries stored ones from PostgreSQL 18 with {@code publish_generated_columns = stored}), each marked by
 * {@link Column#generated()}. Those the rows do not carry (log replication before that) are still listed in
 * {@link #generatedNotInRows()}, so a table destination that first sees the table in a stream creates them too.
 *
 * <p>A schema read from the WAL also carries what the source's catalog said about the columns when it was made
 * ({@link #sourceColumns()}): which column each name is, what rows older than a column hold, whether the table was
 * rewritten. A destination compares it with what it holds to follow a schema change exactly.
 */
public final class TableSchema {
    private final TableId id;
    private final List<Column> columns;
    private final List<String> key;
    private final Map<String, Integer> positions;
    private final int[] keyPositions;
    private final List<Column> generatedNotInRows;
    private final SourceColumns sourceColumns;

    public TableSchema(TableId id, List<Column> columns, List<String> key) {
        this(id, columns, key, List.of());
    }

    /**
     * @param generatedNotInRows the table's generated columns its rows do not carry, in column order (each with its
     *                           {@link Column#generation()})
     */
    public TableSchema(TableId id, List<Column> columns, List<String> key, List<Column> generatedNotInRows) {
        this(id, columns, key, generatedNotInRows, null);
    }

    /**
     * @param sourceColumns what the source's catalog said of the table's columns when this schema was made; null when
     *                      not known
     */
    public TableSchema(TableId id, List<Column> columns, List<String> key, List<Column> generatedNotInRows, SourceColumns sourceColumns) {
        this.id = id;
        this.sourceColumns = sourceColumns;
        this.columns = List.copyOf(columns);
        this.key = List.copyOf(key);
        this.generatedNotInRows = List.copyOf(generatedNotInRows);
        this.positions = new HashMap<>();
        for (int i = 0; i < this.columns.size(); i++) {
            positions.put(this.columns.get(i).name(), i);
        }
        this.keyPositions = new int[this.key.size()];
        for (int i = 0; i < keyPositions.length; i++) {
            Integer p = positions.get(this.key.get(i));
            if (p == null) {
                throw new IllegalArgumentException("key column " + this.key.get(i) + " is not a column of " + id);
            }
            keyPositions[i] = p;
        }
        for (Column g : this.generatedNotInRows) {
            if (!g.generated() || positions.containsKey(g.name())) {
                throw new IllegalArgumentException(g.name() + " is not a generated column missing from the rows of " + id);
            }
        }
    }

    public TableId id() {
        return id;
    }

    public List<Column> columns() {
        return columns;
    }

    public List<String> key() {
        return key;
    }

    /** The table's generated columns that its rows do not carry; empty when the rows carry them all. */
    public List<Column> generatedNotInRows() {
        return generatedNotInRows;
    }

    /** What the source's catalog said of the table's columns when this schema was made, or null when not known. */
    public SourceColumns sourceColumns() {
        return sourceColumns;
    }

    /** Every column a destination creates for the table: the rows' columns, then the generated ones they lack. */
    public List<Column> allColumns() {
        if (generatedNotInRows.isEmpty()) {
            return columns;
        }
        List<Column> all = new java.util.ArrayList<>(columns);
        all.addAll(generatedNotInRows);
        return all;
    }

    public boolean hasKey() {
        return !key.isEmpty();
    }

    /** The position of the named column, or -1. */
    public int indexOf(String column) {
        Integer p = positions.get(column);
        return p == null ? -1 : p;
    }

    /** The positions of the key columns in row order of the key. */
    public int[] keyPositions() {
        return keyPositions.clone();
    }

    int keyPosition(int i) {
        return keyPositions[i];
    }

    public int size() {
        return columns.size();
    }

    @Override
    public String toString() {
        return id + columns.stream().map(Column::name).toList().toString();
    }
}
