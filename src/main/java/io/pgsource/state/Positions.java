package io.pgsource.state;

import io.pgsource.change.Position;
import org.apache.camel.Exchange;
import org.postgresql.replication.LogSequenceNumber;

/**
 * How a batch's {@link Position} is stored in a {@link PositionStore}: under which stream key, as which text.
 * A batch-query page is stored under its stream ({@code schema.table}) as its bookmark; a WAL transaction under
 * {@code slot:<slot name>} as its commit LSN in PostgreSQL's {@code X/X} notation.
 */
public final class Positions {
    /** Exchange header naming the replication slot a log position belongs to (default {@value #DEFAULT_SLOT}). */
    public static final String SLOT_HEADER = io.pgsource.change.ChangeHeaders.SLOT;
    public static final String DEFAULT_SLOT = "slot";

    private Positions() {
    }

    /** The stream key of a position; {@code slot} names the replication slot of log positions (null: default). */
    public static String stream(Position position, String slot) {
        if (position instanceof Position.Batch b) {
            return b.stream();
        }
        return "slot:" + (slot == null || slot.isEmpty() ? DEFAULT_SLOT : slot);
    }

    /** The stream key of a position, the slot taken from the exchange's {@value #SLOT_HEADER} header. */
    public static String stream(Position position, Exchange exchange) {
        return stream(position, exchange.getIn().getHeader(SLOT_HEADER, String.class));
    }

    /** The stored text of a position. */
    public static String value(Position position) {
        if (position instanceof Position.Batch b) {
            return b.bookmark();
        }
        return lsn(((Position.Log) position).commitLsn());
    }

    /** An LSN in PostgreSQL's notation, e.g. {@code 0/16B3748}. */
    public static String lsn(long lsn) {
        return LogSequenceNumber.valueOf(lsn).asString();
    }
}
