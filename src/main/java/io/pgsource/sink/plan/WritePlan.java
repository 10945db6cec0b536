package io.pgsource.sink.plan;

import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What a table destination applies for one {@link io.pgsource.change.ChangeBatch}: per table (in order of first
 * appearance), a sequence of steps to apply in order, plus the batch's position to store with the data.
 *
 * @param tables   the tables touched by the batch, in order of first appearance
 * @param position the batch's position (what to store in the same transaction as the data)
 * @param last     the batch's {@link io.pgsource.change.ChangeBatch#last()}: false for a part of a source transaction
 *                 that more parts follow (decides whether a replay of it is skipped, see
 *                 {@link io.pgsource.state.Positions#alreadyApplied})
 */
public record WritePlan(List<TablePlan> tables, Position position, boolean last) {

    public WritePlan {
        tables = List.copyOf(tables);
    }

    /** A plan of a whole batch ({@code last} true). */
    public WritePlan(List<TablePlan> tables, Position position) {
        this(tables, position, true);
    }

    /** Every distinct table schema the plan uses, in order of first use (what the writer must create or check). */
    public List<TableSchema> schemas() {
        List<TableSchema> out = new ArrayList<>();
        Set<TableSchema> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (TablePlan t : tables) {
            for (Step s : t.steps()) {
                for (TableSchema schema : s.schemas()) {
                    if (seen.add(schema)) {
                        out.add(schema);
                    }
                }
            }
        }
        return out;
    }

    /** The steps of one table, to apply in order. */
    public record TablePlan(TableId table, List<Step> steps) {
        public TablePlan {
            steps = List.copyOf(steps);
        }
    }

    /** One step of a table's plan. */
    public sealed interface Step permits Truncate, Segment, Move, Append, RemoveOne {
        /** The table schemas this step's rows use. */
        List<TableSchema> schemas();
    }

    /** Empty the table. */
    public record Truncate(TableSchema schema) implements Step {
        @Override
        public List<TableSchema> schemas() {
            return List.of(schema);
        }
    }

    /**
     * Changes of a keyed table collapsed per key: each key appears at most once in the whole segment (in a delete
     * or in one upsert group), so deletes and upserts may be applied in any order; writers apply deletes first.
     *
     * @param deletes rows holding the keys to delete, grouped by table schema
     * @param upserts rows to insert or update, grouped by table schema and unchanged-column set
     */
    public record Segment(List<Deletes> deletes, List<Upserts> upserts) implements Step {
        public Segment {
            deletes = List.copyOf(deletes);
            upserts = List.copyOf(upserts);
        }

        @Override
        public List<TableSchema> schemas() {
            List<TableSchema> out = new ArrayList<>();
            deletes.forEach(d -> out.add(d.schema()));
            upserts.forEach(u -> out.add(u.schema()));
            return out;
        }
    }

    /**
     * Rows whose key is to be deleted.
     *
     * @param schema the schema of every row (its key columns say what to match)
     * @param rows   rows holding at least the key values
     */
    public record Deletes(TableSchema schema, List<Row> rows) {
        public Deletes {
            rows = List.copyOf(rows);
        }
    }

    /**
     * Rows to insert, or to update when their key exists.
     *
     * @param schema    the schema of every row
     * @param unchanged columns the source did not send (unchanged TOAST): the writer must leave them alone
     * @param rows      the new rows, one per key
     * @param inserts   every row is complete and new at the source (read by the batch query, or inserted), so it is
     *                  most likely new at the destination too: a writer may insert them plainly and fall back to the
     *                  upsert when a key exists (same result, less work)
     */
    public record Upserts(TableSchema schema, Set<String> unchanged, List<Row> rows, boolean inserts) {
        public Upserts {
            unchanged = Set.copyOf(unchanged);
            rows = List.copyOf(rows);
            if (inserts && !unchanged.isEmpty()) {
                throw new IllegalArgumentException("rows with unchanged columns are updates, not inserts");
            }
        }

        /** Rows that may update existing ones (not known to be inserts). */
        public Upserts(TableSchema schema, Set<String> unchanged, List<Row> rows) {
            this(schema, unchanged, rows, false);
        }
    }

    /**
     * A key change whose new row lacks unchanged-TOAST values: the destination row moves to the new key and keeps
     * those columns. (Without unchanged columns a key change is a plain delete plus upsert inside a segment.)
     *
     * @param from      a row holding the old key
     * @param to        the new row
     * @param unchanged columns of {@code to} the source did not send
     */
    public record Move(Row from, Row to, Set<String> unchanged) implements Step {
        public Move {
            Objects.requireNonNull(from, "from");
            Objects.requireNonNull(to, "to");
            unchanged = Set.copyOf(unchanged);
        }

        @Override
        public List<TableSchema> schemas() {
            return from.schema() == to.schema() ? List.of(to.schema()) : List.of(from.schema(), to.schema());
        }
    }

    /** Rows of a keyless table to add as they are (duplicates included), in order. */
    public record Append(TableSchema schema, List<Row> rows) implements Step {
        public Append {
            rows = List.copyOf(rows);
        }

        @Override
        public List<TableSchema> schemas() {
            return List.of(schema);
        }
    }

    /** Remove one row of a keyless table equal to this full old row (one copy, if there are duplicates). */
    public record RemoveOne(Row row) implements Step {
        @Override
        public List<TableSchema> schemas() {
            return List.of(row.schema());
        }
    }
}
