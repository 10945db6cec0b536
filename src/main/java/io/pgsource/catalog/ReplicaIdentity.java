package io.pgsource.catalog;

/** {@code pg_class.relreplident}: which old values an UPDATE or DELETE writes to the WAL. */
public enum ReplicaIdentity {
    /** 'd': the primary key (nothing when there is none). */
    DEFAULT,
    /** 'n': nothing. */
    NOTHING,
    /** 'f': every column. */
    FULL,
    /** 'i': the columns of a chosen unique index. */
    INDEX;

    static ReplicaIdentity of(String relreplident) {
        return switch (relreplident) {
            case "n" -> NOTHING;
            case "f" -> FULL;
            case "i" -> INDEX;
            default -> DEFAULT;
        };
    }
}
