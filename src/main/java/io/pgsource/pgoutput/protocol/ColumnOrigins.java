package io.pgsource.pgoutput.protocol;

import io.pgsource.change.SourceColumns;

/**
 * What the source's catalog says now about a captured table's columns ({@link SourceColumns}): which column each name
 * is, what rows older than a column hold, whether the table was rewritten. A Relation message says none of it, and a
 * destination needs all of it to follow a schema change exactly. The component implements it with a catalog query
 * ({@link CatalogColumnOrigins}).
 */
@FunctionalInterface
public interface ColumnOrigins {
    /** Knows nothing: schemas carry no {@link SourceColumns}. */
    ColumnOrigins NONE = tableOid -> null;

    /**
     * @param tableOid a table, or the root of a partition tree
     * @return its columns now, or null when unknown (the table no longer exists)
     */
    SourceColumns columns(int tableOid);
}
