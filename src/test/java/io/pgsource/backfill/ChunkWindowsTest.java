package io.pgsource.backfill;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The stream's side of a chunked backfill, without a server: which of a chunk's rows go to the destination, and how. */
class ChunkWindowsTest {
    private static final TableId T = new TableId("app", "t");
    private static final TableSchema SCHEMA = new TableSchema(T, List.of(new Column("id", 23, "integer", "integer"),
            new Column("v", 25, "text", "text"), new Column("doc", 25, "text", "text")), List.of("id"));
    private static final TableSchema OTHER = new TableSchema(new TableId("app", "other"), SCHEMA.columns(), List.of("id"));
    private static final ChunkWindows.KeyOf KEY = Keys.raw(List.of("id"));
    private static final Position.Batch PROGRESS = new Position.Batch("backfill:app.t", "{}");

    private static Row row(TableSchema schema, String id, String v, String doc) {
        return new Row(schema, new Object[] {id, v, doc});
    }

    private static Position.Log tx(long xid) {
        return new Position.Log(1000 + xid, xid, null);
    }

    private static ChangeEvent insert(String id, long xid) {
        return new ChangeEvent(Op.INSERT, SCHEMA, null, row(SCHEMA, id, "new", "doc"), Set.of(), tx(xid));
    }

    private static ChangeEvent update(String id, Set<String> unchanged, long xid) {
        return new ChangeEvent(Op.UPDATE, SCHEMA, null, row(SCHEMA, id, "upd", unchanged.contains("doc") ? null : "doc2"), unchanged, tx(xid));
    }

    private static ChangeEvent move(String from, String to, long xid) {
        return new ChangeEvent(Op.UPDATE, SCHEMA, row(SCHEMA, from, null, null), row(SCHEMA, to, "moved", "doc"), Set.of(), tx(xid));
    }

    private static ChangeEvent delete(String id, long xid) {
        return new ChangeEvent(Op.DELETE, SCHEMA, row(SCHEMA, id, null, null), null, Set.of(), tx(xid));
    }

    private static List<ChunkWindows.Mark> mark(String run, boolean high, long chunk) {
        return List.of(new ChunkWindows.Mark(0, new Watermark(run, high, chunk)));
    }

    /** Rows 1..5 as the chunk read them. */
    private static final List<Row> CHUNK = List.of(row(SCHEMA, "1", "a", "d1"), row(SCHEMA, "2", "b", "d2"),
            row(SCHEMA, "3", "c", "d3"), row(SCHEMA, "4", "d", "d4"), row(SCHEMA, "5", "e", "d5"));

    private static List<String> ids(List<ChangeEvent> events) {
        return events.stream().map(e -> e.op() + ":" + e.after().get("id")).toList();
    }

    @Test
    void rowsTheStreamChangedBetweenTheWatermarksAreLeftToTheStream() {
        ChunkWindows w = new ChunkWindows();
        w.expect("r", T, 1, KEY);
        assertThat(w.observe(List.of(), mark("r", false, 1))).isEmpty();
        w.readIn("r", 1, ReadSnapshot.parse("100:100:"));
        assertThat(w.observe(List.of(update("2", Set.of(), 101), delete("3", 102), move("4", "40", 103), insert("6", 104),
                new ChangeEvent(Op.UPDATE, OTHER, null, row(OTHER, "5", "x", "y"), Set.of(), tx(105))), List.of())).isEmpty();
        List<ChunkWindows.Closed> closed = w.observe(List.of(), mark("r", true, 1));
        assertThat(closed).hasSize(1);
        assertThat(closed.get(0).chunk()).isEqualTo(1);
        assertThat(ids(closed.get(0).changes().of(CHUNK, KEY, PROGRESS)))
                .as("2 updated, 3 deleted, 4 moved away; 5 changed in another table only").containsExactly("READ:1", "READ:5");
    }

    @Test
    void anUpdateThatLeftATOASTedValueUnchangedGetsItFromTheChunkAndKeepsWhatTheStreamSent() {
        ChunkWindows w = new ChunkWindows();
        w.expect("r", T, 1, KEY);
        w.observe(List.of(), mark("r", false, 1));
        w.observe(List.of(update("1", Set.of("doc"), 101), update("2", Set.of("doc"), 102), update("2", Set.of(), 103),
                update("5", Set.of("doc"), 104), delete("5", 105)), List.of());
        List<ChangeEvent> events = w.observe(List.of(), mark("r", true, 1)).get(0).changes().of(CHUNK, KEY, PROGRESS);
        assertThat(ids(events)).as("1 filled; 2 was sent whole later; 5 is gone").containsExactly("UPDATE:1", "READ:3", "READ:4");
        ChangeEvent fill = events.get(0);
        assertThat(fill.unchanged()).as("what the stream sent stays; the key is written").containsExactly("v");
        assertThat(fill.after().get("doc")).isEqualTo("d1");
    }

