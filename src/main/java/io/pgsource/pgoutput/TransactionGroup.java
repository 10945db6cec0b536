package io.pgsource.pgoutput;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.pgoutput.protocol.TransactionPart;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Consecutive whole transactions that go to the route as one exchange ({@code combineTransactions}), so a destination
 * commits them together: one commit and one stored position instead of one per small transaction. The combined part
 * is applied as a whole or not at all, and it is acknowledged at its last commit, so a restart replays all of it or
 * none. Its events keep their own transaction's position; its batch position, xid and commit time are the last
 * transaction's.
 *
 * <p>Only whole transactions without logical decoding messages and from the same origin are combined, at most
 * {@code maxBatchSize} changes together, and never two that see a table in different shapes (a Relation message came
 * between them): a destination then meets one shape per table and exchange, as without combining.
 */
final class TransactionGroup {
    private final List<TransactionPart> parts = new ArrayList<>();
    private final int maxChanges;
    /** The tables the group's transactions touch, with their shapes; null until a transaction asks to join. */
    private Map<TableId, TableSchema> shapes;
    /** The last transaction {@link #accepts} accepted, and its tables: what {@link #add} adds. */
    private TransactionPart accepted;
    private Map<TableId, TableSchema> acceptedShapes;
    private int changes;

    TransactionGroup(TransactionPart first, int maxChanges) {
        this.maxChanges = maxChanges;
        parts.add(first);
        changes = first.batch().size();
    }

    /** Whether the next transaction can join the group. */
    boolean accepts(TransactionPart next) {
        TransactionPart first = parts.get(0);
        if (!combinable(first) || !combinable(next) || changes + next.batch().size() > maxChanges
                || !Objects.equals(originName(first), originName(next))) {
            return false;
        }
        if (shapes == null) {
            // only now that a transaction waits behind it: a part delivered alone is never walked here
            Map<TableId, TableSchema> firstShapes = shapes(first);
            if (firstShapes == null) {
                return false; // the first transaction changed a table's shape: it goes alone
            }
            shapes = new HashMap<>(firstShapes);
        }
        Map<TableId, TableSchema> nextShapes = shapes(next);
        if (nextShapes == null) {
            return false;
        }
        for (Map.Entry<TableId, TableSchema> e : nextShapes.entrySet()) {
            TableSchema seen = shapes.get(e.getKey());
            if (seen != null && seen != e.getValue()) {
                return false;
            }
        }
        accepted = next;
        acceptedShapes = nextShapes;
        return true;
    }

    /** Adds the transaction {@link #accepts} accepted last. */
    void add(TransactionPart next) {
        if (next != accepted) {
            throw new IllegalStateException("add() takes the transaction accepts() accepted last");
        }
        shapes.putAll(acceptedShapes);
        parts.add(next);
        changes += next.batch().size();
        accepted = null;
        acceptedShapes = null;
    }

    List<TransactionPart> parts() {
        return List.copyOf(parts);
    }

    /** One part holding the events of the given whole transactions, in order, with the last one's position. */
    static TransactionPart combine(List<TransactionPart> parts) {
        List<ChangeEvent> events = new ArrayList<>();
        List<TableSchema> tables = new ArrayList<>();
        boolean streamed = false;
        for (TransactionPart p : parts) {
            events.addAll(p.batch());
            tables.addAll(p.batch().tables());
            streamed |= p.streamed();
        }
        TransactionPart last = parts.get(parts.size() - 1);
        return new TransactionPart(new ChangeBatch(events, last.batch().position(), true, tables), last.xid(), 0, 0, streamed,
                last.origin(), List.of());
    }

    /**
     * A whole transaction (not a part of a larger one) without logical decoding messages, not handed over in progress
     * (its parts are provisional until the destination committed it on its own).
     */
    private static boolean combinable(TransactionPart part) {
        return part.index() == 0 && part.last() && part.messages().isEmpty() && part.inProgress() == null;
    }

    private static String originName(TransactionPart part) {
        return part.origin() == null ? null : part.origin().name();
    }

    /**
     * The tables a transaction touches, each with the shape its events see (the same instance while unchanged); null
     * when a table's shape changed inside the transaction (it then goes alone).
     */
    private static Map<TableId, TableSchema> shapes(TransactionPart part) {
        Map<TableId, TableSchema> shapes = new HashMap<>();
        TableSchema previous = null;
        for (ChangeEvent e : part.batch()) {
            if (e.table() != previous) {
                previous = e.table();
                TableSchema seen = shapes.putIfAbsent(e.tableId(), e.table());
                if (seen != null && seen != e.table()) {
                    return null;
                }
            }
        }
        return shapes;
    }
}
