package io.pgsource.sink.jdbc;

import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.util.List;
import java.util.Set;

/**
 * Where the rows of one source table schema go at the destination.
 *
 * @param id         the destination table
 * @param source     the source table schema (column order of the rows)
 * @param types      the destination SQL type of each column, in row order
 * @param softDelete the table has a {@value #DELETED_AT} column: deletes set it, upserts clear it
 * @param computed   the columns the destination computes ({@code GENERATED ALWAYS AS}): never written
 */
record TargetTable(TableId id, TableSchema source, List<String> types, boolean softDelete, Set<String> computed) {
    /** The soft-delete column ({@code destination.soft_delete=true}): when the source deleted the row. */
    static final String DELETED_AT = "_deleted_at";

    String quoted() {
        return id.quoted();
    }

    String type(int column) {
        return types.get(column);
    }

    String columnName(int column) {
        return source.columns().get(column).name();
    }
}
