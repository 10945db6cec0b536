package io.pgsource.sink.plan;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.sink.plan.WritePlan.Append;
import io.pgsource.sink.plan.WritePlan.Deletes;
import io.pgsource.sink.plan.WritePlan.Move;
import io.pgsource.sink.plan.WritePlan.RemoveOne;
import io.pgsource.sink.plan.WritePlan.Segment;
import io.pgsource.sink.plan.WritePlan.Step;
import io.pgsource.sink.plan.WritePlan.TablePlan;
import io.pgsource.sink.plan.WritePlan.Truncate;
import io.pgsource.sink.plan.WritePlan.Upserts;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Plans a table destination's writes: turns a {@link ChangeBatch} into a {@link WritePlan}. Table destinations (postgres,
 * mysql) call it privately inside their {@code write}; no route sees a plan.
 *
 * <p>Per table, in order of first appearance: changes of a keyed table collapse per key (the last change of a key
 * wins: READ/INSERT/UPDATE upsert the new row, DELETE deletes the key, an UPDATE that changes the key deletes the
 * old key and upserts the new one); a TRUNCATE closes the current segment. A keyless table keeps every change in
 * order: rows are appended as they are (duplicates included) and deletes remove one row equal to the old row.
 * Upserts are grouped by their unchanged-TOAST column set, so the writer can leave those columns alone, and by
 * whether they are inserts (rows READ by the batch query, or INSERTed and not deleted before in the batch), which a
 * writer may insert plainly. READ rows come from one scan of a table, so their keys are distinct: they skip the
 * per-key collapse.
 */
public final class WritePlanner {
    private WritePlanner() {
    }

    /** The write plan of a batch. Does not modify the batch's rows. */
    public static WritePlan plan(ChangeBatch batch) {
        Map<TableId, TableSteps> tables = new LinkedHashMap<>();
        TableSchema lastTable = null;
        TableSteps last = null;
        for (ChangeEvent e : batch) {
            // a batch's changes mostly come table by table (a page is one table's): no map look-up per change then
            if (e.table() != lastTable) {
                last = tables.computeIfAbsent(e.tableId(), id -> e.table().hasKey() ? new KeyedSteps() : new KeylessSteps());
                lastTable = e.table();
            }
            last.add(e);
        }
        List<TablePlan> out = new ArrayList<>(tables.size());
        tables.forEach((id, steps) -> out.add(new TablePlan(id, steps.finish())));
        for (TableSchema table : batch.tables()) {
            if (!tables.containsKey(table.id())) {
                // no rows, but the table must exist at the destination (an empty source table)
                out.add(new TablePlan(table.id(), List.of(new Segment(List.of(), List.of(new Upserts(table, Set.of(), List.of()))))));
            }
        }
        return new WritePlan(out, batch.position(), batch.last());
    }

    private abstract static class TableSteps {
        final List<Step> steps = new ArrayList<>();

        abstract void add(ChangeEvent e);

        abstract void close();

        List<Step> finish() {
            close();
            return steps;
        }

        static Row require(Row row, ChangeEvent e, String which) {
            if (row == null) {
                throw new IllegalArgumentException(e.op() + " on " + e.tableId() + " has no " + which + " row");
            }
            return row;
        }
    }

    /** A table with a key: collapse per key inside segments. */
    private static final class KeyedSteps extends TableSteps {
        private sealed interface Action permits Upsert, Delete {
        }

        /** @param insert the row is new at the source (INSERT), as far as this segment knows */
        private record Upsert(Row row, Set<String> unchanged, boolean insert) implements Action {
        }

        private record Delete(Row row) implements Action {
        }

        private final Map<List<Object>, Action> pending = new LinkedHashMap<>();
        /**
         * READ rows in order, outside the per-key map: rows read by the batch query come from one scan of the table,
         * so their keys are distinct and there is nothing to collapse (no map entry per row on the hot path).
         */
        private List<Row> reads;
        private TableSchema readsSchema;

        @Override
        void add(ChangeEvent e) {
            if (e.op() == Op.READ) {
                read(require(e.after(), e, "after"));
                return;
            }
            flushReads();
            switch (e.op()) {
                case TRUNCATE -> {
                    close();
                    steps.add(new Truncate(e.table()));
                }
                case INSERT -> upsert(require(e.after(), e, "after"), e.unchanged(), e.unchanged().isEmpty());
                case UPDATE -> update(e);
                case DELETE -> {
                    Row before = require(e.before(), e, "before");
                    pending.put(before.key(), new Delete(before));
                }
                default -> throw new IllegalStateException(e.op().toString());
            }
        }

        private void read(Row row) {
            if (!pending.isEmpty()) {
                close(); // changes before the reads are applied before them
            }
            if (reads != null && readsSchema != row.schema()) {
                flushReads();
            }
            if (reads == null) {
                reads = new ArrayList<>();
                readsSchema = row.schema();
            }
            reads.add(row);
        }

        private void flushReads() {
            if (reads != null) {
                steps.add(new Segment(List.of(), List.of(new Upserts(readsSchema, Set.of(), reads, true))));
                reads = null;
                readsSchema = null;
            }
        }

        private void update(ChangeEvent e) {
            Row after = require(e.after(), e, "after");
            Row before = e.before();
            if (before == null || before.key().equals(after.key())) {
                upsert(after, e.unchanged(), false);
                return;
            }
            // the key changed: the old key goes away, the new one gets the row
            List<Object> oldKey = before.key();
            Upsert moved = fill(after, e.unchanged(), pending.get(oldKey));
            if (moved.unchanged().isEmpty()) {
                pending.put(oldKey, new Delete(before));
                upsert(moved.row(), Set.of(), false);
            } else {
                // values we do not have live in the destination row under the old key: move that row
                close();
                steps.add(new Move(before, moved.row(), moved.unchanged()));
            }
        }

