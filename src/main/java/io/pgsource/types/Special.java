package io.pgsource.types;

/**
 * The non-finite values PostgreSQL prints for numeric ({@code NaN}, {@code Infinity}, {@code -Infinity}) and for
 * date, timestamp, timestamptz and (PostgreSQL 17+) interval ({@code infinity}, {@code -infinity}). No java.time
 * or BigDecimal value can hold them, so they decode to this enum whatever the column type.
 */
public enum Special {
    NAN("NaN"),
    INFINITY("Infinity"),
    NEGATIVE_INFINITY("-Infinity");

    private final String text;

    Special(String text) {
        this.text = text;
    }

    /** {@code NaN}, {@code Infinity} or {@code -Infinity}: what PostgreSQL accepts as input for every type above. */
    public String text() {
        return text;
    }

    /** The special a PostgreSQL text value spells (case-insensitive, as PostgreSQL reads it), or null. */
    static Special parse(String text) {
        switch (text.length()) {
            case 3:
                return text.equalsIgnoreCase("NaN") ? NAN : null;
            case 8:
                return text.equalsIgnoreCase("Infinity") ? INFINITY : null;
            case 9:
                if (text.equalsIgnoreCase("+Infinity")) {
                    return INFINITY;
                }
                return text.equalsIgnoreCase("-Infinity") ? NEGATIVE_INFINITY : null;
            default:
                return null;
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
