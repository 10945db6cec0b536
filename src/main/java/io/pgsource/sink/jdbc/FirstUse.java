package io.pgsource.sink.jdbc;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.sink.plan.WritePlan;
import io.pgsource.sink.plan.WritePlanner;
import io.pgsource.state.HeldColumns;
import io.pgsource.state.Positions;
import java.util.Collection;
import java.util.List;
import java.util.Set;

/**
 * The JVM's first-use work on the path every streamed transaction takes into the postgres destination, done before
 * streaming starts instead of by the first transaction: planning a batch, the SQL text and COPY encoding of its rows,
 * its position's text, the record of held columns read and written. On values made up here, in memory only: nothing
 * goes to the destination, and no cache of the destination's is touched.
 */
final class FirstUse {
    private FirstUse() {
    }

    /** Held-columns records parsed and written again: the first few do the first-use work, the others would add nothing. */
    private static final int HELD_RECORDS = 3;

    /** @param heldRecords the stored records of held columns read ahead (a few parsed and written again, in memory) */
    static void run(Collection<String> heldRecords) throws Exception {
        for (String stored : heldRecords.stream().limit(HELD_RECORDS).toList()) {
            try {
                HeldColumns.parse(stored).serialize();
            } catch (IllegalArgumentException e) {
                // an unreadable record: its table's first check warns about it
            }
        }
        TableSchema schema = new TableSchema(new TableId("pgsource", "first_use"), List.of(new Column("id", 20, "bigint", "bigint"),
                new Column("v", 25, "text", "text")), List.of("id"));
        Position.Log at = new Position.Log(0x1000, 1, null);
        Row one = new Row(schema, new Object[] {1L, "a"});
        Row two = new Row(schema, new Object[] {2L, "b"});
        ChangeBatch batch = new ChangeBatch(List.of(new ChangeEvent(Op.INSERT, schema, null, one, Set.of(), at),
                new ChangeEvent(Op.UPDATE, schema, one, two, Set.of(), at)), at, true);
        WritePlan plan = WritePlanner.plan(batch);
        plan.schemas();
        Positions.value(at, true, null);
        TargetTable target = new TargetTable(schema.id(), schema, List.of("bigint", "text"), false, Set.of());
        // a record's hashCode and equals make their method handles at their first call: the route thread's maps and sets
        // key on these (TargetTables' shapes, the staging writer's tables), and Column's alone took about 4 ms of the
        // first streamed transaction (async-profiler, performance.md)
        List<Object> shape = List.of(schema.id(), schema.columns(), schema.key(), schema.generatedNotInRows(), Set.of());
        shape.hashCode();
        shape.equals(List.copyOf(shape));
        target.hashCode();
        target.equals(target);
        TargetTables.generated(schema);
        int[] written = RowWriter.writtenColumns(target, Set.of());
        RowWriter.columnList(target, written);
        RowWriter.onConflict(target, written);
        CopyTextBuffer buffer = new CopyTextBuffer((bytes, length) -> {
        });
        boolean[] asArrived = CopyStagingWriter.asArrived(target);
        for (Row row : List.of(one, two)) {
            if (!buffer.line(row, written, asArrived)) {
                buffer.row(row, written, asArrived);
            }
        }
        buffer.flush();
    }
}
