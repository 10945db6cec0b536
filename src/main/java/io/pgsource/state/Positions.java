package io.pgsource.state;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Position;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import io.pgsource.change.TableId;
import io.pgsource.pgoutput.protocol.PgOutputDecoder;
import org.apache.camel.Exchange;

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
     * {@code X/X#n}, the commit record LSN and how many changes of the transaction are applied with it, so a replay
     * after a crash between parts skips exactly those changes, however the parts are cut then; a last part (or a whole
     * transaction) as its commit's end LSN.
     *
     * @param changesThrough how many changes of its transaction the batch and the parts before it carry (the
     *                       {@link io.pgsource.change.ChangeHeaders#TX_CHANGES_BEFORE} header plus the batch's size), or
     *                       null when unknown: then an earlier part is stored as its commit record LSN, and a replay
     *                       applies the whole transaction again
     */
    public static String value(Position position, boolean last, Long changesThrough) {
        if (position instanceof Position.Log log && !last && changesThrough != null) {
            return lsn(log.commitLsn()) + "#" + changesThrough;
        }
        return value(position);
    }

    /**
     * The stream key under which a destination keeps the LSN a table was copied at while its changes streamed from the
     * slot (a table added to the publication later, created while streaming, or copied again after a schema change):
     * {@code slot:<slot>:<schema.table>}.
     */
    public static String copiedAt(String slot, TableId table) {
        return stream(new Position.Log(0, 0, null), slot) + ":" + table;
    }

    /**
     * The stream key under which a destination keeps how far a chunked backfill of a table got
     * ({@code backfill:<schema.table>}), stored with each chunk's rows: the text form of the chunk's last key, and
     * whether the backfill ended (see {@link io.pgsource.backfill.BackfillProgress}).
     */
    public static String backfill(TableId table) {
        return "backfill:" + table;
    }

    /**
     * The batch without the changes that copies of their tables hold: a change of a table copied at LSN C whose
     * transaction's commit record starts below C (its end is at or below C) was committed before the copy's snapshot.
     * Called after the changes applied before are cut off ({@link #appliedChanges}, {@link #withoutApplied}), which count
     * every change of a transaction: so those counts stay the same whatever copies were made since.
     *
     * @param copiedAt the tables copied while streaming and the LSN each was copied at ({@link
     *                 io.pgsource.change.ChangeHeaders#COPIED_AT}); null or empty for none
     */
    public static ChangeBatch withoutCopied(ChangeBatch batch, Map<TableId, Long> copiedAt) {
        if (copiedAt == null || copiedAt.isEmpty()) {
            return batch;
        }
        List<ChangeEvent> rest = null;
        for (int i = 0; i < batch.size(); i++) {
            ChangeEvent e = batch.get(i);
            Long copied = copiedAt.get(e.tableId());
            boolean inCopy = copied != null && inCopy(e, copied);
            if (inCopy && rest == null) {
                rest = new ArrayList<>(batch.subList(0, i));
            } else if (!inCopy && rest != null) {
                rest.add(e);
            }
        }
        return rest == null ? batch : new ChangeBatch(rest, batch.position(), batch.last(), batch.tables());
    }

    /** Whether a copy of the change's table made at LSN {@code copiedAt} holds the change (see {@link #withoutCopied}). */
    public static boolean inCopy(ChangeEvent e, long copiedAt) {
        return e.position() instanceof Position.Log p && Long.compareUnsigned(p.commitLsn(), copiedAt) < 0;
    }

    /** An LSN in PostgreSQL's notation, e.g. {@code 0/16B3748}. */
    public static String lsn(long lsn) {
        return PgOutputDecoder.lsn(lsn);
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
            t = t.substring(0, hash); // X/X#n: a transaction applied in part
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
     * inside a record: the transaction was applied exactly when its commit record starts below the stored LSN. A
     * transaction stored as applied in part ({@code X/X#n}, its earlier parts cut by another maxBatchSize before a
     * restart) loses its first n changes. The batch's own (last) transaction is left to {@link #appliedChanges}.
     */
    public static ChangeBatch withoutApplied(ChangeBatch batch, String stored) {
        if (stored == null || !(batch.position() instanceof Position.Log last)) {
            return batch;
        }
        Stored at = Stored.parse(stored);
        // transactions come in commit order: when the first is not applied, none is (a single transaction's batch, or
        // the usual combined one, costs one comparison)
        if (at == null || batch.isEmpty() || !applied(batch.get(0), last, at, 0)) {
            return batch;
        }
        List<ChangeEvent> rest = null;
        long inTransaction = 0;
        long txId = -1;
        for (int i = 0; i < batch.size(); i++) {
            ChangeEvent e = batch.get(i);
            long tx = e.position() instanceof Position.Log p ? p.txId() : -1;
            inTransaction = tx == txId ? inTransaction + 1 : 0;
            txId = tx;
            boolean applied = applied(e, last, at, inTransaction);
            if (applied && rest == null) {
                rest = new ArrayList<>(batch.subList(0, i));
            } else if (!applied && rest != null) {
                rest.add(e);
            }
        }
        return rest == null ? batch : new ChangeBatch(rest, batch.position(), batch.last(), batch.tables());
    }

    /** Whether an event of a combined batch belongs to an earlier transaction the stored LSN {@code at} covers. */
    private static boolean applied(ChangeEvent e, Position.Log last, Stored at, long indexInTransaction) {
        if (!(e.position() instanceof Position.Log p) || p.txId() == last.txId()) {
            return false;
        }
        int c = Long.compareUnsigned(p.commitLsn(), at.lsn);
        return c < 0 || (c == 0 && indexInTransaction < at.changes);
    }

    /**
     * Whether a log batch was already applied, as a whole, by a destination that stored {@code stored} for its slot,
     * so a replay must be skipped. See {@link #appliedChanges} for a batch applied in part.
     *
     * @param changesBefore how many changes of its transaction came in earlier parts
     *                      ({@link io.pgsource.change.ChangeHeaders#TX_CHANGES_BEFORE}), or null when unknown
     * @param stored        the stored position of the slot ({@code X/X} or {@code X/X#n}), or null when none
     */
    public static boolean alreadyApplied(ChangeBatch batch, Long changesBefore, String stored) {
        return applied(batch, changesBefore, stored) < 0;
    }

    /**
     * How many of a log batch's leading changes a destination that stored {@code stored} for its slot already applied:
     * the batch's size when it was applied as a whole, else 0, except for a part of a transaction that was applied up
     * to a change inside this part (before a restart, maxBatchSize cut its parts elsewhere): then the changes up to
     * that one.
     *
     * <p>A transaction with more changes than fit one batch comes in parts. Every part but the last carries the
     * commit <em>record</em> LSN and is stored with it and the count of its transaction's changes applied so far
     * ({@code X/X#n}); the last part carries the commit's end LSN, which is above it. So:
     * <ul>
     * <li>the last part (or a whole transaction) was applied when the stored LSN is at or above its LSN;</li>
     * <li>an earlier part was applied when the stored LSN is <em>above</em> its LSN (the whole transaction, or a later
     * one, was applied). The next transaction's commit record may start exactly at the previous one's end LSN, which
     * is why equality alone does not skip it;</li>
     * <li>when the stored position is {@code X/X#n} for this very transaction, its first n changes were applied: they
     * are skipped, whichever parts carry them now. (Replaying applied changes is not harmless: rows of a keyless table
     * would be doubled, and a replayed update whose TOASTed value was not sent, for a key a later change moved, would
     * re-create that row without the value.) When the part's place in its transaction is not known, nothing of it is
     * skipped.</li>
     * </ul>
     */
    public static int appliedChanges(ChangeBatch batch, Long changesBefore, String stored) {
        long applied = applied(batch, changesBefore, stored);
        return applied < 0 ? batch.size() : (int) applied;
    }

    /** -1 when the whole batch was applied, else how many of its leading changes were. */
    private static long applied(ChangeBatch batch, Long changesBefore, String stored) {
        Stored at = Stored.parse(stored);
        if (at == null || !(batch.position() instanceof Position.Log position)) {
            return 0;
        }
        // the commit record LSN of the batch's (last) transaction: what its events carry, and its earlier parts
        long record = batch.last() ? (batch.isEmpty() || !(batch.get(batch.size() - 1).position() instanceof Position.Log e)
                ? -1 : e.commitLsn()) : position.commitLsn();
        if (at.changes >= 0 && record != -1 && at.lsn == record) {
            if (changesBefore == null) {
                return 0; // applied in part, but where this part stands is not known: apply it
            }
            long applied = Math.max(0, at.changes - changesBefore);
            return applied >= batch.size() && !batch.isEmpty() ? -1 : applied;
        }
        int c = Long.compareUnsigned(at.lsn, position.commitLsn());
        return (batch.last() ? c >= 0 : c > 0) ? -1 : 0;
    }

    /** What a destination holds of a transaction it applied while in progress, decided at its commit. */
    public enum Held {
        /** Nothing: commit it. */
        NONE,
        /** All of it (the slot sent it again after a restart): roll it back. */
        ALL,
        /** Its first changes, applied in parts before a restart: roll it back, and apply it after its commit (skipping those). */
        PART
    }

    /**
     * What a destination that stored {@code stored} for its slot holds of a transaction whose commit record is at
     * {@code recordLsn} and ends at {@code endLsn}: the same decision {@link #appliedChanges} makes for its last part.
     */
    public static Held held(long recordLsn, long endLsn, String stored) {
        Stored at = Stored.parse(stored);
        if (at == null) {
            return Held.NONE;
        }
        if (at.changes >= 0 && at.lsn == recordLsn) {
            return Held.PART;
        }
        return Long.compareUnsigned(at.lsn, endLsn) >= 0 ? Held.ALL : Held.NONE;
    }

    /**
     * A stored log position.
     *
     * @param lsn     an end LSN, a copy's consistent point, or the commit record LSN of a transaction applied in part
     * @param changes how many changes of that transaction were applied; -1 for a plain LSN
     */
    private record Stored(long lsn, long changes) {
        static Stored parse(String stored) {
            if (stored == null) {
                return null;
            }
            try {
                long lsn = parseLsn(stored);
                int hash = stored.indexOf('#');
                return new Stored(lsn, hash < 0 ? -1 : Long.parseLong(stored.substring(hash + 1).strip()));
            } catch (IllegalArgumentException e) {
                return null; // NumberFormatException included: not a log position, nothing is skipped
            }
        }
    }
}