        private void upsert(Row after, Set<String> unchanged, boolean insert) {
            List<Object> key = after.key();
            Action earlier = pending.get(key);
            Upsert filled = fill(after, unchanged, earlier);
            // a key inserted again after its delete most likely still exists at the destination: not an insert there
            boolean stillInsert = insert && filled.insert() && !(earlier instanceof Delete);
            pending.put(key, stillInsert == filled.insert() ? filled : new Upsert(filled.row(), filled.unchanged(), stillInsert));
        }

        /** The row with the unchanged columns taken from an earlier upsert of the same row, where it has them. */
        private static Upsert fill(Row after, Set<String> unchanged, Action earlier) {
            if (unchanged.isEmpty() || !(earlier instanceof Upsert prev)) {
                return new Upsert(after, unchanged, unchanged.isEmpty());
            }
            Row filled = copy(after);
            Set<String> still = new HashSet<>();
            for (String column : unchanged) {
                int from = prev.row().schema().indexOf(column);
                int to = filled.schema().indexOf(column);
                if (from >= 0 && to >= 0 && !prev.unchanged().contains(column)) {
                    filled.set(to, prev.row().get(from));
                } else {
                    still.add(column);
                }
            }
            return new Upsert(filled, still, false);
        }

        @Override
        void close() {
            flushReads();
            if (pending.isEmpty()) {
                return;
            }
            List<Deletes> deletes = new ArrayList<>();
            List<Upserts> upserts = new ArrayList<>();
            List<List<Row>> deleteRows = new ArrayList<>();
            List<List<Row>> upsertRows = new ArrayList<>();
            for (Action a : pending.values()) {
                if (a instanceof Delete d) {
                    int g = indexOf(deletes, d.row().schema(), null, false);
                    if (g < 0) {
                        deletes.add(new Deletes(d.row().schema(), List.of()));
                        deleteRows.add(new ArrayList<>());
                        g = deletes.size() - 1;
                    }
                    deleteRows.get(g).add(d.row());
                } else if (a instanceof Upsert u) {
                    int g = indexOf(upserts, u.row().schema(), u.unchanged(), u.insert());
                    if (g < 0) {
                        upserts.add(new Upserts(u.row().schema(), u.unchanged(), List.of(), u.insert()));
                        upsertRows.add(new ArrayList<>());
                        g = upserts.size() - 1;
                    }
                    upsertRows.get(g).add(u.row());
                }
            }
            for (int i = 0; i < deletes.size(); i++) {
                deletes.set(i, new Deletes(deletes.get(i).schema(), deleteRows.get(i)));
            }
            for (int i = 0; i < upserts.size(); i++) {
                Upserts u = upserts.get(i);
                upserts.set(i, new Upserts(u.schema(), u.unchanged(), upsertRows.get(i), u.inserts()));
            }
            steps.add(new Segment(deletes, upserts));
            pending.clear();
        }

        /** Groups are few (one per schema version, unchanged set and insert-or-not), so a scan is enough. */
        private static int indexOf(List<?> groups, TableSchema schema, Set<String> unchanged, boolean inserts) {
            for (int i = 0; i < groups.size(); i++) {
                Object g = groups.get(i);
                if (g instanceof Deletes d && d.schema() == schema) {
                    return i;
                }
                if (g instanceof Upserts u && u.schema() == schema && u.unchanged().equals(unchanged) && u.inserts() == inserts) {
                    return i;
                }
            }
            return -1;
        }
    }

    /** A table without a key: every change in order, rows compared whole. */
    private static final class KeylessSteps extends TableSteps {
        private List<Row> appending;
        private TableSchema appendingSchema;

        @Override
        void add(ChangeEvent e) {
            switch (e.op()) {
                case TRUNCATE -> {
                    close();
                    steps.add(new Truncate(e.table()));
                }
                case READ, INSERT -> append(fromBefore(require(e.after(), e, "after"), e.unchanged(), null));
                case UPDATE -> {
                    Row before = require(e.before(), e, "before (a table without key needs REPLICA IDENTITY FULL)");
                    close();
                    steps.add(new RemoveOne(before));
                    append(fromBefore(require(e.after(), e, "after"), e.unchanged(), before));
                }
                case DELETE -> {
                    Row before = require(e.before(), e, "before (a table without key needs REPLICA IDENTITY FULL)");
                    close();
                    steps.add(new RemoveOne(before));
                }
            }
        }

        /** With REPLICA IDENTITY FULL the old row is complete, so it holds the values of unchanged columns. */
        private static Row fromBefore(Row after, Set<String> unchanged, Row before) {
            if (unchanged.isEmpty() || before == null) {
                return after;
            }
            Row filled = copy(after);
            for (String column : unchanged) {
                int from = before.schema().indexOf(column);
                int to = filled.schema().indexOf(column);
                if (from >= 0 && to >= 0) {
                    filled.set(to, before.get(from));
                }
            }
            return filled;
        }

        private void append(Row row) {
            if (appending != null && appendingSchema != row.schema()) {
                close();
            }
            if (appending == null) {
                appending = new ArrayList<>();
                appendingSchema = row.schema();
            }
            appending.add(row);
        }

        @Override
        void close() {
            if (appending != null) {
                steps.add(new Append(appendingSchema, appending));
                appending = null;
                appendingSchema = null;
            }
        }
    }

    private static Row copy(Row row) {
        Object[] values = new Object[row.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = row.get(i);
        }
        return new Row(row.schema(), values);
    }
}
