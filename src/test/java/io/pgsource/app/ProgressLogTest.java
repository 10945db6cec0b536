package io.pgsource.app;

import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.InProgressOutcome;
import io.pgsource.change.Position;
import io.pgsource.change.TableSchema;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;

/**
 * What the progress line and the status page count of transactions applied while in progress, fed the exchanges the
 * pgoutput: consumer hands the route after the destination step said what it did: each transaction counts once, when
 * it is committed, whether applied in progress or applied again after its commit.
 */
class ProgressLogTest {
    private static final TableSchema T = table("public", "big", List.of("id"), col("id", "integer"));
    private final CamelContext camel = new DefaultCamelContext();
    private final ProgressLog progress = new ProgressLog(camel, "s", Duration.ZERO, table -> false);

    @Test
    void aTransactionCommittedInProgressCountsOnce() {
        part(ChangeHeaders.IN_PROGRESS_APPLY, 0, InProgressOutcome.APPLIED, 0x100, 1, 2, 3);
        part(ChangeHeaders.IN_PROGRESS_APPLY, 1, InProgressOutcome.APPLIED, 0x100, 4, 5);
        assertThat(progress.totals().changes()).as("nothing committed yet").isZero();
        part(ChangeHeaders.IN_PROGRESS_COMMIT, 2, InProgressOutcome.COMMITTED, 0x900);
        assertTotals(1, 5);
    }

    @Test
    void aDemotedTransactionCountsOnceWhenAppliedAfterItsCommit() {
        part(ChangeHeaders.IN_PROGRESS_APPLY, 0, InProgressOutcome.APPLIED, 0x100, 1, 2, 3);
        part(ChangeHeaders.IN_PROGRESS_APPLY, 1, InProgressOutcome.DEMOTED, 0x100, 4, 5);
        part(ChangeHeaders.IN_PROGRESS_ROLLBACK, 1, InProgressOutcome.ROLLED_BACK, 0x100);
        // after its commit, from the spool file: one part with all its changes
        progress.process(exchange(batch(0x900, true, 1, 2, 3, 4, 5)));
        assertTotals(1, 5);
    }

    @Test
    void aTransactionDemotedAtItsCommitCountsOnceWhenAppliedAfterIt() {
        part(ChangeHeaders.IN_PROGRESS_APPLY, 0, InProgressOutcome.APPLIED, 0x100, 1, 2);
        part(ChangeHeaders.IN_PROGRESS_COMMIT, 1, InProgressOutcome.DEMOTED, 0x900);
        part(ChangeHeaders.IN_PROGRESS_ROLLBACK, 1, InProgressOutcome.ROLLED_BACK, 0x900);
        progress.process(exchange(batch(0x900, true, 1, 2)));
        assertTotals(1, 2);
    }

    @Test
    void anAbortedTransactionCountsNothing() {
        part(ChangeHeaders.IN_PROGRESS_APPLY, 0, InProgressOutcome.APPLIED, 0x100, 1, 2, 3);
        part(ChangeHeaders.IN_PROGRESS_ROLLBACK, 1, InProgressOutcome.ROLLED_BACK, 0x100);
        assertTotals(0, 0);
    }

    private void assertTotals(long transactions, long changes) {
        ProgressLog.Totals totals = progress.totals();
        assertThat(totals.transactions()).as("transactions").isEqualTo(transactions);
        assertThat(totals.changes()).as("changes").isEqualTo(changes);
        assertThat(totals.changesPerTable()).isEqualTo(changes == 0 ? Map.of() : Map.of("public.big", changes));
    }

    /** A part of transaction 7 handed over in progress, after the destination step said what it did with it. */
    private void part(String step, int index, InProgressOutcome outcome, long lsn, int... ids) {
        Exchange e = exchange(batch(lsn, ChangeHeaders.IN_PROGRESS_COMMIT.equals(step), ids));
        e.getIn().setHeader(ChangeHeaders.TX_IN_PROGRESS, step);
        e.getIn().setHeader(ChangeHeaders.TX_PART, index);
        e.getIn().setHeader(ChangeHeaders.IN_PROGRESS_OUTCOME, new AtomicReference<>(outcome));
        progress.process(e);
    }

    private static ChangeBatch batch(long lsn, boolean last, int... ids) {
        Position.Log at = new Position.Log(lsn, 7, last ? OffsetDateTime.now() : null);
        List<ChangeEvent> events = new ArrayList<>();
        for (int id : ids) {
            ChangeEvent e = insert(row(T, id));
            events.add(new ChangeEvent(e.op(), e.table(), e.before(), e.after(), e.unchanged(), at));
        }
        return new ChangeBatch(events, at, last);
    }

    private Exchange exchange(ChangeBatch batch) {
        Exchange e = new DefaultExchange(camel);
        e.getIn().setBody(batch);
        e.getIn().setHeader(ChangeHeaders.TX_ID, 7L);
        e.getIn().setHeader(ChangeHeaders.TX_LAST, batch.last());
        return e;
    }
}
