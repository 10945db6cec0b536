package io.pgsource.pgoutput;

import io.pgsource.pgoutput.protocol.PgOutputDecoder;

/**
 * A replication slot this consumer created.
 *
 * @param slotName       the slot
 * @param snapshotName   the exported snapshot ({@code SET TRANSACTION SNAPSHOT}), valid only during the handler call
 * @param consistentLsn  the slot's consistent point: the stream starts with the first transaction committed after it
 */
public record SlotCreated(String slotName, String snapshotName, long consistentLsn) {

    /** The consistent point in PostgreSQL's {@code X/X} form. */
    public String consistentPoint() {
        return PgOutputDecoder.lsn(consistentLsn);
    }
}
