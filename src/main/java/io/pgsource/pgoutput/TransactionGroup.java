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
    private final Map<TableId, TableSchema> shapes = new HashMap<>();
    private final int maxChanges;
    /** Whether more transactions may join: the first one is combinable. */
    private final boolean open;
    private int changes;

    TransactionGroup(TransactionPart first, int maxChanges) {
        this.maxChanges = maxChanges;
        parts.add(first);
        changes = first.batch().size();
        Map<TableId, TableSchema> firstShapes = combinable(first) ? shapes(first) : null;
        open = firstShapes != null;
        if (open) {
            shapes.putAll(firstShapes);
        }
    }

    /** Whether the next transaction can join the group. */
    boolean accepts(TransactionPart next) {
        if (!open || !combinable(next) || changes + next.batch().size() > maxChanges
                || !Objects.equals(originName(parts.get(0)), originName(next))) {
            return false;
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
        return true;
    }

    /** Adds a transaction {@link #accepts} accepted. */
    void add(TransactionPart next) {
        shapes.putAll(shapes(next));
        parts.add(next);
        changes += next.batch().size();
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
        return new TransactionPart(new ChangeBatch(events, last.batch().position(), true, tables), last.xid(), 0, streamed,
                last.origin(), List.of());
    }

    /** A whole transaction (not a part of a larger one) without logical decoding messages. */
    private static boolean combinable(TransactionPart part) {
        return part.index() == 0 && part.last() && part.messages().isEmpty();
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
