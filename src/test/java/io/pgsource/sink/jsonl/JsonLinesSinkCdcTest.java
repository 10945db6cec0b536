package io.pgsource.sink.jsonl;

import io.pgsource.sink.DestinationStep;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.delete;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static io.pgsource.sink.TestChanges.update;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Position;
import io.pgsource.change.TableSchema;
import io.pgsource.sink.json.ChangeEnvelope;
import io.pgsource.state.FilePositionStore;
import io.pgsource.state.Positions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSON Lines destination fed log-replication batches shaped as the pgoutput component delivers them. */
class JsonLinesSinkCdcTest {
    private static final OffsetDateTime T = OffsetDateTime.of(2024, 5, 6, 7, 8, 9, 0, ZoneOffset.UTC);

    @TempDir
    Path dir;

    private final TableSchema t = table("s", "t", List.of("id"), col("id", "bigint"), col("v", "text"), col("body", "text"));

    private static void send(JsonLinesSink sink, ChangeBatch batch, Integer part) throws Exception {
        send(sink, batch, part, part == null ? null : (long) part);
    }

    /** @param changesBefore how many changes of the transaction came before the batch (here: one per part) */
    private static void send(JsonLinesSink sink, ChangeBatch batch, Integer part, Long changesBefore) throws Exception {
        Exchange ex = new DefaultExchange(new DefaultCamelContext());
        ex.getIn().setBody(batch);
        ex.getIn().setHeader(Positions.SLOT_HEADER, "s1");
        if (part != null) {
            ex.getIn().setHeader(ChangeEnvelope.PART_HEADER, part);
        }
        if (changesBefore != null) {
            ex.getIn().setHeader(ChangeHeaders.TX_CHANGES_BEFORE, changesBefore);
        }
        new DestinationStep(sink).process(ex);
    }

    /** A part of a transaction: its events carry the commit record LSN, the batch the given position. */
    private static ChangeBatch part(Position.Log batchPosition, long recordLsn, boolean last, ChangeEvent... events) {
        Position.Log eventPosition = new Position.Log(recordLsn, batchPosition.txId(), batchPosition.commitTime());
        List<ChangeEvent> out = new ArrayList<>();
        for (ChangeEvent e : events) {
            out.add(new ChangeEvent(e.op(), e.table(), e.before(), e.after(), e.unchanged(), eventPosition));
        }
        return new ChangeBatch(out, batchPosition, last);
    }

    private static ChangeBatch tx(long endLsn, long txId, ChangeEvent... events) {
        return part(new Position.Log(endLsn, txId, T), endLsn - 0x10, true, events);
    }

    private List<String> lines() throws Exception {
        return Files.readAllLines(dir.resolve("s.t.jsonl"));
    }

