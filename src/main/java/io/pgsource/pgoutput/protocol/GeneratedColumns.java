package io.pgsource.pgoutput.protocol;

import java.util.List;

/**
 * The generated columns of a relation. A Relation message does not say which of its columns are generated, and before
 * PostgreSQL 18 (or without {@code publish_generated_columns = stored}) it leaves them out altogether; a table
 * destination needs both to compute them as the source does. The component implements it with a catalog query
 * ({@link CatalogGeneratedColumns}).
 */
@FunctionalInterface
public interface GeneratedColumns {
    /** Knows no generated column. */
    GeneratedColumns NONE = relationOid -> List.of();

    /**
     * @param relationOid the relation's OID
     * @return its generated columns in column order, empty when it has none (or is unknown)
     */
    List<Generated> generatedColumns(int relationOid);

    /**
     * One generated column.
     *
     * @param name       the column name
     * @param typeOid    its type
     * @param typmod     its type modifier, -1 for none
     * @param expression {@code pg_get_expr} of its expression, user-defined names schema-qualified
     */
    record Generated(String name, int typeOid, int typmod, String expression) {
    }
}
