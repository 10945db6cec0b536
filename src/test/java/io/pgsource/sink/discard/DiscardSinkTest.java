package io.pgsource.sink.discard;

import io.pgsource.sink.DestinationStep;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.batch.Bookmark;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Position;
import io.pgsource.config.ReplicationMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.List;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiscardSinkTest {

    @Test
    void assumeCopiedReportsEveryTableAsCopiedButNoSlotPosition() {
        DiscardSink sink = new DiscardSink(new Bookmark(ReplicationMethod.FULL_TABLE, List.of(), List.of(), true).serialize(), null);
        Bookmark copied = Bookmark.parse(sink.positions().load("public.orders").orElseThrow());
        assertThat(copied.completed()).isTrue();
        assertThat(copied.method()).isEqualTo(ReplicationMethod.FULL_TABLE);
        assertThat(sink.positions().load("slot:s")).isEmpty();
        assertThat(new DiscardSink(null, null).positions().load("public.orders")).isEmpty();
    }

    @Test
    void keepsTheLogPositionAndWritesOneLatencyPerTransaction(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("latency.txt");
        DiscardSink sink = new DiscardSink(null, file);
        sink.start();
        OffsetDateTime commit = OffsetDateTime.now().minusSeconds(2);
        new DestinationStep(sink).process(exchange(new ChangeBatch(List.of(), new Position.Log(0x100, 7, commit), false), "s"));
        new DestinationStep(sink).process(exchange(new ChangeBatch(List.of(), new Position.Log(0x200, 7, commit), true), "s"));
        sink.close();

        assertThat(sink.positions().load("slot:s")).contains("0/200");
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).hasSize(1); // only the transaction's last part counts
        assertThat(Long.parseLong(lines.get(0))).isBetween(2_000_000L, 60_000_000L);
    }

    private static Exchange exchange(ChangeBatch batch, String slot) {
        Exchange e = new DefaultExchange(new DefaultCamelContext());
        e.getIn().setBody(batch);
        e.getIn().setHeader(ChangeHeaders.SLOT, slot);
        return e;
    }
}