    @Test
    void aTransactionBeforeTheLowWatermarkTheReadDidNotSeeCountsAsAChange() {
        ChunkWindows w = new ChunkWindows();
        w.expect("r", T, 1, KEY);
        // committed before the low watermark in the WAL, but visible only after the chunk's snapshot (xid 120 in progress)
        w.observe(List.of(delete("1", 120), delete("2", 90), update("3", Set.of(), 130)), List.of());
        w.observe(List.of(), mark("r", false, 1));
        w.readIn("r", 1, ReadSnapshot.parse("95:125:120"));
        List<ChangeEvent> events = w.observe(List.of(), mark("r", true, 1)).get(0).changes().of(CHUNK, KEY, PROGRESS);
        assertThat(ids(events)).as("1: in progress at the read; 3: at or after xmax; 2 seen by the read").containsExactly("READ:2", "READ:4", "READ:5");
    }

    @Test
    void watermarksOfOtherRunsAndChunksAreIgnoredAndAReplayedLowWatermarkStartsTheWindowOver() {
        ChunkWindows w = new ChunkWindows();
        w.expect("r", T, 2, KEY);
        assertThat(w.observe(List.of(), mark("old", false, 2))).isEmpty();
        assertThat(w.observe(List.of(), mark("r", true, 2))).as("a high watermark before its low one closes nothing").isEmpty();
        w.observe(List.of(), mark("r", false, 1));
        assertThat(w.observe(List.of(), mark("r", true, 1))).as("chunk 1 is done").isEmpty();
        w.observe(List.of(), mark("r", false, 2));
        w.readIn("r", 2, ReadSnapshot.parse("200:200:"));
        w.observe(List.of(update("1", Set.of(), 201)), List.of());
        w.observe(List.of(), mark("r", false, 2));
        List<ChunkWindows.Closed> closed = w.observe(List.of(update("2", Set.of(), 202)),
                List.of(new ChunkWindows.Mark(1, new Watermark("r", true, 2))));
        assertThat(closed).hasSize(1);
        assertThat(ids(closed.get(0).changes().of(CHUNK, KEY, PROGRESS)))
                .as("the change of 2 came before the high watermark in its part; that of 1 before the replayed low one")
                .containsExactly("READ:1", "READ:3", "READ:4", "READ:5");
        w.forget("r");
        assertThat(w.observe(List.of(), mark("r", false, 2))).isEmpty();
    }

    /** The next chunk is read while the stream has not met the previous one's high watermark: each window stands alone. */
    @Test
    void theNextChunksWindowIsExpectedBeforeThePreviousOneClosed() {
        ChunkWindows w = new ChunkWindows();
        w.expect("r", T, 1, KEY);
        w.observe(List.of(), mark("r", false, 1));
        w.readIn("r", 1, ReadSnapshot.parse("100:100:"));
        w.expect("r", T, 2, KEY); // chunk 1's high watermark is written, the stream has not met it yet
        w.observe(List.of(update("1", Set.of(), 101)), List.of());
        List<ChunkWindows.Closed> first = w.observe(List.of(), mark("r", true, 1));
        assertThat(first).hasSize(1);
        assertThat(ids(first.get(0).changes().of(CHUNK, KEY, PROGRESS))).as("1 changed inside chunk 1's window")
                .containsExactly("READ:2", "READ:3", "READ:4", "READ:5");
        w.observe(List.of(), mark("r", false, 2));
        w.readIn("r", 2, ReadSnapshot.parse("102:102:"));
        w.observe(List.of(delete("3", 103)), List.of());
        List<ChunkWindows.Closed> second = w.observe(List.of(), mark("r", true, 2));
        assertThat(second).hasSize(1);
        assertThat(ids(second.get(0).changes().of(CHUNK, KEY, PROGRESS)))
                .as("1's change, seen by chunk 2's read, before its window; 3 deleted inside it")
                .containsExactly("READ:1", "READ:2", "READ:4", "READ:5");
        w.expect("r", T, 3, KEY);
        assertThat(w.observe(List.of(), List.of(new ChunkWindows.Mark(0, new Watermark("r", false, 1)),
                new ChunkWindows.Mark(0, new Watermark("r", true, 1))))).as("chunk 1 is applied: its replay is ignored").isEmpty();
    }

