package io.pgsource.app;

import io.pgsource.backfill.Backfills;
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
import java.sql.SQLException;
import io.pgsource.change.TableId;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Endpoint;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The initial copy of log replication, the {@code pgoutput:} consumer's snapshotHandler: every selected table is read
 * inside an exported snapshot and sent page by page down the shared pipeline ({@code direct:pipeline}) to the
 * destination, before the stream starts. Copy and stream meet exactly: the copy holds every transaction committed
 * before the snapshot's consistent point, the stream every one after it. Each table's copy starts by emptying its
 * destination table, so a copy repeated for a new slot leaves no stale rows.
 *
 * <p>The snapshot is the new slot's when the consumer created it. When the slot exists (the consumer's
 * {@code snapshotExistingSlot}), this says whether the destination needs a copy: when it holds no complete one (the
 * seed's manual setup, a run stopped during its initial copy), or once after sync.resnapshot with
 * source.create_slot=false. The consumer then hands it a temporary slot's snapshot, and the destination's position for
 * the slot becomes that snapshot's consistent point: the stream applies exactly the transactions after it. (Copying the
 * current rows and replaying every change since the slot's position onto them would not converge: a replayed update
 * that leaves a TOASTed value unchanged knows no value for a row the copy has under another key.) Every table is copied
 * again, as the position is the slot's, not a table's. A destination that streamed from the slot before gets the
 * tables it lacks from {@link LogReplicationStart} instead, while the slot keeps its position.
 */
final class InitialCopy implements InitialSnapshotHandler, CamelContextAware {
    private static final Logger LOG = LoggerFactory.getLogger(InitialCopy.class);

    private final SourceConnections connections;
    private final BatchStreams streams;
    private final PositionStore positions;
    private final BooleanSupplier leading;
    private final Executor readers;
    private final TableCopies tableCopies;
    private final RunOutcome outcome;
    private final boolean ha;
    /** sync.resnapshot with source.create_slot=false: the next copy inside a temporary slot's snapshot copies every table. */
    private final AtomicBoolean copyAll = new AtomicBoolean();
    private CamelContext context;
    private SnapshotCopy snapshotCopy;
    /** Told of the tables a copy inside a snapshot is about to write ({@link io.pgsource.sink.Destination#prepareCopy}). */
    private TablesAhead tablesAhead = tables -> { };

    /** What the destination makes ready of a copy's tables while the copy starts. */
    @FunctionalInterface
    interface TablesAhead {
        void prepare(List<io.pgsource.change.TableSchema> tables) throws Exception;
    }

    /** The destination hears of the tables of every copy inside a snapshot before its first page. */
    void tablesAhead(TablesAhead ahead) {
        this.tablesAhead = ahead;
    }

    /**
     * How the copies read inside a snapshot (readers, {@code source.snapshot_workers}, where progress goes); one reader
     * and no progress by default.
     */
    void snapshotCopy(SnapshotCopy copy) {
        this.snapshotCopy = copy;
    }

    private SnapshotCopy snapshotCopy() {
        return snapshotCopy != null ? snapshotCopy : new SnapshotCopy(connections, readers);
    }

    /**
     * @param leading whether this instance may still write the copy: always without sync.ha; with it, only while it
     *                leads (a copy going on after another instance took over would overwrite that one's newer rows)
     * @param readers runs each table's page reader, so the next page is read while one is applied
     * @param tableCopies keeps, for each table copied, what the copies made while streaming need to know
     * @param outcome     decides whether a failed copy ends the run
     * @param ha          sync.ha: a copy of an existing slot that failed is tried again (while this instance leads)
     */
    InitialCopy(SourceConnections connections, BatchStreams streams, PositionStore positions, BooleanSupplier leading,
            Executor readers, TableCopies tableCopies, RunOutcome outcome, boolean ha) {
        this.connections = connections;
        this.streams = streams;
        this.positions = positions;
        this.leading = leading;
        this.readers = readers;
        this.tableCopies = tableCopies;
        this.outcome = outcome;
        this.ha = ha;
    }

    /** The chunked backfills that make the initial copy with source.initial_copy=chunked; null: inside a snapshot. */
    private Backfills chunked;

    /**
     * source.initial_copy=chunked (PostgreSQL 14+): a new slot exports no snapshot unless a keyless table needs one, the
     * stream starts at once, and every table with a primary key is backfilled in chunks while it streams.
     */
    void chunked(Backfills backfills) {
        this.chunked = backfills;
    }

    /** sync.resnapshot keeping the slot (source.create_slot=false): the consumer's next copy copies every table again. */
    void copyEveryTableAgain() {
        copyAll.set(true);
    }

