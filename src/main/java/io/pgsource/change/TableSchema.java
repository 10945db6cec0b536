package io.pgsource.change;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape of a table's rows, shared by every row of that table: columns in row order and the key columns.
 * An empty key means the table has no primary key (rows are copied as they are, never collapsed).
 */
public final class TableSchema {
    private final TableId id;
    private final List<Column> columns;
    private final List<String> key;
    private final Map<String, Integer> positions;
    private final int[] keyPositions;

    public TableSchema(TableId id, List<Column> columns, List<String> key) {
        this.id = id;
        this.columns = List.copyOf(columns);
        this.key = List.copyOf(key);
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
