package io.pgsource.sink.jdbc;

import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.util.List;

/**
 * Where the rows of one source table schema go at the destination.
 *
 * @param id     the destination table
 * @param source the source table schema (column order of the rows)
 * @param types  the destination SQL type of each column, in row order
 */
record TargetTable(TableId id, TableSchema source, List<String> types) {

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