    @Test
    void transactionsAtOrBelowTheStoredLsnAreNotWrittenAgainAfterARestart() throws Exception {
        ChangeBatch first = tx(0x100, 7, insert(row(t, 1L, "a", "x")));
        ChangeBatch second = tx(0x200, 8, update(null, row(t, 1L, "b", null), Set.of("body")), delete(row(t, 1L, null, null)));
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, first, null);
            send(sink, second, null);
        }
        List<String> written = lines();
        assertThat(written).hasSize(3);
        assertThat(written.get(1)).isEqualTo("{\"op\":\"u\",\"before\":null,\"after\":{\"id\":1,\"v\":\"b\"},\"unchanged\":[\"body\"],"
                + "\"source\":{\"schema\":\"s\",\"table\":\"t\",\"lsn\":\"0/1F0\",\"txId\":8,\"commitTime\":\"2024-05-06T07:08:09Z\"}}");

        // the slot resends from its confirmed position: already durable here, skipped
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, first, null);
            send(sink, second, null);
            assertThat(lines()).isEqualTo(written);
            send(sink, tx(0x300, 9, insert(row(t, 2L, "c", "y"))), null);
        }
        assertThat(lines()).hasSize(4).last().asString().contains("\"txId\":9");
        assertThat(new FilePositionStore(dir.resolve(FilePositionStore.DEFAULT_FILE_NAME)).load("slot:s1")).contains("0/300");
    }

    @Test
    void aPartialLineLeftByAKilledProcessIsCutOffBeforeItsBatchIsWrittenAgain() throws Exception {
        ChangeBatch first = tx(0x100, 7, insert(row(t, 1L, "a", "x")));
        ChangeBatch second = tx(0x200, 8, insert(row(t, 2L, "b", "y")), insert(row(t, 3L, "c", "z")));
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, first, null);
            send(sink, second, null);
        }
        List<String> whole = lines();
        // as if killed while the second batch reached the file: its first line whole, half of its second, no position saved
        String text = Files.readString(dir.resolve("s.t.jsonl"));
        Files.writeString(dir.resolve("s.t.jsonl"), text.substring(0, text.length() - whole.get(2).length() / 2 - 1));
        new FilePositionStore(dir.resolve(FilePositionStore.DEFAULT_FILE_NAME)).save("slot:s1", "0/100");

        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, first, null);
            send(sink, second, null);
        }
        // the batch repeats (at-least-once), every line whole
        assertThat(lines()).containsExactly(whole.get(0), whole.get(1), whole.get(1), whole.get(2));
    }

    @Test
    void partsOfABigTransactionSayWhereTheyStandAndAPartialOneResumesAfterItsLastWrittenPart() throws Exception {
        Position.Log earlier = new Position.Log(0x500, 11, T);
        Position.Log end = new Position.Log(0x530, 11, T);
        ChangeBatch p0 = part(earlier, 0x500, false, insert(row(t, 1L, "a", "x")));
        ChangeBatch p1 = part(earlier, 0x500, false, insert(row(t, 2L, "b", "y")));
        ChangeBatch p2 = part(end, 0x500, true, insert(row(t, 3L, "c", "z")));
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, p0, 0);
            send(sink, p1, 1);
        }
        assertThat(lines()).hasSize(2);
        assertThat(lines().get(0)).endsWith("\"lsn\":\"0/500\",\"txId\":11,\"commitTime\":\"2024-05-06T07:08:09Z\",\"part\":0,\"last\":false}}");

        // stopped between parts: the whole transaction comes again; the parts already written are skipped
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, p0, 0);
            send(sink, p1, 1);
            send(sink, p2, 2);
            // once the last part is durable, the transaction is never written again
            send(sink, p0, 0);
            send(sink, p1, 1);
            send(sink, p2, 2);
        }
        List<String> all = lines();
        assertThat(all).hasSize(3);
        assertThat(all).allSatisfy(line -> assertThat(line).contains("\"lsn\":\"0/500\",\"txId\":11"));
        assertThat(all.get(2)).contains("\"id\":3").endsWith("\"part\":2,\"last\":true}}");

        // without the part header: only the parts that more parts follow say so
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, part(new Position.Log(0x600, 12, T), 0x600, false, insert(row(t, 4L, "d", "w"))), null);
            send(sink, part(new Position.Log(0x630, 12, T), 0x600, true, insert(row(t, 5L, "e", "v"))), null);
        }
        all = lines();
        assertThat(all.get(3)).endsWith("\"commitTime\":\"2024-05-06T07:08:09Z\",\"last\":false}}");
        assertThat(all.get(4)).endsWith("\"commitTime\":\"2024-05-06T07:08:09Z\"}}");
    }

    /** Stopped after two changes of a transaction in parts of two; it comes again in parts of three: one line each. */
    @Test
    void aTransactionCutIntoOtherPartsAfterARestartSkipsExactlyTheChangesWritten() throws Exception {
        Position.Log record = new Position.Log(0x700, 13, T);
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, part(record, 0x700, false, insert(row(t, 1L, "a", null)), insert(row(t, 2L, "b", null))), 0, 0L);
        }
        assertThat(new FilePositionStore(dir.resolve(FilePositionStore.DEFAULT_FILE_NAME)).load("slot:s1")).contains("0/700#2");
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, part(record, 0x700, false, insert(row(t, 1L, "a", null)), insert(row(t, 2L, "b", null)),
                    insert(row(t, 3L, "c", null))), 0, 0L);
            send(sink, part(new Position.Log(0x730, 13, T), 0x700, true, insert(row(t, 4L, "d", null))), 1, 3L);
        }
        assertThat(lines()).extracting(l -> l.replaceAll(".*\"id\":(\\d+).*", "$1")).containsExactly("1", "2", "3", "4");
    }
}
