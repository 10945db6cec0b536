package io.pgsource.change;

/** What happened to a row. READ is a row read by the batch query or the initial copy. */
public enum Op {
    READ, INSERT, UPDATE, DELETE, TRUNCATE;

    /** The one-letter code used in the JSON envelope ("r", "c", "u", "d", "t"). */
    public String code() {
        return switch (this) {
            case READ -> "r";
            case INSERT -> "c";
            case UPDATE -> "u";
            case DELETE -> "d";
            case TRUNCATE -> "t";
        };
    }
}
