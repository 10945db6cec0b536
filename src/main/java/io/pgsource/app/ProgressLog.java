package io.pgsource.app;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.InProgressOutcome;
import io.pgsource.change.Position;
import io.pgsource.change.TableId;
import io.pgsource.pgoutput.PgOutputComponent;
import io.pgsource.pgoutput.PgOutputConsumer;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Collections;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says every {@code sync.progress_interval} what pgsource is doing, so a long copy or a quiet stream is not minutes of
 * silence. The last step of the shared pipeline ({@code pgsourceProgress}), it sees every batch right after the
 * destination applied it:
 * <ul>
 * <li>log replication: the transactions and changes applied since the last line, how far the slot is behind the
 * server (as of the last slot check) and how long ago the last applied transaction committed at the source, every
 * interval (on a timer of its own, so the line comes on time also when the next transaction is late); while nothing is
 * applied, a line every {@value #IDLE_LINES} intervals says so (the slot check warns at once when the stream is stuck);</li>
 * <li>a copy or a batch-query run: per table, the rows so far and their rate, once a table takes longer than the
 * interval (its page reader says how it ended).</li>
 * </ul>
 * A transaction applied while in progress counts once, at its commit: its changes are not applied before, and a demoted
 * one is rolled back and counted when applied again after its commit.
 */
final class ProgressLog extends ServiceSupport implements Processor {
    static final String BEAN_NAME = "pgsourceProgress";
    private static final Logger LOG = LoggerFactory.getLogger(ProgressLog.class);

    /** A table being read: since when, how many rows, and when its last line was. */
    private static final class Table {
        final long started;
        long rows;
        long lastLine;

        Table(long now) {
            this.started = now;
            this.lastLine = now;
        }
    }

    private final CamelContext context;
    private final String slot;
    private final long intervalNanos;
    /** Tables whose copy tells its own progress ({@code CopyProgress}): their pages need no line here. */
    private final Predicate<String> copying;
    private final Map<String, Table> tables = new HashMap<>();
    private long streamLine = System.nanoTime();
    private long transactions;
    private long changes;
    private OffsetDateTime lastCommit;
    /** Since the start, for the status page: transactions and changes applied, changes per table, and rows per table. */
    private long totalTransactions;
    private long totalChanges;
    private final Map<String, long[]> changesPerTable = new HashMap<>();
    private final Map<String, long[]> rowsPerTable = new HashMap<>();
    /** The changes of the transaction applied in progress, per table and in all, counted once its commit is. */
    private final Map<String, long[]> openPerTable = new HashMap<>();
    private long openChanges;

    /**
     * What the destination applied since the start, read by the status page.
     *
     * @param lastCommit the source commit time of the last transaction applied, or null
     * @param changes    changes streamed and applied per {@code schema.table} (log replication)
     * @param rows       rows read in pages and applied per {@code schema.table} (batch-query runs, and copies)
     */
    record Totals(long transactions, long changes, OffsetDateTime lastCommit, Map<String, Long> changesPerTable,
                  Map<String, Long> rowsPerTable) {
    }

    synchronized Totals totals() {
        return new Totals(totalTransactions, totalChanges, lastCommit, copy(changesPerTable), copy(rowsPerTable));
    }

    private static Map<String, Long> copy(Map<String, long[]> counts) {
        Map<String, Long> out = new TreeMap<>();
        counts.forEach((t, n) -> out.put(t, n[0]));
        return Collections.unmodifiableMap(out);
    }

    /** Counts the batch's changes per table (its events come grouped by table, mostly: one lookup per run of a table). */
    private static void countPerTable(ChangeBatch batch, Map<String, long[]> into) {
        TableId last = null;
        long[] counter = null;
        for (int i = 0, n = batch.size(); i < n; i++) {
            TableId id = batch.get(i).tableId();
            if (id != last) {
                last = id;
                counter = into.computeIfAbsent(id.toString(), k -> new long[1]);
            }
            counter[0]++;
        }
    }

    /**
     * @param slot     the slot log replication reads, whose lag the stream's lines tell
     * @param interval how often a line is logged at most; zero turns the lines off
     */
    ProgressLog(CamelContext context, String slot, Duration interval, Predicate<String> copying) {
        this.context = context;
        this.slot = slot;
        this.intervalNanos = interval.toNanos();
        this.copying = copying;
    }

    @Override
    public void process(Exchange exchange) {
        // the destination route leaves the batch in the body
        ChangeBatch batch = exchange.getIn().getBody() instanceof ChangeBatch b ? b : null;
        if (batch == null) {
            return;
        }
        String inProgress = exchange.getIn().getHeader(ChangeHeaders.TX_IN_PROGRESS, String.class);
        if (inProgress != null) {
            inProgress(exchange, batch, inProgress);
            return;
        }
        if (batch.position() instanceof Position.Batch page) {
            page(page.stream(), batch.size(), batch.last());
        } else if (batch.position() instanceof Position.Log log) {
            boolean whole = exchange.getIn().getHeader(ChangeHeaders.TX_LAST, Boolean.TRUE, Boolean.class);
            transaction(whole ? exchange.getIn().getHeader(ChangeHeaders.TX_COUNT, 1, Integer.class) : 0, batch, log.commitTime());
        }
    }

    private synchronized void page(String stream, int rows, boolean last) {
        rowsPerTable.computeIfAbsent(stream, k -> new long[1])[0] += rows;
        if (intervalNanos <= 0) {
            return;
        }
        long now = System.nanoTime();
        Table t = tables.computeIfAbsent(stream, s -> new Table(now));
        t.rows += rows;
        if (last) {
            tables.remove(stream);
        } else if (now - t.lastLine >= intervalNanos && !copying.test(stream)) {
            t.lastLine = now;
            double seconds = (now - t.started) / 1e9;
            LOG.info(String.format(Locale.ROOT, "%s: %,d rows so far in %.0f s (%,.0f rows/s)", stream, t.rows, seconds, t.rows / seconds));
        }
    }

    /**
     * A part of a transaction applied while in progress: its changes count once its commit is committed (or found held),
     * never before. A demoted transaction is rolled back and applied again after its commit, as any, and counted then; an
     * aborted one is never applied.
     */
    private synchronized void inProgress(Exchange exchange, ChangeBatch batch, String step) {
        @SuppressWarnings("unchecked")
        AtomicReference<InProgressOutcome> holder = exchange.getIn().getHeader(ChangeHeaders.IN_PROGRESS_OUTCOME, AtomicReference.class);
        InProgressOutcome outcome = holder == null ? null : holder.get();
        switch (step) {
            case ChangeHeaders.IN_PROGRESS_APPLY -> {
                if (exchange.getIn().getHeader(ChangeHeaders.TX_PART, 0, Integer.class) == 0) {
                    openPerTable.clear();
                    openChanges = 0;
                }
                if (outcome == InProgressOutcome.APPLIED) {
                    countPerTable(batch, openPerTable);
                    openChanges += batch.size();
                }
            }
            case ChangeHeaders.IN_PROGRESS_COMMIT -> {
                if ((outcome == InProgressOutcome.COMMITTED || outcome == InProgressOutcome.HELD)
                        && batch.position() instanceof Position.Log log) {
                    openPerTable.forEach((table, n) -> changesPerTable.computeIfAbsent(table, k -> new long[1])[0] += n[0]);
                    applied(1, openChanges, log.commitTime());
                }
                openPerTable.clear();
                openChanges = 0;
            }
            default -> {
                openPerTable.clear();
                openChanges = 0;
            }
        }
    }

    private synchronized void transaction(int count, ChangeBatch batch, OffsetDateTime commitTime) {
        countPerTable(batch, changesPerTable);
        applied(count, batch.size(), commitTime);
    }

    private void applied(int count, long size, OffsetDateTime commitTime) {
        totalTransactions += count;
        totalChanges += size;
        if (commitTime != null) {
            lastCommit = commitTime;
        }
        if (intervalNanos <= 0) {
            return;
        }
        transactions += count;
        changes += size;
        long now = System.nanoTime();
        if (now - streamLine >= intervalNanos) {
            streamLine(now);
        }
    }

    /**
     * Every interval while log replication streams: the line of the transactions applied since the last one, when no
     * transaction came since to log it; and while nothing at all is applied, a line every {@link #IDLE_LINES} intervals
     * saying so, with the slot's lag and the last commit's age, so a quiet stream is not silent for long.
     */
    synchronized void tick() {
        PgOutputConsumer.Status status = PgOutputComponent.status(context, slot).orElse(null);
        if (status == null || !status.streaming()) {
            return; // not streaming (yet): the copy and the consumer's own lines say what happens
        }
        long now = System.nanoTime();
        if (transactions > 0 || changes > 0 ? now - streamLine >= intervalNanos : now - streamLine >= IDLE_LINES * intervalNanos) {
            streamLine(now);
        }
    }

    /** Nothing applied for this many intervals: a line says so. */
    static final int IDLE_LINES = 10;

    private void streamLine(long now) {
        StringBuilder line = new StringBuilder(transactions == 0 && changes == 0
                ? String.format(Locale.ROOT, "Streaming slot %s: no change to apply in the last %.0f s", slot, (now - streamLine) / 1e9)
                : String.format(Locale.ROOT, "Streamed %,d transaction(s) (%,d changes) in the last %.0f s", transactions, changes,
                (now - streamLine) / 1e9));
        long lag = PgOutputComponent.status(context, slot).map(PgOutputConsumer.Status::slotLagBytes).orElse(-1L);
        if (lag >= 0) {
            line.append(String.format(Locale.ROOT, "; slot %s is %,d bytes of WAL behind the server", slot, lag));
        }
        if (lastCommit != null) {
            line.append(String.format(Locale.ROOT, "; the last applied transaction committed %.1f s ago",
                    Math.max(0, Duration.between(lastCommit.toInstant(), Instant.now()).toMillis() / 1000.0)));
        }
        LOG.info("{}", line);
        streamLine = now;
        transactions = 0;
        changes = 0;
    }

    @Override
    protected void doStart() {
        if (intervalNanos > 0 && slot != null) {
            ticker = context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "pgsource-progress");
            ticker.scheduleWithFixedDelay(this::tickQuietly, intervalNanos, intervalNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
    }

    private void tickQuietly() {
        try {
            tick();
        } catch (RuntimeException e) {
            LOG.debug("progress line failed: {}", e.getMessage(), e);
        }
    }

    @Override
    protected void doStop() {
        if (ticker != null) {
            context.getExecutorServiceManager().shutdown(ticker);
            ticker = null;
        }
    }

    private java.util.concurrent.ScheduledExecutorService ticker;
}
