package io.pgsource.change;

/**
 * A column as every stage sees it.
 *
 * @param name         the column name, unquoted
 * @param typeOid      the PostgreSQL type OID (decides the canonical Java value)
 * @param typeName     the exact type as {@code format_type(atttypid, atttypmod)} prints it, e.g. {@code numeric(12,2)}
 *                     or {@code public.mood}
 * @param baseTypeName the same type with user-defined types resolved to built-in ones: a domain becomes its base
 *                     type, an enum becomes {@code text}, arrays of them likewise; equal to typeName otherwise
 */
public record Column(String name, int typeOid, String typeName, String baseTypeName) {
}
