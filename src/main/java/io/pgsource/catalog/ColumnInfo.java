package io.pgsource.catalog;

import io.pgsource.change.Column;

/**
 * A column as the catalog describes it.
 *
 * @param column             name and types, as every stage sees them
 * @param notNull            true when the column is declared NOT NULL
 * @param generationExpression for a generated column, its expression ({@code pg_get_expr}); null otherwise
 */
public record ColumnInfo(Column column, boolean notNull, String generationExpression) {

    public String name() {
        return column.name();
    }

    /**
     * Whether the column is generated (STORED, or VIRTUAL on PostgreSQL 18). The batch query reads its values; log
     * replication carries them only from PostgreSQL 18 with {@code publish_generated_columns = stored}. A table
     * destination computes it from the expression ({@link Column#generation()}).
     */
    public boolean generated() {
        return generationExpression != null;
    }
}
