package io.pgsource.app;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.SnapshotCopy;
import io.pgsource.batch.StreamTask;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Position;
import io.pgsource.config.SourceConnections;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import io.pgsource.pgoutput.InitialSnapshotHandler;
import io.pgsource.pgoutput.SlotCreated;
import io.pgsource.sink.reject.DestinationErrors;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.concurrent.Executor;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The initial copy of log replication when pgsource created the slot: every selected table is read inside the
 * slot's exported snapshot and sent page by page down the shared pipeline ({@code direct:pipeline}) to the
 * destination, before the stream starts. Copy and stream meet exactly: the copy holds every transaction committed
 * before the slot's consistent point, the stream every one after it. Each table's copy starts by emptying its
 * destination table, so a copy repeated for a new slot leaves no stale rows.
 */
final class InitialCopy implements InitialSnapshotHandler, CamelContextAware {
    private static final Logger LOG = LoggerFactory.getLogger(InitialCopy.class);

    private final SourceConnections connections;
    private final BatchStreams streams;
    private final PositionStore positions;
    private final BooleanSupplier leading;
    private final Executor readers;
    private final TableCopies tableCopies;
    private CamelContext context;

    /**
     * @param leading whether this instance may still write the copy: always without sync.ha; with it, only while it
     *                leads (a copy going on after another instance took over would overwrite that one's newer rows)
     * @param readers runs each table's page reader, so the next page is read while one is applied
     * @param tableCopies keeps, for each table copied, what the copies made while streaming need to know
     */
    InitialCopy(SourceConnections connections, BatchStreams streams, PositionStore positions, BooleanSupplier leading,
            Executor readers, TableCopies tableCopies) {
        this.connections = connections;
        this.streams = streams;
        this.positions = positions;
        this.leading = leading;
        this.readers = readers;
        this.tableCopies = tableCopies;
    }

    @Override
    public void initialSnapshot(SlotCreated slot) throws Exception {
        List<StreamTask> tasks = streams.streams();
        LOG.info("Slot {} created at {}: copying {} table(s) inside its exported snapshot before streaming", slot.slotName(),
                slot.consistentPoint(), tasks.size());
        long started = System.nanoTime();
        try (ProducerTemplate template = context.createProducerTemplate()) {
            new SnapshotCopy(connections, readers).copy(slot.snapshotName(), tasks, page -> send(template, page, leading),
                    tableCopies.copiedAt(slot.consistentLsn()));
        } catch (Exception e) {
            // the consumer drops the slot and tries again later; a one-off sync has failed, and a failure no retry fixes
            // would make the consumer copy again forever: either ends the run
            RunOutcome outcome = context.getRegistry().lookupByNameAndType(RunOutcome.BEAN_NAME, RunOutcome.class);
            if (outcome != null && (outcome.once() || DestinationErrors.permanent(e))) {
                outcome.fail(e);
            }
            throw e;
        }
        // a new slot starts a new stream: the position stored for an earlier slot of that name (another server, a
        // dropped slot) must not make the destination skip the new slot's transactions
        positions.save(Positions.stream(new Position.Log(slot.consistentLsn(), 0, null), slot.slotName()), Positions.lsn(slot.consistentLsn()));
        LOG.info("Initial copy finished in {} ms; streaming from {}", (System.nanoTime() - started) / 1_000_000, slot.consistentPoint());
    }

    /** Sends one page of a snapshot copy down the pipeline and waits until the destination applied it. */
    static void send(ProducerTemplate template, ChangeBatch page, BooleanSupplier leading) throws Exception {
        if (!leading.getAsBoolean()) {
            throw new IllegalStateException("this instance lost the leadership of log replication during the initial copy: "
                    + "the copy stops here, and the instance that leads now copies again");
        }
        Position.Batch position = (Position.Batch) page.position();
        Exchange done = template.send("direct:pipeline", e -> {
            e.getMessage().setBody(page);
            e.getMessage().setHeader(ChangeHeaders.STREAM, position.stream());
            e.getMessage().setHeader(ChangeHeaders.BOOKMARK, position.bookmark());
        });
        if (done.getException() != null) {
            throw done.getException();
        }
    }

    @Override
    public void setCamelContext(CamelContext camelContext) {
        this.context = camelContext;
    }

    @Override
    public CamelContext getCamelContext() {
        return context;
    }
}