    /**
     * A repair's keys the chunk did not find at the source are deleted at the destination, unless the stream changed them
     * between the watermarks (it delivers them as they are then: an insert of such a key must not be undone).
     */
    @Test
    void keysOfARepairTheSourceDoesNotHoldAreDeletedUnlessTheStreamChangedThem() {
        ChunkWindows w = new ChunkWindows();
        w.expect("r", T, 1, KEY);
        w.observe(List.of(), mark("r", false, 1));
        w.readIn("r", 1, ReadSnapshot.parse("100:100:"));
        w.observe(List.of(insert("8", 101), delete("9", 102)), List.of());
        ChunkWindows.Changes changes = w.observe(List.of(), mark("r", true, 1)).get(0).changes();
        List<Row> absent = List.of(row(SCHEMA, "7", null, null), row(SCHEMA, "8", null, null), row(SCHEMA, "9", null, null));
        List<ChangeEvent> deletes = changes.deletes(absent, KEY, PROGRESS);
        assertThat(deletes).extracting(e -> e.op() + ":" + e.before().get("id")).as("8 inserted and 9 deleted by the stream meanwhile")
                .containsExactly("DELETE:7");
        assertThat(deletes.get(0).position()).isEqualTo(PROGRESS);
    }

    @Test
    void aTruncateBetweenTheWatermarksLeavesNoRowOfTheChunk() {
        ChunkWindows w = new ChunkWindows();
        w.expect("r", T, 1, KEY);
        w.observe(List.of(), mark("r", false, 1));
        w.observe(List.of(ChangeEvent.truncate(SCHEMA, tx(101)), insert("1", 102)), List.of());
        assertThat(w.observe(List.of(), mark("r", true, 1)).get(0).changes().of(CHUNK, KEY, PROGRESS)).isEmpty();
    }

    @Test
    void watermarksRequestsSnapshotsAndProgressReadBackWhatWasWritten() {
        Watermark low = new Watermark("run-1", false, 7);
        assertThat(Watermark.of(Watermark.PREFIX, low.content().getBytes(StandardCharsets.UTF_8))).isEqualTo(low);
        assertThat(Watermark.of("other", low.content().getBytes(StandardCharsets.UTF_8))).isNull();
        assertThat(Watermark.of(Watermark.PREFIX, "x:middle:1".getBytes(StandardCharsets.UTF_8))).isNull();
        BackfillRequest request = new BackfillRequest(List.of(T, new TableId("My \"S\"", "a.b")), " id > 5 ");
        byte[] key = BackfillRequest.key("pgsource", "secret");
        assertThat(BackfillRequest.of(BackfillRequest.PREFIX, request.content(key).getBytes(StandardCharsets.UTF_8), key)).isEqualTo(request);
        assertThat(BackfillRequest.of("other", request.content(key).getBytes(StandardCharsets.UTF_8), key)).isNull();
        byte[] forged = request.content(BackfillRequest.key("pgsource", "guess")).getBytes(StandardCharsets.UTF_8);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> BackfillRequest.of(BackfillRequest.PREFIX, forged, key))
                .isInstanceOf(SecurityException.class).hasMessageContaining("signature does not match").hasMessageNotContaining("secret");
        assertThat(request.where()).isEqualTo("id > 5");
        BackfillProgress p = BackfillProgress.requested("0/16B3748", null, List.of("id", "k")).next(java.util.Arrays.asList("5", null), false);
        assertThat(BackfillProgress.parse(p.serialize())).isEqualTo(p);
        BackfillRequest repair = new BackfillRequest(List.of(T), "(id) IN ((1), (2))", List.of(List.of("1"), List.of("2")));
        assertThat(BackfillRequest.of(BackfillRequest.PREFIX, repair.content(key).getBytes(StandardCharsets.UTF_8), key))
                .as("a repair's keys are signed and read back").isEqualTo(repair);
        BackfillProgress keys = BackfillProgress.requested("0/1", repair.where(), List.of("id"), repair.keys());
        assertThat(BackfillProgress.parse(keys.next(List.of("2"), true).serialize()).keys()).containsExactly(List.of("1"), List.of("2"));
        assertThat(BackfillProgress.parse("not json")).isNull();
        ReadSnapshot s = ReadSnapshot.parse("4294967300:4294967310:4294967305");
        assertThat(s.unseen(9)).as("xid 4294967305 in 32 bits").isTrue();
        assertThat(s.unseen(14)).as("at or after xmax").isTrue();
        assertThat(s.unseen(6)).isFalse();
    }
}
