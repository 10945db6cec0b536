package io.pgsource.backfill;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The stream's side of chunked backfills (Netflix's DBLog, Debezium's incremental snapshots), without I/O: between the
 * low and the high watermark of a chunk it notes which keys of the chunk's table the stream changed, and at the high
 * watermark it says which of the chunk's rows go to the destination.
 *
 * <p>A chunk is read after its low watermark committed and before its high one did. For a key no transaction committed
 * between the two changed, the chunk's row is the row as it stands at the high watermark: it is sent there, as a READ
 * (an upsert). A key the stream changed in between (inserted, updated, deleted, or moved away or to by a primary-key
 * change) the stream itself delivers as it is then, so the chunk's row, which may be older, is left out. One exception:
 * an update that did not send a TOASTed value (unchanged) leaves it to the destination, which may not hold the row yet.
 * For such a key the chunk's row fills exactly the columns no change between the watermarks sent (their value did not
 * change meanwhile, so the chunk's is right), as an UPDATE that keeps the others ({@link ChangeEvent#unchanged()}).
 *
 * <p>Not thread-safe: the caller synchronises. {@link #expect} comes from the backfill's thread, {@link #observe} from
 * the stream's.
 */
public final class ChunkWindows {
    /** The canonical key of a row of its table (the same value whichever path read the row), or null when unknown. */
    @FunctionalInterface
    public interface KeyOf {
        List<Object> key(Row row);
    }

    /** A watermark and how many of its transaction part's events came before it. */
    public record Mark(int eventIndex, Watermark watermark) {
    }

    /**
     * The chunks each run reads now, by run and chunk ({@code run:chunk}), each open once its low watermark came: the
     * next chunk of a run may be read while the stream has not yet met the previous one's high watermark.
     */
    private final Map<String, Window> windows = new HashMap<>();

    /**
     * The next chunk of a run: its low watermark opens its window. Call before writing the low watermark.
     *
     * @param keyOf the key of a row of the table by its primary key's columns (those of the chunk, whatever replica
     *              identity the stream's rows say)
     */
    public void expect(String run, TableId table, long chunk, KeyOf keyOf) {
        // the run's chunks before the previous one are applied: their watermarks, replayed, change nothing any more
        windows.values().removeIf(w -> w.run.equals(run) && w.chunk < chunk - 1);
        windows.put(run + ":" + chunk, new Window(run, table, chunk, keyOf));
    }

    /** Whether a chunk is expected or read: the stream's changes must be followed in commit order. */
    public boolean watching() {
        return !windows.isEmpty();
    }

    /** The run ended: its watermarks are ignored from now on. */
    public void forget(String run) {
        windows.values().removeIf(w -> w.run.equals(run));
    }

    /** The snapshot the run's current chunk was read in: call after the read, before writing the high watermark. */
    public void readIn(String run, long chunk, ReadSnapshot snapshot) {
        Window window = windows.get(run + ":" + chunk);
        if (window != null) {
            window.snapshot = snapshot;
        }
    }

    /**
     * Follows one delivery of the stream: its events in order, and the watermarks among them.
     *
     * @return the windows the delivery's high watermarks closed, in order
     */
    public List<Closed> observe(List<ChangeEvent> events, List<Mark> marks) {
        if (windows.isEmpty()) {
            return List.of();
        }
        List<Closed> closed = new ArrayList<>();
        int next = 0;
        for (Mark mark : marks) {
            for (; next < Math.min(mark.eventIndex(), events.size()); next++) {
                note(events.get(next));
            }
            Watermark w = mark.watermark();
            Window window = windows.get(w.run() + ":" + w.chunk());
            if (window == null) {
                continue; // a run before a restart, or a chunk already done
            }
            if (!w.high()) {
                window.open = true;
                window.during.clear(); // a replay of the low watermark: the changes after it come again
            } else if (window.open) {
                window.open = false;
                closed.add(new Closed(w.run(), window.table, window.chunk, window.changes()));
            }
        }
        for (; next < events.size(); next++) {
            note(events.get(next));
        }
        return closed;
    }

    private void note(ChangeEvent e) {
        for (Window window : windows.values()) {
            if (window.table.equals(e.tableId())) {
                (window.open ? window.during : window.before).add(e);
            }
        }
    }

    private static final class Window {
        final String run;
        final TableId table;
        final long chunk;
        final KeyOf keyOf;
        boolean open;
        /** The table's changes the stream delivered after the chunk was expected and before its low watermark. */
        final List<ChangeEvent> before = new ArrayList<>();
        /** Those between its watermarks. */
        final List<ChangeEvent> during = new ArrayList<>();
        ReadSnapshot snapshot;

        Window(String run, TableId table, long chunk, KeyOf keyOf) {
            this.run = run;
            this.table = table;
            this.chunk = chunk;
            this.keyOf = keyOf;
        }

        /**
         * What the chunk's rows must give way to: every change between the watermarks, and those before the low one of
         * transactions the read did not see (all of them when its snapshot is not known).
         */
        Changes changes() {
            Changes changes = new Changes();
            for (ChangeEvent e : before) {
                if (snapshot == null || !(e.position() instanceof Position.Log log) || snapshot.unseen(log.txId())) {
                    changes.note(e, keyOf);
                }
            }
            for (ChangeEvent e : during) {
                changes.note(e, keyOf);
            }
            return changes;
        }
    }

    /** A window the high watermark closed, and what the stream changed in it. */
    public record Closed(String run, TableId table, long chunk, Changes changes) {
    }

    /** What the stream changed of one table between a chunk's watermarks. */
    public static final class Changes {
        /** Per key: the columns changes sent, whether one left a value unchanged, whether the row is gone. */
        private final Map<List<Object>, KeyState> keys = new HashMap<>();
        private boolean truncated;

        private static final class KeyState {
            final Set<String> sent = new HashSet<>();
            boolean partial;
            boolean gone;
        }

        void note(ChangeEvent e, KeyOf keyOf) {
            switch (e.op()) {
                case INSERT, UPDATE -> {
                    List<Object> old = e.before() == null ? null : keyOf.key(e.before());
                    List<Object> now = e.after() == null ? null : keyOf.key(e.after());
                    if (old != null && !old.equals(now)) {
                        state(old).gone = true; // a primary-key change: the old key is gone
                    }
                    if (now != null) {
                        KeyState s = state(now);
                        s.gone = false;
                        for (Column c : e.after().schema().columns()) {
                            if (!e.unchanged().contains(c.name())) {
                                s.sent.add(c.name());
                            }
                        }
                        s.partial |= !e.unchanged().isEmpty();
                    }
                }
                case DELETE -> {
                    List<Object> old = e.before() == null ? null : keyOf.key(e.before());
                    if (old != null) {
                        state(old).gone = true;
                    }
                }
                case TRUNCATE -> truncated = true;
                default -> {
                }
            }
        }

        private KeyState state(List<Object> key) {
            return keys.computeIfAbsent(key, k -> new KeyState());
        }

        /**
         * The deletes of keys a repair asked for that the chunk's read did not find at the source: for each key no change
         * between the watermarks touched (the stream delivers the others as they are), a DELETE of its row at the
         * destination, whose old row holds the key's columns only.
         */
        public List<ChangeEvent> deletes(List<Row> absent, KeyOf keyOf, Position position) {
            List<ChangeEvent> events = new ArrayList<>(absent.size());
            if (truncated) {
                return events;
            }
            for (Row row : absent) {
                if (!keys.containsKey(keyOf.key(row))) {
                    events.add(new ChangeEvent(Op.DELETE, row.schema(), row, null, java.util.Set.of(), position));
                }
            }
            return events;
        }

        /** How many keys the stream changed. */
        public int size() {
            return keys.size();
        }

        /**
         * The events that send the chunk's rows, in key order: a READ for each row the stream did not change, an UPDATE
         * filling the columns no change sent for a row an update left a value unchanged of, nothing for the others.
         */
        public List<ChangeEvent> of(List<Row> chunk, KeyOf keyOf, Position position) {
            List<ChangeEvent> events = new ArrayList<>(chunk.size());
            if (truncated) {
                return events; // every row the chunk read was truncated after it: the stream holds the table since
            }
            for (Row row : chunk) {
                KeyState s = keys.get(keyOf.key(row));
                if (s == null) {
                    events.add(ChangeEvent.read(row, position));
                } else if (s.partial && !s.gone) {
                    // the key columns are written (the same values): a destination finds the row by them
                    Set<String> keep = new LinkedHashSet<>();
                    for (Column c : row.schema().columns()) {
                        if (s.sent.contains(c.name()) && !row.schema().key().contains(c.name())) {
                            keep.add(c.name());
                        }
                    }
                    if (keep.size() + row.schema().key().size() < row.schema().size()) {
                        events.add(new ChangeEvent(Op.UPDATE, row.schema(), null, row, keep, position));
                    }
                }
            }
            return events;
        }
    }
}
