package io.pgsource.sink.discard;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.batch.Bookmark;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.InProgressOutcome;
import io.pgsource.change.Position;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.sink.DestinationStep;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
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

    /**
     * The destination step keeps which transaction is open and which part comes next: a part that skips one, or one of
     * another transaction, demotes what is open, and so does its commit.
     */
    @Test
    void aPartThatDoesNotFollowTheOneBeforeDemotesTheOpenTransaction() throws Exception {
        DestinationStep step = new DestinationStep(new DiscardSink(null, null));
        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_APPLY, 7, 0)).isEqualTo(InProgressOutcome.APPLIED);
        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_APPLY, 7, 1)).isEqualTo(InProgressOutcome.APPLIED);
        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_COMMIT, 7, 2)).isEqualTo(InProgressOutcome.COMMITTED);

        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_APPLY, 8, 0)).isEqualTo(InProgressOutcome.APPLIED);
        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_APPLY, 8, 2)).as("part 1 skipped").isEqualTo(InProgressOutcome.DEMOTED);
        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_COMMIT, 8, 3)).isEqualTo(InProgressOutcome.DEMOTED);

        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_APPLY, 9, 0)).isEqualTo(InProgressOutcome.APPLIED);
        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_APPLY, 10, 1)).as("another transaction's part")
                .isEqualTo(InProgressOutcome.DEMOTED);
        assertThat(inProgress(step, ChangeHeaders.IN_PROGRESS_COMMIT, 9, 1)).as("rolled back by the stray part")
                .isEqualTo(InProgressOutcome.DEMOTED);
    }

    /** One part of transaction {@code xid} handed over in progress, as the pgoutput: consumer does; what the step said. */
    private static InProgressOutcome inProgress(DestinationStep step, String what, long xid, int index) throws Exception {
        Exchange e = exchange(new ChangeBatch(List.of(), new Position.Log(0x1000 * xid + 0x100 * index, xid, null),
                ChangeHeaders.IN_PROGRESS_COMMIT.equals(what)), "s");
        e.getIn().setHeader(ChangeHeaders.TX_IN_PROGRESS, what);
        e.getIn().setHeader(ChangeHeaders.TX_ID, xid);
        e.getIn().setHeader(ChangeHeaders.TX_PART, index);
        AtomicReference<InProgressOutcome> outcome = new AtomicReference<>();
        e.getIn().setHeader(ChangeHeaders.IN_PROGRESS_OUTCOME, outcome);
        step.process(e);
        return outcome.get();
    }

    private static Exchange exchange(ChangeBatch batch, String slot) {
        Exchange e = new DefaultExchange(new DefaultCamelContext());
        e.getIn().setBody(batch);
        e.getIn().setHeader(ChangeHeaders.SLOT, slot);
        return e;
    }
}