    /**
     * The slot exists: a copy is needed when sync.resnapshot asked for one, or when the destination neither streamed from
     * the slot nor holds a complete copy.
     */
    @Override
    public boolean snapshotNeeded(String slot) throws Exception {
        if (copyAll.get()) {
            return true;
        }
        if (positions.load(Positions.stream(new Position.Log(0, 0, null), slot)).isPresent()) {
            return false; // it streamed from the slot: LogReplicationStart copied the tables it lacks
        }
        if (chunked == null) {
            return !SnapshotCopy.completed(positions, streams.streams());
        }
        // chunked: the tables with a key the destination holds no copy of are backfilled while the slot streams from its
        // position (the chunks read later than the changes replayed before them, so both meet exactly), the keyless ones
        // copied inside a temporary slot's snapshot, the stream leaving out what that copy holds
        List<StreamTask> keyed = new ArrayList<>();
        List<StreamTask> keyless = new ArrayList<>();
        Map<TableId, String> reasons = new LinkedHashMap<>();
        for (StreamTask task : streams.streams()) {
            TableId table = task.table().id();
            if (!SnapshotCopy.completed(positions, task.stream()) && !chunked.covers(table)) {
                (task.keyless() ? keyless : keyed).add(task);
                reasons.put(table, "slot " + slot + " exists but the destination holds no complete copy");
            }
        }
        try {
            if (!keyed.isEmpty()) {
                LOG.info("Slot {} exists but the destination holds no complete copy of {} table(s): copying them in chunks while"
                        + " streaming from the slot's position (source.initial_copy=chunked)", slot, keyed.size());
                chunked.copy(keyed, "initial copy");
                tableCopies.recordHeld(keyed);
            }
            if (!keyless.isEmpty()) {
                tableCopies.copy(keyless, reasons);
            }
        } catch (Exception e) {
            outcome.startFailed(e, ha);
            throw e;
        }
        return false;
    }

    @Override
    public boolean exportSnapshot() throws Exception {
        // chunked: only keyless tables are copied inside the new slot's snapshot
        return chunked == null || streams.streams().stream().anyMatch(StreamTask::keyless);
    }

    @Override
    public void existingSlotSnapshot(String slot, SlotCreated temporary) throws Exception {
        List<StreamTask> tasks = streams.streams();
        long consistent = temporary.consistentLsn();
        LOG.info("Slot {} exists but the destination has {}: copying {} table(s) inside the snapshot of the temporary slot {}"
                + " at {}, then streaming the transactions committed after it", slot, copyAll.get() ? "to be copied again (sync.resnapshot)"
                : "no complete copy", tasks.size(), temporary.slotName(), Positions.lsn(consistent));
        try (ProducerTemplate template = context.createProducerTemplate()) {
            preload(tasks);
            snapshotCopy().copy(temporary.snapshotName(), tasks, pages(template, leading, positions),
                    tableCopies.copiedAt(consistent));
        } catch (Exception e) {
            outcome.startFailed(e, ha); // as a failure of the start of log replication; the consumer tries again later
            throw e;
        }
        positions.save(Positions.stream(new Position.Log(consistent, 0, null), slot), Positions.lsn(consistent));
        copyAll.set(false);
    }

    @Override
    public void initialSnapshot(SlotCreated slot) throws Exception {
        if (chunked != null) {
            initialChunks(slot);
            return;
        }
        List<StreamTask> tasks = streams.streams();
        LOG.info("Slot {} created at {}: copying {} table(s) inside its exported snapshot before streaming", slot.slotName(),
                slot.consistentPoint(), tasks.size());
        long started = System.nanoTime();
        try (ProducerTemplate template = context.createProducerTemplate()) {
            preload(tasks);
            snapshotCopy().copy(slot.snapshotName(), tasks, pages(template, leading, positions),
                    tableCopies.copiedAt(slot.consistentLsn()));
        } catch (Exception e) {
            outcome.copyFailed(e); // the consumer drops the slot and tries again later
            throw e;
        }
        // a new slot starts a new stream: the position stored for an earlier slot of that name (another server, a
        // dropped slot) must not make the destination skip the new slot's transactions
        positions.save(Positions.stream(new Position.Log(slot.consistentLsn(), 0, null), slot.slotName()), Positions.lsn(slot.consistentLsn()));
        LOG.info("Initial copy finished in {} ms; streaming from {}", (System.nanoTime() - started) / 1_000_000, slot.consistentPoint());
    }

