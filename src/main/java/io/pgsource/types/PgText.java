package io.pgsource.types;

/** Canonical Java value → PostgreSQL text input form. STUB: the types work completes it. */
public final class PgText {
    private PgText() {
    }

    /** The text PostgreSQL accepts as input for the value's type, or null for SQL NULL. */
    public static String format(Object value) {
        return value == null ? null : value.toString();
    }
}
