package io.pgsource.change;

import java.util.Objects;
import java.util.Set;

/**
 * One change to one row, the unit every stage shares.
 *
 * @param op        what happened
 * @param table     the table's schema (columns and key)
 * @param before    the old row (UPDATE with old values, DELETE), else null
 * @param after     the new row (READ, INSERT, UPDATE), else null
 * @param unchanged columns whose TOASTed value the source did not send: the destination keeps its value
 * @param position  where in the source this change comes from
 */
public record ChangeEvent(Op op, TableSchema table, Row before, Row after, Set<String> unchanged, Position position) {

    public ChangeEvent {
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(table, "table");
        unchanged = unchanged == null ? Set.of() : unchanged;
    }

    public static ChangeEvent read(Row row, Position position) {
        return new ChangeEvent(Op.READ, row.schema(), null, row, Set.of(), position);
    }

    public static ChangeEvent truncate(TableSchema table, Position position) {
        return new ChangeEvent(Op.TRUNCATE, table, null, null, Set.of(), position);
    }

    public TableId tableId() {
        return table.id();
    }
}
