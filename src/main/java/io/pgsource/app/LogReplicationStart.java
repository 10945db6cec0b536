package io.pgsource.app;

import io.pgsource.backfill.Backfills;
import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.StreamTask;
import io.pgsource.change.Position;
import io.pgsource.change.TableId;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.pgoutput.PgOutputComponent;
import io.pgsource.pgoutput.PgOutputConsumer;
import io.pgsource.pgoutput.PgOutputEndpoint;
import io.pgsource.pgoutput.PrerequisiteException;
import io.pgsource.pgoutput.ReplicationSlots;
import io.pgsource.pgoutput.SlotLostException;
import io.pgsource.sink.Destination;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LOG_BASED start-up. First the log-replication consumer's own checks run (server, role, slot, publications, created
 * when allowed), so a setup the stream cannot follow stops before anything is copied. When the destination streamed
 * from the slot before, the tables it holds no copy of are copied ({@link TableCopies}) while the slot keeps its
 * position. Then the log-replication route starts. The consumer decides the rest itself: when the slot does not exist,
 * it creates it and {@link InitialCopy} copies inside its exported snapshot (no gap, no duplicate); when it exists but
 * the destination holds no complete copy (the seed's manual setup, or a run stopped during its initial copy), it asks
 * {@link InitialCopy} and copies every table inside the exported snapshot of a temporary slot, and the stream applies
 * only the transactions committed after that snapshot (its option {@code snapshotExistingSlot}). With
 * {@code sync.once}, {@link RunOutcome} waits until the slot has confirmed every transaction committed before the
 * start and ends the application.
 *
 * <p>A slot that is gone although the destination holds changes streamed from it is not silently created again (that
 * would skip everything committed in between): it stops pgsource with {@link SlotLostException}. With
 * {@code sync.resnapshot=true} the old slot is dropped and the consumer creates a new one and copies every table inside
 * its snapshot ({@link InitialCopy}: each table's copy starts by emptying the destination table); with
 * {@code source.create_slot=false} the existing slot stays and every table is copied inside a temporary slot's
 * snapshot. A failure here ends pgsource ({@link RunOutcome#startFailed}).
 */
final class LogReplicationStart {
    private static final Logger LOG = LoggerFactory.getLogger(LogReplicationStart.class);

    private final String slot;
    private final boolean createSlot;
    private final boolean resnapshot;
    private final PgSourceConnections connections;
    private final BatchStreams streams;
    private final PositionStore positions;
    private final RunOutcome outcome;
    private final TableCopies tableCopies;
    private final InitialCopy initialCopy;
    /** sync.once: the consumer has started streaming (after its copy, if it made one). */
    private volatile boolean copied;
    /** The chunked backfills: resumed at the start, and sync.once waits for them; null: none. */
    private Backfills backfills;
    /** Told before streaming starts, to read ahead for the first transaction; null: none. */
    private Destination destination;
    /** The tables selected at start, which the destination reads ahead for. */
    private List<TableId> captured = List.of();

    /**
     * The destination, which reads ahead what the first streamed transaction asks for before streaming starts.
     *
     * @param captured the tables selected at start (as discovered then: no catalog query more)
     */
    void destination(Destination destination, List<TableId> captured) {
        this.destination = destination;
        this.captured = List.copyOf(captured);
    }

    /** The chunked backfills, which resume when streaming starts and which sync.once waits for. */
    void backfills(Backfills backfills) {
        this.backfills = backfills;
    }

    /**
     * @param createSlot {@code source.create_slot}: the consumer creates a missing slot
     * @param resnapshot {@code sync.resnapshot}: start from a new slot (or, without createSlot, a temporary slot's
     *                   snapshot) and copy every table again
     * @param tableCopies copies the tables the destination holds no copy of while it holds the others and streamed before
     * @param initialCopy copies every table inside a temporary slot's snapshot when the consumer asks it to
     */
    LogReplicationStart(String slot, boolean createSlot, boolean resnapshot, PgSourceConnections connections, BatchStreams streams,
            PositionStore positions, RunOutcome outcome, TableCopies tableCopies, InitialCopy initialCopy) {
        this.slot = slot;
        this.createSlot = createSlot;
        this.resnapshot = resnapshot;
        this.connections = connections;
        this.streams = streams;
        this.positions = positions;
        this.outcome = outcome;
        this.tableCopies = tableCopies;
        this.initialCopy = initialCopy;
    }

    /** Runs the start-up on a Camel-managed thread, so Camel's own start is not held up by a long copy. */
    void start(CamelContext context) {
        SlotLagMetrics.register(context, slot);
        ExecutorService executor = context.getExecutorServiceManager().newSingleThreadExecutor(this, "pgsource-log-start");
        executor.submit(() -> {
            try {
                long target = currentLsn();
                copyIfNeededThenStream(context);
                if (outcome.once()) {
                    try (Connection c = connections.open()) {
                        outcome.finishWhenCaughtUp(() -> caughtUp(context, c, target));
                    }
                }
            } catch (Exception e) {
                outcome.startFailed(e, false);
            } finally {
                context.getExecutorServiceManager().shutdown(executor);
            }
        });
    }

    /**
     * Checks the slot against what the destination holds, and prepares a resnapshot.
     *
     * @return whether every table must be copied again although the destination holds a complete copy
     * @throws SlotLostException when the slot is gone but the destination holds changes streamed from it
     */
    private boolean prepareSlot() throws SQLException {
        ReplicationSlots.State row = slotState();
        if (!resnapshot) {
            if (!row.exists()) {
                Optional<String> streamed = positions.load(Positions.stream(new Position.Log(0, 0, null), slot));
                if (streamed.isPresent()) {
                    throw new SlotLostException(SlotLostException.Reason.DROPPED, "replication slot " + slot + " does not exist,"
                            + " but the destination holds changes streamed from it up to LSN " + streamed.get() + ": the slot was"
                            + " dropped since (or pgsource now reads another server). The changes committed after that LSN cannot"
                            + " be streamed any more and may be missing at the destination; creating the slot again would skip"
                            + " them silently");
                }
            }
            return false;
        }
        if (!row.exists()) {
            LOG.warn("sync.resnapshot=true: slot {} does not exist; the consumer creates it and copies every table again inside"
                    + " its snapshot", slot);
            return false;
        }
        if (row.activePid() != null) {
            throw new PrerequisiteException("sync.resnapshot=true would drop replication slot " + slot + ", but PID "
                    + row.activePid() + " is streaming from it (pg_replication_slots.active_pid; another pgsource?): stop that"
                    + " first, then run again");
        }
        if (createSlot) {
            try (Connection c = connections.open()) {
                ReplicationSlots.drop(c, slot);
            }
            LOG.warn("sync.resnapshot=true: dropped replication slot {} (confirmed up to {}{}); the consumer creates a new one and"
                    + " copies every table again inside its snapshot, replacing the rows of each destination table, then streams."
                    + " Remove sync.resnapshot afterwards: every start with it copies everything again", slot, row.confirmedPoint(),
                    row.invalidated() ? ", invalidated" : "");
            return false;
        }
        if (row.invalidated()) {
            throw new PrerequisiteException("sync.resnapshot=true cannot use replication slot " + slot + ": it is invalidated, and"
                    + " source.create_slot=false forbids creating it again. Drop and create it by hand (" + ReplicationSlots.dropSql(slot)
                    + " " + ReplicationSlots.createSqlForUsers(slot, serverMajor()) + ") or set source.create_slot=true, then run again with sync.resnapshot=true");
        }
        LOG.warn("sync.resnapshot=true with source.create_slot=false: keeping slot {} and copying every table again inside a"
                + " temporary slot's snapshot. Remove sync.resnapshot afterwards: every start with it copies everything again", slot);
        return true;
    }

    private int serverMajor() throws SQLException {
        try (Connection c = connections.open()) {
            return c.getMetaData().getDatabaseMajorVersion();
        }
    }

    private ReplicationSlots.State slotState() throws SQLException {
        try (Connection c = connections.open()) {
            return ReplicationSlots.state(c, slot);
        }
    }

    /**
     * Checks the slot (and prepares sync.resnapshot), copies the tables a destination that streamed before lacks, then
     * starts the log-replication route. With sync.ha this runs on the leader only.
     */
    void copyIfNeededThenStream(CamelContext context) throws Exception {
        boolean copyAll = prepareSlot();
        checkPrerequisites(context);
        boolean slotExisted = copyIfNeeded(copyAll);
        prepareDestination();
        tableCopies.prepareStream();
        settleHeap();
        CaptureRoute.of(context, CaptureRoute.Part.LOG_REPLICATION).startRoute();
        if (slotExisted && backfills != null) {
            // the unfinished backfills (a chunked initial copy cut short) go on now, not at the first change the stream
            // brings (on a quiet source that may be long); their watermarks follow the slot's position, so it meets them
            backfills.resume();
        }
    }

    /**
     * The log-replication consumer's own start-up checks (server, role, slot, publications, which it creates when
     * allowed), run before anything is copied: a copy that its stream then cannot follow is work thrown away.
     */
    private static void checkPrerequisites(CamelContext context) throws SQLException {
        // unwrapped from master: (sync.ha)
        if (CaptureRoute.of(context, CaptureRoute.Part.LOG_REPLICATION).endpoint() instanceof PgOutputEndpoint pgoutput) {
            pgoutput.checkPrerequisites();
        }
    }

    /**
     * In the launcher's child (its serial collector and fixed young generation are the launcher's choice), one full
     * collection before streaming starts. What the start-up left alive (Camel's context, the catalog, caches: about 10 MB)
     * would otherwise be copied from survivor space to survivor space at each of the first young collections while
     * streaming, until it is old enough to be promoted: pauses of 10-38 ms every few seconds at 1,000 rows per second
     * (the latency bench's slowest transactions after the start were those), where a collection of what streaming
     * leaves behind takes about 1 ms. Now it goes to the old generation at once, before any change waits. Nowhere else:
     * in a Camel runtime of the user's, its heap is not ours to collect.
     */
    private static void settleHeap() {
        if (System.getProperty(Launcher.CHILD_PROPERTY) == null) {
            return;
        }
        long started = System.nanoTime();
        System.gc();
        LOG.debug("collected the start-up's heap before streaming in {} ms", (System.nanoTime() - started) / 1_000_000);
    }

    /**
     * Lets the destination read ahead what the first streamed transaction asks for (stored positions, its tables'
     * catalog), so that transaction does not wait for it. A failure only costs that: the first transaction reads it.
     */
    private void prepareDestination() {
        if (destination == null) {
            return;
        }
        List<String> positionStreams = new ArrayList<>();
        positionStreams.add(Positions.stream(new Position.Log(0, 0, null), slot));
        for (TableId table : captured) {
            // asked for at a table's first change: its copy's mark and its copy's last bookmark (TableCopies.isCopied)
            positionStreams.add(Positions.copiedAt(slot, table));
            positionStreams.add(table.toString());
        }
        try {
            destination.prepareStream(captured, positionStreams);
        } catch (Exception e) {
            LOG.debug("the destination could not read ahead for the first streamed transaction; it reads when asked", e);
        }
    }

    /** @return whether the slot exists */
    private boolean copyIfNeeded(boolean copyAll) throws Exception {
        if (!slotState().exists()) {
            LOG.info("Slot {} does not exist yet: the consumer creates it and copies the tables", slot);
            return false;
        }
        if (copyAll) {
            initialCopy.copyEveryTableAgain();
        } else if (positions.load(Positions.stream(new Position.Log(0, 0, null), slot)).isPresent()) {
            // the destination streamed from the slot after a complete copy: only the tables it holds no copy of (selected
            // or published since, a copy cut short), or no exact one (a schema change no change of the table carried yet),
            // are copied, while the slot keeps its position
            Map<TableId, String> reasons = new LinkedHashMap<>();
            List<StreamTask> copy = new ArrayList<>();
            for (StreamTask task : streams.streams()) {
                String reason = tableCopies.copyReason(task);
                if (reason != null) {
                    reasons.put(task.table().id(), reason);
                    copy.add(task);
                }
            }
            if (!copy.isEmpty()) {
                tableCopies.copyOrBackfill(copy, reasons);
            }
        }
        // otherwise the consumer asks initialCopy whether the destination needs a copy of every table (snapshotExistingSlot)
        return true;
    }

    private long currentLsn() throws SQLException {
        try (Connection c = connections.open(); var s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * Whether the slot's confirmed_flush_lsn reached the target: everything committed before is applied. A slot the
     * consumer creates is confirmed at its consistent point at once, before its initial copy ran: so the consumer must
     * have started streaming (the copy is done) too.
     */
    private boolean caughtUp(CamelContext context, Connection c, long target) throws SQLException {
        copied = copied || PgOutputComponent.status(context, slot).map(PgOutputConsumer.Status::streaming).orElse(false);
        if (!copied || backfills != null && !backfills.idle()) {
            return false; // a chunked copy goes on: its rows are not all at the destination yet
        }
        Long confirmed = ReplicationSlots.state(c, slot).confirmedFlush();
        return confirmed != null && confirmed >= target;
    }
}
