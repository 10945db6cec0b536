package io.pgsource.pgoutput.protocol;

/**
 * Type names for Relation columns, which carry only a type OID and typmod. The component implements it with a
 * catalog query cached per type ({@link CatalogTypeNames}).
 */
public interface TypeNames {

    /**
     * @param typeOid the column's type OID
     * @param typmod  the column's type modifier ({@code atttypmod}), -1 for none
     * @return the names as {@link io.pgsource.change.Column} defines them, or null when the type is unknown
     */
    Names names(int typeOid, int typmod);

    /**
     * @param typeName     {@code format_type(oid, typmod)} with {@code search_path = pg_catalog}, so user-defined
     *                     types are schema-qualified
     * @param baseTypeName the same with domains resolved to their base type and enums to {@code text}, arrays of
     *                     those likewise; equal to typeName otherwise
     */
    record Names(String typeName, String baseTypeName) {
    }
}
