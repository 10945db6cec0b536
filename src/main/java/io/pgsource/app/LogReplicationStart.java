package io.pgsource.app;

import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.SnapshotCopy;
import io.pgsource.batch.StreamTask;
import io.pgsource.change.Position;
import io.pgsource.change.TableId;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.pgoutput.PgOutputConsumer;
import io.pgsource.pgoutput.PgOutputEndpoint;
import io.pgsource.pgoutput.PrerequisiteException;
import io.pgsource.pgoutput.ReplicationSlots;
import io.pgsource.pgoutput.SlotCreated;
import io.pgsource.pgoutput.SlotLostException;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.function.BooleanSupplier;
import org.apache.camel.CamelContext;
import org.apache.camel.DelegateEndpoint;
import org.apache.camel.Endpoint;
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LOG_BASED start-up. First the log-replication consumer's own checks run (server, role, slot, publications, created
 * when allowed), so a setup the stream cannot follow stops before anything is copied. When the slot already exists but
 * the destination holds no complete copy (the seed's manual
 * setup, or a run stopped during its initial copy), every table is copied inside the exported snapshot of a temporary
 * slot and the stream applies only the transactions committed after that snapshot. (When the slot does not exist, the consumer creates
 * it and {@link InitialCopy} copies inside its exported snapshot: no gap, no duplicate.) Then the log-replication
 * route starts. With {@code sync.once}, it waits until the slot has confirmed every transaction committed before
 * the start and ends the application.
 *
 * <p>A slot that is gone although the destination holds changes streamed from it is not silently created again (that
 * would skip everything committed in between): it stops pgsource with {@link SlotLostException}. With
 * {@code sync.resnapshot=true} the old slot is dropped and the consumer creates a new one and copies every table inside
 * its snapshot ({@link InitialCopy}: each table's copy starts by emptying the destination table); with
 * {@code source.create_slot=false} the existing slot stays and every table is copied inside a temporary slot's
 * snapshot. A failure here ends pgsource ({@link RunOutcome}).
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
    private final Executor readers;
    private final TableCopies tableCopies;

    /**
     * @param createSlot {@code source.create_slot}: the consumer creates a missing slot
     * @param resnapshot {@code sync.resnapshot}: start from a new slot (or, without createSlot, a temporary slot's
     *                   snapshot) and copy every table again
     * @param tableCopies copies the tables the destination holds no copy of while it holds the others and streamed before
     */
    LogReplicationStart(String slot, boolean createSlot, boolean resnapshot, PgSourceConnections connections, BatchStreams streams,
            PositionStore positions, RunOutcome outcome, Executor readers, TableCopies tableCopies) {
        this.slot = slot;
        this.createSlot = createSlot;
        this.resnapshot = resnapshot;
        this.connections = connections;
        this.streams = streams;
        this.positions = positions;
        this.outcome = outcome;
        this.readers = readers;
        this.tableCopies = tableCopies;
    }

    /** Runs the start-up on a Camel-managed thread, so Camel's own start is not held up by a long copy. */
    void start(CamelContext context) {
        SlotLagMetrics.register(context, slot);
        ExecutorService executor = context.getExecutorServiceManager().newSingleThreadExecutor(this, "pgsource-log-start");
        executor.submit(() -> {
            try {
                long target = currentLsn();
                copyIfNeededThenStream(context, () -> true);
                if (outcome.once()) {
                    awaitConfirmed(context, target);
                    outcome.finished();
                }
            } catch (Exception e) {
                outcome.fail(e); // without the capture running there is nothing left to do
            } finally {
                context.getExecutorServiceManager().shutdown(executor);
            }
        });
    }

    /** The slot as pg_replication_slots shows it. */
    private record SlotRow(Integer activePid, boolean invalidated, String confirmedFlush) {
    }

    /**
     * Checks the slot against what the destination holds, and prepares a resnapshot.
     *
     * @return whether every table must be copied again although the destination holds a complete copy
     * @throws SlotLostException when the slot is gone but the destination holds changes streamed from it
     */
    private boolean prepareSlot() throws SQLException {
        SlotRow row = slotRow();
        if (!resnapshot) {
            if (row == null) {
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
        if (row == null) {
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
            try (Connection c = connections.open();
                 PreparedStatement ps = c.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
                ps.setString(1, slot);
                ps.execute();
            }
            LOG.warn("sync.resnapshot=true: dropped replication slot {} (confirmed up to {}{}); the consumer creates a new one and"
                    + " copies every table again inside its snapshot, replacing the rows of each destination table, then streams."
                    + " Remove sync.resnapshot afterwards: every start with it copies everything again", slot, row.confirmedFlush(),
                    row.invalidated() ? ", invalidated" : "");
            return false;
        }
        if (row.invalidated()) {
            throw new PrerequisiteException("sync.resnapshot=true cannot use replication slot " + slot + ": it is invalidated, and"
                    + " source.create_slot=false forbids creating it again. Drop and create it by hand (SELECT"
                    + " pg_drop_replication_slot('" + slot.replace("'", "''") + "'); "
                    + ReplicationSlots.createSqlForUsers(slot, serverMajor()) + ") or set source.create_slot=true, then run again with sync.resnapshot=true");
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

    private SlotRow slotRow() throws SQLException {
        try (Connection c = connections.open();
             PreparedStatement ps = c.prepareStatement("SELECT active_pid, to_jsonb(s) ->> 'wal_status' = 'lost'"
                     + " OR to_jsonb(s) ->> 'invalidation_reason' IS NOT NULL, confirmed_flush_lsn::text"
                     + " FROM pg_replication_slots s WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                return new SlotRow((Integer) rs.getObject(1), rs.getBoolean(2), rs.getString(3));
            }
        }
    }

    /**
     * Checks the slot (and prepares sync.resnapshot), copies the tables when the slot exists but the destination has no
     * complete copy, then starts the log-replication route. With sync.ha this runs on the leader only, and the copy
     * stops when {@code leading} turns false.
     */
    void copyIfNeededThenStream(CamelContext context, BooleanSupplier leading) throws Exception {
        boolean copyAll = prepareSlot();
        checkPrerequisites(context);
        copyIfNeeded(context, copyAll, leading);
        context.getRouteController().startRoute(CaptureStarter.LOG_ROUTE);
    }

    /**
     * The log-replication consumer's own start-up checks (server, role, slot, publications, which it creates when
     * allowed), run before anything is copied: a copy that its stream then cannot follow is work thrown away.
     */
    private static void checkPrerequisites(CamelContext context) throws SQLException {
        Endpoint endpoint = context.getRoute(CaptureStarter.LOG_ROUTE).getEndpoint();
        while (endpoint instanceof DelegateEndpoint delegate) {
            endpoint = delegate.getEndpoint(); // master: (sync.ha) wraps the pgoutput: endpoint
        }
        if (endpoint instanceof PgOutputEndpoint pgoutput) {
            pgoutput.checkPrerequisites();
        }
    }

    private void copyIfNeeded(CamelContext context, boolean copyAll, BooleanSupplier leading) throws Exception {
        if (slotRow() == null) {
            LOG.info("Slot {} does not exist yet: the consumer creates it and copies the tables inside its exported snapshot", slot);
            return;
        }
        List<StreamTask> tasks = streams.streams();
        if (!copyAll && positions.load(Positions.stream(new Position.Log(0, 0, null), slot)).isPresent()) {
            // the destination streamed from the slot after a complete copy: only the tables it holds no copy of (selected
            // or published since, a copy cut short), or no exact one (a schema change no change of the table carried yet),
            // are copied, while the slot keeps its position
            Map<TableId, String> reasons = new LinkedHashMap<>();
            List<StreamTask> copy = new ArrayList<>();
            for (StreamTask task : tasks) {
                String reason = tableCopies.copyReason(task);
                if (reason != null) {
                    reasons.put(task.table().id(), reason);
                    copy.add(task);
                }
            }
            if (!copy.isEmpty()) {
                tableCopies.copy(copy, reasons);
            }
            return;
        }
        if (!copyAll && SnapshotCopy.completed(positions, tasks)) {
            return;
        }
        // Copying the current rows and replaying every change since the slot's position onto them does not converge:
        // a replayed update that leaves a TOASTed value unchanged knows no value for a row the copy has under another
        // key. So the copy reads inside the exported snapshot of a temporary slot, and the destination's position for
        // the slot becomes that snapshot's consistent point: the stream then applies exactly the transactions after it.
        // Every table is copied again, as the position is the slot's, not a table's.
        String copySlot = "pgsource_copy_" + ProcessHandle.current().pid();
        try (Connection replication = connections.openReplication()) {
            SlotCreated created = ReplicationSlots.create(replication, copySlot, true);
            String snapshot = created.snapshotName();
            long consistent = created.consistentLsn();
            LOG.info("Slot {} exists but the destination has {}: copying {} table(s) inside the snapshot of the temporary slot {}"
                    + " at {}, then streaming the transactions committed after it", slot, copyAll ? "to be copied again (sync.resnapshot)"
                    : "no complete copy", tasks.size(), copySlot, Positions.lsn(consistent));
            try (ProducerTemplate template = context.createProducerTemplate()) {
                new SnapshotCopy(connections, readers).copy(snapshot, tasks, page -> InitialCopy.send(template, page, leading),
                        tableCopies.copiedAt(consistent));
            }
            positions.save(Positions.stream(new Position.Log(consistent, 0, null), slot), Positions.lsn(consistent));
        } // closing the replication connection drops the temporary slot
    }

    private long currentLsn() throws SQLException {
        try (Connection c = connections.open(); var s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * Polls the slot until its confirmed_flush_lsn reached the target: everything committed before is applied. A slot the
     * consumer creates is confirmed at its consistent point at once, before its initial copy ran: so the consumer must
     * have started streaming (the copy is done) too.
     */
    private void awaitConfirmed(CamelContext context, long target) throws SQLException, InterruptedException {
        boolean copied = false;
        try (Connection c = connections.open();
             PreparedStatement ps = c.prepareStatement(
                     "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            while (!outcome.ended()) {
                copied = copied || streaming(context);
                if (copied) {
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next() && rs.getObject(1) != null && rs.getLong(1) >= target) {
                            LOG.info("Log replication caught up with everything committed before the start");
                            return;
                        }
                    }
                }
                Thread.sleep(250);
            }
        }
    }

    /** Whether the log-replication consumer has a replication session open (after its initial copy, if any). */
    private static boolean streaming(CamelContext context) {
        var route = context.getRoute(CaptureStarter.LOG_ROUTE);
        return route != null && route.getConsumer() instanceof PgOutputConsumer c && c.isStreaming();
    }
}
