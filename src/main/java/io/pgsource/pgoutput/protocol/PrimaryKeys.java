package io.pgsource.pgoutput.protocol;

import java.util.List;

/**
 * The primary key of a relation, for tables with {@code REPLICA IDENTITY FULL}: their Relation message flags every
 * column as replica identity, which says nothing about the real key. The component implements it with a catalog
 * query ({@link CatalogPrimaryKeys}).
 */
@FunctionalInterface
public interface PrimaryKeys {
    /** Knows no key: every REPLICA IDENTITY FULL table is keyless. */
    PrimaryKeys NONE = relationOid -> List.of();

    /**
     * @param relationOid the relation's OID
     * @return its primary-key column names in key order, empty when it has none (or is unknown)
     */
    List<String> primaryKey(int relationOid);
}
