package io.pgsource.state;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Position;
import java.util.ArrayList;
import java.util.List;
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

    /**
     * The stored text of a log batch that may be a part of a bigger transaction: an earlier part is stored as
     * {@code X/X#part} (the commit record LSN and the part's index), so a replay after a crash between parts skips
     * exactly the parts already applied; a last part (or a whole transaction) as its commit's end LSN.
     *
     * @param part the part's index in its transaction ({@link io.pgsource.change.ChangeHeaders#TX_PART}), or null
     */
    public static String value(Position position, boolean last, Integer part) {
        if (position instanceof Position.Log log && !last && part != null) {
            return lsn(log.commitLsn()) + "#" + part;
        }
        return value(position);
    }

    /** An LSN in PostgreSQL's notation, e.g. {@code 0/16B3748}. */
    public static String lsn(long lsn) {
        return LogSequenceNumber.valueOf(lsn).asString();
    }

    /**
     * Parses a stored LSN ({@code X/X}).
     *
     * @throws IllegalArgumentException when the text is not an LSN
     */
    public static long parseLsn(String text) {
        String t = text == null ? "" : text.strip();
        int hash = t.indexOf('#');
        if (hash >= 0) {
            t = t.substring(0, hash); // X/X#part: an earlier part of a transaction
        }
        int slash = t.indexOf('/');
        try {
            if (slash <= 0 || slash == t.length() - 1 || slash > 8 || t.length() - slash - 1 > 8) {
                throw new NumberFormatException();
            }
            return (Long.parseLong(t.substring(0, slash), 16) << 32) | Long.parseLong(t.substring(slash + 1), 16);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not an LSN (X/X in hexadecimal)");
        }
    }

    /**
     * The batch without the events of the earlier transactions it combines ({@code combineTransactions}) that a
     * destination holding {@code stored} already applied; the batch itself when there are none. An event carries its
     * transaction's commit record LSN, and a stored LSN (an end LSN, or the point a copy was taken at) never lies
     * inside a record: the transaction was applied exactly when its commit record starts below the stored LSN. The
     * batch's own (last) transaction is left to {@link #alreadyApplied}.
     */
    public static ChangeBatch withoutApplied(ChangeBatch batch, String stored) {
        if (stored == null || !(batch.position() instanceof Position.Log last)) {
            return batch;
        }
        long at;
        try {
            at = parseLsn(stored);
        } catch (IllegalArgumentException e) {
            return batch;
        }
        // transactions come in commit order: when the first is not applied, none is (a single transaction's batch, or
        // the usual combined one, costs one comparison)
        if (batch.isEmpty() || !applied(batch.get(0), last, at)) {
            return batch;
        }
        List<ChangeEvent> rest = null;
        for (int i = 0; i < batch.size(); i++) {
            ChangeEvent e = batch.get(i);
            boolean applied = applied(e, last, at);
            if (applied && rest == null) {
                rest = new ArrayList<>(batch.subList(0, i));
            } else if (!applied && rest != null) {
                rest.add(e);
            }
        }
        return rest == null ? batch : new ChangeBatch(rest, batch.position(), batch.last(), batch.tables());
    }

    /** Whether an event of a combined batch belongs to an earlier transaction the stored LSN {@code at} covers. */
    private static boolean applied(ChangeEvent e, Position.Log last, long at) {
        return e.position() instanceof Position.Log p && p.txId() != last.txId() && Long.compareUnsigned(p.commitLsn(), at) < 0;
    }

    /**
     * Whether a log batch was already applied by a destination that stored {@code stored} for its slot, so a replay
     * must be skipped.
     *
     * <p>A transaction with more changes than fit one batch comes in parts. Every part but the last carries the
     * commit <em>record</em> LSN and is stored with it; the last part carries the commit's end LSN, which is above it.
     * So:
     * <ul>
     * <li>the last part (or a whole transaction) was applied when the stored LSN is at or above its LSN;</li>
     * <li>an earlier part was applied for sure only when the stored LSN is <em>above</em> its LSN (the whole
     * transaction, or a later one, was applied). When the stored LSN equals it, some parts of this transaction were
     * applied but not all, and which ones is not known: every part is applied again. Keyed changes converge (upserts
     * and deletes by key, replayed in order, end in the same rows); rows of keyless tables may be doubled.</li>
     * </ul>
     * The next transaction's commit record may start exactly at the previous one's end LSN, which is why equality
     * does not skip an earlier part.
     *
     * @param position the batch's position
     * @param last     whether the batch is a transaction's last (or only) part
     * @param stored   the stored LSN of the slot ({@code X/X}), or null when none
     */
    public static boolean alreadyApplied(Position.Log position, boolean last, String stored) {
        return alreadyApplied(position, last, null, stored);
    }

    /**
     * As {@link #alreadyApplied(Position.Log, boolean, String)}, knowing the part's index: when the stored position
     * is {@code X/X#k} for this transaction, parts 0..k were applied and are skipped, the others applied. (Replaying
     * applied parts is not harmless: a replayed update whose TOASTed value was not sent, for a key a later part moved,
     * would re-create that row without the value.) Parts split the same way on every replay: by maxBatchSize.
     *
     * @param part the part's index, or null when unknown (then every earlier part of a partly applied transaction
     *             is applied again)
     */
    public static boolean alreadyApplied(Position.Log position, boolean last, Integer part, String stored) {
        if (stored == null) {
            return false;
        }
        long at;
        try {
            at = parseLsn(stored);
        } catch (IllegalArgumentException e) {
            return false;
        }
        int c = Long.compareUnsigned(at, position.commitLsn());
        if (last || c != 0) {
            return last ? c >= 0 : c > 0;
        }
        int hash = stored.indexOf('#');
        if (hash < 0 || part == null) {
            return false; // the previous transaction's end LSN, or unknown parts: apply
        }
        try {
            return part <= Integer.parseInt(stored.substring(hash + 1).strip());
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
