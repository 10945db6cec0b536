package io.pgsource.change;

import java.time.OffsetDateTime;

/** Where in the source a change or a batch comes from. */
public sealed interface Position permits Position.Batch, Position.Log {

    /** When the source committed the change, where the source says (log replication); null otherwise. */
    default OffsetDateTime commitTime() {
        return null;
    }

    /**
     * A batch-query page.
     *
     * @param stream   the table, {@code schema.name}
     * @param bookmark the serialized bookmark to store once this page is committed at the destination
     */
    record Batch(String stream, String bookmark) implements Position {
    }

    /**
     * A committed source transaction read from the WAL.
     *
     * @param commitLsn  the commit's end LSN; what the slot may be acknowledged to once applied
     * @param txId       the source transaction id
     * @param commitTime the source commit time
     */
    record Log(long commitLsn, long txId, OffsetDateTime commitTime) implements Position {
    }
}
