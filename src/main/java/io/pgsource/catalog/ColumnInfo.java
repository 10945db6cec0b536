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
     * Generated columns are not read by either capture path: pgoutput does not send them (before PostgreSQL 18),
     * and both paths must produce the same rows. A table destination recreates them from the expression.
     */
    public boolean generated() {
        return generationExpression != null;
    }
}