    /**
     * source.initial_copy=chunked: the tables with a primary key are stored as to be backfilled (each with a TRUNCATE of
     * its destination table) and backfilled in chunks once the stream runs; the keyless ones are copied inside the slot's
     * exported snapshot first (the slot exported one only for them).
     */
    private void initialChunks(SlotCreated slot) throws Exception {
        List<StreamTask> tasks = streams.streams();
        List<StreamTask> keyed = tasks.stream().filter(t -> !t.keyless()).toList();
        List<StreamTask> keyless = tasks.stream().filter(StreamTask::keyless).toList();
        LOG.info("Slot {} created at {}: streaming at once and copying {} table(s) in chunks meanwhile (source.initial_copy=chunked){}",
                slot.slotName(), slot.consistentPoint(), keyed.size(), keyless.isEmpty() ? ""
                        : "; first " + keyless.size() + " table(s) without primary key inside its exported snapshot (they have no chunks)");
        try {
            if (!keyless.isEmpty()) {
                try (ProducerTemplate template = context.createProducerTemplate()) {
                    snapshotCopy().oneReader().copy(slot.snapshotName(), keyless, pages(template, leading, positions),
                            tableCopies.copiedAt(slot.consistentLsn()));
                }
            }
            chunked.copy(keyed, "initial copy");
            tableCopies.recordHeld(keyed);
        } catch (Exception e) {
            outcome.copyFailed(e); // the consumer drops the slot and tries again later
            throw e;
        }
        positions.save(Positions.stream(new Position.Log(slot.consistentLsn(), 0, null), slot.slotName()), Positions.lsn(slot.consistentLsn()));
    }

    /**
     * The destination checks each page against its table's stored position: a store in a database reads them all now, in
     * one query, instead of one per table.
     */
    private void preload(List<StreamTask> tasks) throws Exception {
        positions.preload(tasks.stream().map(StreamTask::stream).toList());
        try {
            // the shapes the copy's pages carry (each reader's rows are its table's schema)
            tablesAhead.prepare(tasks.stream().map(t -> t.table().schema()).toList());
        } catch (Exception e) {
            LOG.debug("the destination could not prepare the copy's tables ahead ({}): its pages make them", e.getMessage());
        }
    }

    /** The shared pipeline's endpoint ({@code routes/pipeline.camel.yaml}), which copies and streamed transactions go on to. */
    static final String PIPELINE = "direct:pipeline";

    /**
     * The pages of a copy inside a snapshot go down the pipeline one at a time ({@link #send}), a table's last one with the
     * records its copy leaves ({@link SnapshotCopy.CopiedHandler#records}).
     */
    static SnapshotCopy.PageHandler pages(ProducerTemplate template, BooleanSupplier leading, PositionStore positions) {
        Endpoint pipeline = template.getCamelContext().getEndpoint(PIPELINE); // once per copy, not a URI looked up per page
        return new SnapshotCopy.PageHandler() {
            @Override
            public void accept(ChangeBatch page) throws Exception {
                accept(page, Map.of());
            }

            @Override
            public void accept(ChangeBatch page, Map<String, String> records) throws Exception {
                send(template, pipeline, page, leading, records, positions);
            }
        };
    }

    /**
     * Sends one page of a snapshot copy down the pipeline and waits until the destination applied it, with the records to
     * store with it ({@link ChangeHeaders#COPY_RECORDS}): the destination step stores them, in the page's transaction where
     * the destination can; should the page not reach it (a route that left it out), they are stored here after it.
     */
    private static void send(ProducerTemplate template, Endpoint pipeline, ChangeBatch page, BooleanSupplier leading,
            Map<String, String> records, PositionStore positions) throws Exception {
        if (!leading.getAsBoolean()) {
            throw new IllegalStateException("this instance lost the leadership of log replication during the initial copy: "
                    + "the copy stops here, and the instance that leads now copies again");
        }
        Position.Batch position = (Position.Batch) page.position();
        Exchange done = template.send(pipeline, e -> {
            e.getMessage().setBody(page);
            e.getMessage().setHeader(ChangeHeaders.STREAM, position.stream());
            e.getMessage().setHeader(ChangeHeaders.BOOKMARK, position.bookmark());
            if (!records.isEmpty()) {
                e.getMessage().setHeader(ChangeHeaders.COPY_RECORDS, records);
            }
        });
        if (done.getException() != null) {
            throw done.getException();
        }
        if (!records.isEmpty() && !Boolean.TRUE.equals(done.getProperty(ChangeHeaders.COPY_RECORDS_STORED))) {
            positions.saveAllAfterData(records);
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
