package io.pgsource.sink.plan;

import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.delete;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.page;
import static io.pgsource.sink.TestChanges.read;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static io.pgsource.sink.TestChanges.truncate;
import static io.pgsource.sink.TestChanges.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.sink.plan.WritePlan.Append;
import io.pgsource.sink.plan.WritePlan.Move;
import io.pgsource.sink.plan.WritePlan.RemoveOne;
import io.pgsource.sink.plan.WritePlan.Segment;
import io.pgsource.sink.plan.WritePlan.Step;
import io.pgsource.sink.plan.WritePlan.Truncate;
import io.pgsource.sink.plan.WritePlan.Upserts;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class WritePlannerTest {
    private static final Position P = page("s.t", "42");
    private final TableSchema t = table("s", "t", List.of("id"), col("id", "bigint"), col("v", "text"), col("big", "text"));

    private Row r(long id, String v, String big) {
        return row(t, id, v, big);
    }

    private static List<Step> steps(WritePlan plan, int table) {
        return plan.tables().get(table).steps();
    }

    @Test
    void severalChangesOfOneKeyCollapseToTheLast() {
        WritePlan plan = WritePlanner.plan(batch(P,
                insert(r(1, "a", "x")), update(null, r(1, "b", "x")), update(null, r(1, "c", "x")),
                insert(r(2, "a", "y")), delete(r(2, null, null)),
                delete(r(3, null, null)), insert(r(3, "again", "z"))));

        assertThat(plan.position()).isEqualTo(P);
        assertThat(plan.tables()).hasSize(1);
        List<Step> steps = steps(plan, 0);
        assertThat(steps).hasSize(1);
        Segment seg = (Segment) steps.get(0);
        assertThat(seg.upserts()).hasSize(1);
        assertThat(seg.upserts().get(0).rows()).containsExactly(r(1, "c", "x"), r(3, "again", "z"));
        assertThat(seg.deletes()).hasSize(1);
        assertThat(seg.deletes().get(0).rows()).extracting(Row::key).containsExactly(List.of(2L));
    }

    @Test
    void readRowsAndNewInsertsAreMarkedAsInsertsInSourceOrder() {
        WritePlan plan = WritePlanner.plan(batch(P, read(r(1, "a", "x")), read(r(2, "b", "x")),
                insert(r(3, "c", "x")), update(null, r(4, "d", "x")), delete(r(5, null, null)), insert(r(5, "e", "x")),
                insert(r(6, "f", "x")), update(null, r(6, "g", "x")), read(r(7, "h", "x"))));

        List<Step> steps = steps(plan, 0);
        assertThat(steps).hasSize(3);
        Upserts reads = ((Segment) steps.get(0)).upserts().get(0);
        assertThat(reads.inserts()).isTrue();
        assertThat(reads.rows()).containsExactly(r(1, "a", "x"), r(2, "b", "x"));
        Segment changes = (Segment) steps.get(1);
        assertThat(changes.deletes()).isEmpty();
        assertThat(changes.upserts()).extracting(Upserts::inserts).containsExactly(true, false);
        // a key inserted after its delete, or updated after its insert, may exist at the destination: not an insert
        assertThat(changes.upserts().get(0).rows()).containsExactly(r(3, "c", "x"));
        assertThat(changes.upserts().get(1).rows()).containsExactly(r(4, "d", "x"), r(5, "e", "x"), r(6, "g", "x"));
        assertThat(((Segment) steps.get(2)).upserts().get(0).rows()).containsExactly(r(7, "h", "x"));
    }

    @Test
    void keyChangeDeletesTheOldKeyAndUpsertsTheNewOne() {
        WritePlan plan = WritePlanner.plan(batch(P, insert(r(1, "a", "x")), update(r(1, null, null), r(5, "a2", "x"))));

        Segment seg = (Segment) steps(plan, 0).get(0);
        assertThat(seg.deletes().get(0).rows()).extracting(Row::key).containsExactly(List.of(1L));
        assertThat(seg.upserts().get(0).rows()).containsExactly(r(5, "a2", "x"));
    }

    @Test
    void truncateInTheMiddleClosesTheSegment() {
        WritePlan plan = WritePlanner.plan(batch(P, insert(r(1, "a", "x")), truncate(t), insert(r(1, "b", "y")), insert(r(2, "c", "z"))));

        List<Step> steps = steps(plan, 0);
        assertThat(steps).hasSize(3);
        assertThat(((Segment) steps.get(0)).upserts().get(0).rows()).containsExactly(r(1, "a", "x"));
        assertThat(steps.get(1)).isInstanceOf(Truncate.class);
        assertThat(((Segment) steps.get(2)).upserts().get(0).rows()).containsExactly(r(1, "b", "y"), r(2, "c", "z"));
    }

    @Test
    void keylessTableKeepsDuplicatesAndOrder() {
        TableSchema log = table("s", "log", List.of(), col("msg", "text"), col("n", "integer"));
        Row a = row(log, "a", 1);
        Row b = row(log, "b", 2);
        WritePlan plan = WritePlanner.plan(batch(P, insert(a), insert(a), read(b), delete(a), insert(a), update(b, row(log, "b", 3))));

        List<Step> steps = steps(plan, 0);
        assertThat(steps).containsExactly(
                new Append(log, List.of(a, a, b)),
                new RemoveOne(a),
                new Append(log, List.of(a)),
                new RemoveOne(b),
                new Append(log, List.of(row(log, "b", 3))));
    }

    @Test
    void keylessUpdateTakesUnchangedValuesFromTheFullOldRow() {
        TableSchema log = table("s", "log", List.of(), col("msg", "text"), col("big", "text"));
        WritePlan plan = WritePlanner.plan(batch(P, update(row(log, "a", "BIG"), row(log, "b", null), Set.of("big"))));

        assertThat(steps(plan, 0)).containsExactly(new RemoveOne(row(log, "a", "BIG")), new Append(log, List.of(row(log, "b", "BIG"))));
    }

    @Test
    void upsertsAreGroupedByTheirUnchangedColumns() {
        WritePlan plan = WritePlanner.plan(batch(P,
                update(null, r(1, "a", null), Set.of("big")),
                insert(r(2, "b", "y")),
                update(null, r(3, "c", null), Set.of("big"))));

        Segment seg = (Segment) steps(plan, 0).get(0);
        assertThat(seg.upserts()).extracting(Upserts::unchanged).containsExactly(Set.of("big"), Set.of());
        assertThat(seg.upserts().get(0).rows()).containsExactly(r(1, "a", null), r(3, "c", null));
        assertThat(seg.upserts().get(1).rows()).containsExactly(r(2, "b", "y"));
    }

    @Test
    void unchangedValuesAreTakenFromAnEarlierChangeOfTheSameKey() {
        Row inserted = r(1, "a", "BIG");
        WritePlan plan = WritePlanner.plan(batch(P, insert(inserted), update(null, r(1, "b", null), Set.of("big"))));

        Segment seg = (Segment) steps(plan, 0).get(0);
        assertThat(seg.upserts()).hasSize(1);
        assertThat(seg.upserts().get(0).unchanged()).isEmpty();
        assertThat(seg.upserts().get(0).rows()).containsExactly(r(1, "b", "BIG"));
        assertThat(inserted).isEqualTo(r(1, "a", "BIG"));
    }

    @Test
    void keyChangeWithUnchangedValuesMovesTheDestinationRow() {
        WritePlan plan = WritePlanner.plan(batch(P,
                insert(r(7, "x", "y")),
                update(r(1, null, null), r(2, "b", null), Set.of("big")),
                update(null, r(2, "c", null), Set.of("big"))));

        List<Step> steps = steps(plan, 0);
        assertThat(steps).hasSize(3);
        assertThat(((Segment) steps.get(0)).upserts().get(0).rows()).containsExactly(r(7, "x", "y"));
        assertThat(steps.get(1)).isEqualTo(new Move(r(1, null, null), r(2, "b", null), Set.of("big")));
        assertThat(((Segment) steps.get(2)).upserts().get(0).unchanged()).containsExactly("big");
    }

    @Test
    void tablesKeepFirstAppearanceOrderAndSameNamesInTwoSchemasStayApart() {
        TableSchema a = table("a", "t", List.of("id"), col("id", "bigint"));
        TableSchema b = table("b", "t", List.of("id"), col("id", "bigint"));
        WritePlan plan = WritePlanner.plan(batch(P, insert(row(b, 1L)), insert(row(a, 1L)), insert(row(b, 2L))));

        assertThat(plan.tables()).extracting(WritePlan.TablePlan::table).containsExactly(new TableId("b", "t"), new TableId("a", "t"));
        assertThat(((Segment) steps(plan, 0).get(0)).upserts().get(0).rows()).containsExactly(row(b, 1L), row(b, 2L));
        assertThat(((Segment) steps(plan, 1).get(0)).upserts().get(0).rows()).containsExactly(row(a, 1L));
    }

    @Test
    void aPartOfABiggerTransactionSaysSoInThePlan() {
        Position.Log log = new Position.Log(0x100, 9, null);
        ChangeBatch part = new ChangeBatch(List.of(insert(r(1, "a", "x"))), log, false);
        WritePlan plan = WritePlanner.plan(part);
        assertThat(plan.last()).isFalse();
        assertThat(plan.position()).isEqualTo(log);
        assertThat(WritePlanner.plan(batch(log, insert(r(1, "a", "x")))).last()).isTrue();
    }

    @Test
    void cdcShapedKeyChangesWithKeyOnlyOldRows() {
        Row oldKey = r(1, null, null); // REPLICA IDENTITY DEFAULT sends only the key of the old row
        WritePlan plain = WritePlanner.plan(batch(P, update(oldKey, r(2, "b", "body"))));
        Segment seg = (Segment) steps(plain, 0).get(0);
        assertThat(seg.deletes().get(0).rows()).containsExactly(oldKey);
        assertThat(seg.upserts().get(0).rows()).containsExactly(r(2, "b", "body"));

        WritePlan toast = WritePlanner.plan(batch(P, update(oldKey, r(2, "b", null), Set.of("big"))));
        assertThat(steps(toast, 0)).containsExactly(new Move(oldKey, r(2, "b", null), Set.of("big")));
    }
}
