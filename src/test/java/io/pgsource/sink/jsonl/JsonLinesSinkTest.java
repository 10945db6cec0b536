package io.pgsource.sink.jsonl;

import io.pgsource.sink.DestinationStep;
import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.delete;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.page;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static io.pgsource.sink.TestChanges.truncate;
import static io.pgsource.sink.TestChanges.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.Position;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.state.FilePositionStore;
import io.pgsource.state.Positions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonLinesSinkTest {
    @TempDir
    Path dir;

    private final TableSchema a = table("s", "a", List.of("id"), col("id", "bigint"), col("v", "text"));
    private final TableSchema b = table("s", "b", List.of(), col("msg", "text"));

    private static void send(JsonLinesSink sink, ChangeBatch batch, String slot) throws Exception {
        Exchange ex = new DefaultExchange(new DefaultCamelContext());
        ex.getIn().setBody(batch);
        if (slot != null) {
            ex.getIn().setHeader(Positions.SLOT_HEADER, slot);
        }
        new DestinationStep(sink).process(ex);
    }

    @Test
    void writesOneLinePerChangeInOneFilePerTableAndThenThePosition() throws Exception {
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, batch(page("s.a", "7"), insert(row(a, 1L, "x")), insert(row(b, "hello\nworld")), update(null, row(a, 1L, "y")),
                    delete(row(a, 1L, null)), truncate(b)), null);
            send(sink, batch(new Position.Log(0x16B3748L, 9, null), update(null, row(a, 2L, null), Set.of("v"))), "s1");

            assertThat(Files.readAllLines(dir.resolve("s.a.jsonl"))).containsExactly(
                    "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1,\"v\":\"x\"},\"source\":{\"schema\":\"s\",\"table\":\"a\",\"stream\":\"s.a\",\"bookmark\":\"7\"}}",
                    "{\"op\":\"u\",\"before\":null,\"after\":{\"id\":1,\"v\":\"y\"},\"source\":{\"schema\":\"s\",\"table\":\"a\",\"stream\":\"s.a\",\"bookmark\":\"7\"}}",
                    "{\"op\":\"d\",\"before\":{\"id\":1,\"v\":null},\"after\":null,\"source\":{\"schema\":\"s\",\"table\":\"a\",\"stream\":\"s.a\",\"bookmark\":\"7\"}}",
                    "{\"op\":\"u\",\"before\":null,\"after\":{\"id\":2},\"unchanged\":[\"v\"],\"source\":{\"schema\":\"s\",\"table\":\"a\",\"lsn\":\"0/16B3748\",\"txId\":9,\"commitTime\":null}}");
            assertThat(Files.readAllLines(dir.resolve("s.b.jsonl"))).containsExactly(
                    "{\"op\":\"c\",\"before\":null,\"after\":{\"msg\":\"hello\\nworld\"},\"source\":{\"schema\":\"s\",\"table\":\"b\",\"stream\":\"s.a\",\"bookmark\":\"7\"}}",
                    "{\"op\":\"t\",\"before\":null,\"after\":null,\"source\":{\"schema\":\"s\",\"table\":\"b\",\"stream\":\"s.a\",\"bookmark\":\"7\"}}");
            assertThat(sink.positions().load("s.a")).contains("7");
            assertThat(sink.positions().load("slot:s1")).contains("0/16B3748");
        }
        assertThat(new FilePositionStore(dir.resolve(FilePositionStore.DEFAULT_FILE_NAME)).load("slot:s1")).contains("0/16B3748");
    }

    @Test
    void aNewInstanceAppendsAndKnowsThePositions() throws Exception {
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, batch(page("s.b", "1"), insert(row(b, "one"))), null);
        }
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            assertThat(sink.positions().load("s.b")).contains("1");
            send(sink, batch(page("s.b", "2"), insert(row(b, "two"))), null);
            assertThat(sink.positions().load("s.b")).contains("2");
        }
        assertThat(Files.readAllLines(dir.resolve("s.b.jsonl"))).hasSize(2)
                .satisfies(lines -> assertThat(lines.get(0)).contains("\"one\"").contains("\"bookmark\":\"1\""))
                .satisfies(lines -> assertThat(lines.get(1)).contains("\"two\"").contains("\"bookmark\":\"2\""));
    }

    @Test
    void aPartialLastLineLeftByAKilledProcessIsCutBeforeAppending() throws Exception {
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, batch(page("s.b", "1"), insert(row(b, "one"))), null);
        }
        // the next batch was being written when the process was killed: its position was never saved
        String partial = "{\"op\":\"c\",\"before\":null,\"after\":{\"msg\":\"" + "x".repeat(20_000);
        Files.writeString(dir.resolve("s.b.jsonl"), partial, java.nio.file.StandardOpenOption.APPEND);
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, batch(page("s.b", "2"), insert(row(b, "two"))), null);
        }
        assertThat(Files.readAllLines(dir.resolve("s.b.jsonl"))).hasSize(2)
                .satisfies(lines -> assertThat(lines.get(0)).contains("\"one\""))
                .satisfies(lines -> assertThat(lines.get(1)).startsWith("{\"op\":\"c\"").contains("\"two\"").doesNotContain("xx"));
    }

    @Test
    void aFailedBatchLeavesNoLinesAndNoPosition() throws Exception {
        Object unwritable = new Object() {
            @Override
            public String toString() {
                throw new IllegalStateException("cannot write this value");
            }
        };
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, batch(page("s.a", "1"), insert(row(a, 1L, "x"))), null);
            assertThatThrownBy(() -> send(sink, batch(page("s.a", "2"), insert(row(a, 2L, "ok")), insert(row(b, "ok")),
                    insert(row(a, 3L, unwritable))), null)).hasMessageContaining("cannot write this value");
            assertThat(sink.positions().load("s.a")).contains("1");
            assertThat(Files.readAllLines(dir.resolve("s.a.jsonl"))).hasSize(1);
            assertThat(Files.size(dir.resolve("s.b.jsonl"))).isZero();

            send(sink, batch(page("s.a", "3"), insert(row(a, 4L, "after"))), null);
            assertThat(Files.readAllLines(dir.resolve("s.a.jsonl"))).hasSize(2).last().asString().contains("\"after\"");
        }
    }

    @Test
    void fileNamesAreSafeAndDistinctForAnyIdentifier() throws Exception {
        assertThat(FileNames.of(new TableId("public", "orders"))).isEqualTo("public.orders.jsonl");
        assertThat(FileNames.of(new TableId("My Schema", "a/b"))).isEqualTo("My%20Schema.a%2Fb.jsonl");
        assertThat(FileNames.of(new TableId("a.b", "c"))).isNotEqualTo(FileNames.of(new TableId("a", "b.c")));
        assertThat(FileNames.of(new TableId("..", "."))).isEqualTo("%2E%2E.%2E.jsonl");
        assertThat(FileNames.of(new TableId("s", "100%"))).isEqualTo("s.100%25.jsonl");
        assertThat(FileNames.of(new TableId("s", "ñ\"x"))).isEqualTo("s.%C3%B1%22x.jsonl");
        String long1 = "é".repeat(31) + "a";
        String long2 = "é".repeat(31) + "b";
        String n1 = FileNames.of(new TableId(long1, long1));
        String n2 = FileNames.of(new TableId(long1, long2));
        assertThat(n1).hasSizeLessThanOrEqualTo(255).endsWith(".jsonl").isNotEqualTo(n2);

        TableSchema odd = table("we\"ird", "Ta/ble .x", List.of(), col("v", "text"));
        TableSchema longOne = table(long1, long2, List.of(), col("v", "text"));
        try (JsonLinesSink sink = new JsonLinesSink(dir)) {
            send(sink, batch(page("p", "1"), insert(row(odd, "1")), insert(row(longOne, "2"))), null);
        }
        assertThat(Files.readAllLines(dir.resolve("we%22ird.Ta%2Fble%20%2Ex.jsonl"))).hasSize(1);
        assertThat(Files.readAllLines(dir.resolve(n2))).hasSize(1);
    }
}
