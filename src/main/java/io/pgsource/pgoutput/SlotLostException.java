package io.pgsource.pgoutput;

/**
 * The slot can no longer deliver every change the consumer is meant to stream, and retrying cannot fix that: the slot
 * was dropped after the consumer had streamed from it, the server invalidated it (the WAL it needed was removed), or a
 * table the consumer captures left the publication. The consumer stops and hands this to its
 * {@link org.apache.camel.spi.ExceptionHandler}; the message says what happened, why changes may be missing, and
 * what to do. The way back is a new slot and a new copy of the tables (an initial snapshot).
 */
public class SlotLostException extends PrerequisiteException {
    /** What went wrong with the slot. */
    public enum Reason {
        /** the slot no longer exists */
        DROPPED,
        /** the server invalidated the slot ({@code wal_status = 'lost'}) */
        INVALIDATED,
        /** a captured table (or the whole publication) is no longer published */
        UNPUBLISHED
    }

    private final Reason reason;
    private final java.util.List<io.pgsource.change.TableId> tables;

    public SlotLostException(Reason reason, String message) {
        this(reason, message, java.util.List.of());
    }

    /** @param tables the captured tables taken out of the publication (UNPUBLISHED) */
    public SlotLostException(Reason reason, String message, java.util.List<io.pgsource.change.TableId> tables) {
        super(message);
        this.reason = reason;
        this.tables = java.util.List.copyOf(tables);
    }

    public Reason reason() {
        return reason;
    }

    /** The captured tables taken out of the publication, whose changes since are missing; empty for other reasons. */
    public java.util.List<io.pgsource.change.TableId> tables() {
        return tables;
    }
}
