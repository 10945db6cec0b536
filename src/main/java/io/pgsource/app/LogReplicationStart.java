package io.pgsource.app;

import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.SnapshotCopy;
import io.pgsource.batch.StreamTask;
import io.pgsource.change.Position;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.ExecutorService;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.support.EventNotifierSupport;
import org.apache.camel.support.service.ServiceHelper;
import org.slf4j.Logger;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.LoggerFactory;

/**
 * LOG_BASED start-up. When the slot already exists but the destination holds no complete copy (the seed's manual
 * setup, or a run stopped during its initial copy), every table is copied inside the exported snapshot of a temporary
 * slot and the stream applies only the transactions committed after that snapshot. (When the slot does not exist, the consumer creates
 * it and {@link InitialCopy} copies inside its exported snapshot: no gap, no duplicate.) Then the log-replication
 * route starts. With {@code sync.once}, it waits until the slot has confirmed every transaction committed before
 * the start and ends the application.
 */
final class LogReplicationStart {
    private static final Logger LOG = LoggerFactory.getLogger(LogReplicationStart.class);

    private final String slot;
    private final PgSourceConnections connections;
    private final BatchStreams streams;
    private final PositionStore positions;

    LogReplicationStart(String slot, PgSourceConnections connections, BatchStreams streams, PositionStore positions) {
        this.slot = slot;
        this.connections = connections;
        this.streams = streams;
        this.positions = positions;
    }

    /** Runs the start-up on a Camel-managed thread, so Camel's own start is not held up by a long copy. */
    void start(CamelContext context) {
        SyncOnce once = context.getRegistry().lookupByNameAndType(SyncOnce.BEAN_NAME, SyncOnce.class);
        if (once != null) {
            FirstFailure notifier = new FirstFailure(once);
            context.getManagementStrategy().addEventNotifier(notifier);
            ServiceHelper.startService(notifier);
        }
        ExecutorService executor = context.getExecutorServiceManager().newSingleThreadExecutor(this, "pgsource-log-start");
        executor.submit(() -> {
            try {
                long target = currentLsn();
                copyIfNeeded(context);
                context.getRouteController().startRoute(CaptureStarter.LOG_ROUTE);
                if (once != null) {
                    awaitConfirmed(target, once);
                    once.finish(null);
                }
            } catch (Exception e) {
                LOG.error("Log replication could not start: {}", BatchRunMonitor.rootMessage(e));
                if (once != null) {
                    once.finish(e);
                }
            } finally {
                context.getExecutorServiceManager().shutdown(executor);
            }
        });
    }

    private void copyIfNeeded(CamelContext context) throws Exception {
        if (!slotExists()) {
            LOG.info("Slot {} does not exist yet: the consumer creates it and copies the tables inside its exported snapshot", slot);
            return;
        }
        List<StreamTask> tasks = streams.streams();
        if (SnapshotCopy.completed(positions, tasks)) {
            return;
        }
        // Copying the current rows and replaying every change since the slot's position onto them does not converge:
        // a replayed update that leaves a TOASTed value unchanged knows no value for a row the copy has under another
        // key. So the copy reads inside the exported snapshot of a temporary slot, and the destination's position for
        // the slot becomes that snapshot's consistent point: the stream then applies exactly the transactions after it.
        // Every table is copied again, as the position is the slot's, not a table's.
        String copySlot = "pgsource_copy_" + ProcessHandle.current().pid();
        try (Connection replication = connections.openReplication(); Statement s = replication.createStatement()) {
            String snapshot;
            long consistent;
            boolean v15 = replication.getMetaData().getDatabaseMajorVersion() >= 15;
            try (ResultSet rs = s.executeQuery("CREATE_REPLICATION_SLOT " + copySlot + " TEMPORARY LOGICAL pgoutput "
                    + (v15 ? "(SNAPSHOT 'export')" : "EXPORT_SNAPSHOT"))) {
                rs.next();
                snapshot = rs.getString("snapshot_name");
                consistent = LogSequenceNumber.valueOf(rs.getString("consistent_point")).asLong();
            }
            LOG.info("Slot {} exists but the destination has no complete copy: copying {} table(s) inside the snapshot of the "
                    + "temporary slot {} at {}, then streaming the transactions committed after it", slot, tasks.size(), copySlot,
                    Positions.lsn(consistent));
            try (ProducerTemplate template = context.createProducerTemplate()) {
                new SnapshotCopy(connections).copy(snapshot, tasks, page -> InitialCopy.send(template, page));
            }
            positions.save(Positions.stream(new Position.Log(consistent, 0, null), slot), Positions.lsn(consistent));
        } // closing the replication connection drops the temporary slot
    }

    private boolean slotExists() throws SQLException {
        try (Connection c = connections.open();
             PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    private long currentLsn() throws SQLException {
        try (Connection c = connections.open(); var s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Polls the slot until its confirmed_flush_lsn reached the target: everything committed before is applied. */
    private void awaitConfirmed(long target, SyncOnce once) throws SQLException, InterruptedException {
        try (Connection c = connections.open();
             PreparedStatement ps = c.prepareStatement(
                     "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            while (!once.finished()) {
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getObject(1) != null && rs.getLong(1) >= target) {
                        LOG.info("Log replication caught up with everything committed before the start");
                        return;
                    }
                }
                Thread.sleep(250);
            }
        }
    }

    /** With sync.once, the first failed exchange of the log-replication route ends the sync with that failure. */
    private static final class FirstFailure extends EventNotifierSupport {
        private final SyncOnce once;

        FirstFailure(SyncOnce once) {
            this.once = once;
        }

        @Override
        public boolean isEnabled(CamelEvent event) {
            return event instanceof CamelEvent.ExchangeFailedEvent e && CaptureStarter.LOG_ROUTE.equals(e.getExchange().getFromRouteId());
        }

        @Override
        public void notify(CamelEvent event) {
            Exchange exchange = ((CamelEvent.ExchangeFailedEvent) event).getExchange();
            once.finish(exchange.getException());
        }
    }
}
