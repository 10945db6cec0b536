package io.pgsource.change;

/**
 * A column as every stage sees it.
 *
 * @param name         the column name, unquoted
 * @param typeOid      the PostgreSQL type OID (decides the canonical Java value)
 * @param typeName     the exact type as {@code format_type(atttypid, atttypmod)} prints it, e.g. {@code numeric(12,2)}
 *                     or {@code public.mood}
 * @param baseTypeName the type a destination can create without the source's own types: a domain becomes its base
 *                     type, an enum becomes {@code text}, a user-defined composite, range or multirange type becomes
 *                     {@code text} (its text form), arrays of them likewise; equal to typeName otherwise
 * @param generation   for a generated column ({@code GENERATED ALWAYS AS (...)}), its expression as
 *                     {@code pg_get_expr} prints it with user-defined names schema-qualified; null for any other column.
 *                     A table destination computes such a column from the same expression instead of writing it.
 */
public record Column(String name, int typeOid, String typeName, String baseTypeName, String generation) {

    /** An ordinary (not generated) column. */
    public Column(String name, int typeOid, String typeName, String baseTypeName) {
        this(name, typeOid, typeName, baseTypeName, null);
    }

    /** Whether the source computes this column ({@code GENERATED ALWAYS AS}). */
    public boolean generated() {
        return generation != null;
    }
}
