package io.pgsource.types;

/**
 * A value arrived in binary form for a type whose binary form cannot be decoded into exactly the value its text
 * output decodes to (geometric and text-search types, ranges, composites, unknown extension types …). The fix is
 * text mode: {@code binary=false}.
 */
public final class UnsupportedBinaryTypeException extends IllegalArgumentException {
    private final String typeName;

    UnsupportedBinaryTypeException(String typeName) {
        super("type " + typeName + " has no exact binary decoder here: read it in text mode (pgoutput binary=false)");
        this.typeName = typeName;
    }

    /** The type's name (pg_type.typname, or its OID when unknown). */
    public String typeName() {
        return typeName;
    }
}
