package io.pgsource.pgoutput;

import io.pgsource.pgoutput.protocol.CatalogTypeNames;
import io.pgsource.pgoutput.protocol.RelationCache;
import io.pgsource.pgoutput.protocol.TransactionAssembler;
import io.pgsource.pgoutput.protocol.TransactionPart;
import io.pgsource.change.TableId;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.replication.fluent.logical.ChainedLogicalStreamBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to the slot: the catalog connection, the replication connection (creating the slot first when
 * asked), the replication stream and the assembler fed from it. Runs on the consumer's reader thread; only
 * {@link #keepAliveIfBusy} and {@link #close} are called from other threads. A failure ends the session; the consumer
 * opens a new one, which resumes from the slot (nothing unacknowledged is lost, the assembler starts afresh).
 */
final class ReplicationSession implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicationSession.class);
    /** The pause between polls of an idle stream: it adds up to this much to every transaction's latency. */
    private static final long IDLE_SLEEP_MILLIS = 1;

    /** Where the session hands each transaction part; returns normally only when the route completed it. */
    interface PartHandler {
        void deliver(TransactionPart part);
    }

    private final PgOutputConfiguration options;
    private final ConnectionSettings connections;
    private final Acknowledgements acks;
    private final PartHandler handler;
    private final ReentrantLock streamLock = new ReentrantLock();

    private Connection catalog;
    private Connection replication;
    private volatile PGReplicationStream stream;
    private TransactionAssembler assembler;
    private volatile boolean busy;
    private volatile long lastStatusNanos = System.nanoTime();
    private long keepAliveNanos;
    private boolean inTransaction;

    /** The acknowledged position, which outlives sessions. */
    interface Acknowledgements {
        long acknowledged();

        void acknowledged(long lsn);
    }

    ReplicationSession(PgOutputConfiguration options, ConnectionSettings connections, Acknowledgements acks, PartHandler handler) {
        this.options = options;
        this.connections = connections;
        this.acks = acks;
        this.handler = handler;
    }

    /** Checks the prerequisites, connects, creates the slot if asked (running the snapshot handler), starts streaming. */
    void open() throws Exception {
        catalog = connections.openCatalog();
        Prerequisites.Outcome setup = new Prerequisites(options).check(catalog);
        if (options.isBinary() && setup.serverVersion() < 140000) {
            throw new PrerequisiteException("pgoutput binary=true needs PostgreSQL 14 or newer; this server is " + setup.serverVersion()
                    + ". Remove the binary option (text mode gives the same values).");
        }
        keepAliveNanos = TimeUnit.MILLISECONDS.toNanos(keepAliveMillis(catalog, options.getStatusInterval()));
        replication = connections.openReplication();
        if (!setup.slotExists()) {
            createSlot(setup.serverVersion());
        }
        int protocol = setup.protocolVersion();
        long start = Math.max(acks.acknowledged(), 0);
        ChainedLogicalStreamBuilder builder = replication.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                .withSlotName(options.getSlot())
                .withStartPosition(start > 0 ? LogSequenceNumber.valueOf(start) : LogSequenceNumber.INVALID_LSN)
                .withSlotOption("proto_version", protocol)
                // pgjdbc puts the value between single quotes as is; the list itself takes quoted identifiers
                .withSlotOption("publication_names", TableId.quoteIdent(options.getPublication()).replace("'", "''"))
                .withStatusInterval((int) Math.min(Integer.MAX_VALUE, options.getStatusInterval()), TimeUnit.MILLISECONDS);
        if (protocol >= 2 && options.isStreaming()) {
            builder.withSlotOption("streaming", "on");
        }
        if (options.isBinary()) {
            builder.withSlotOption("binary", "true");
        }
        if (options.isMessages() && setup.serverVersion() >= 140000) {
            builder.withSlotOption("messages", "true");
        }
        stream = builder.start();
        Path spool = options.getSpoolDirectory() != null ? Path.of(options.getSpoolDirectory())
                : Path.of(System.getProperty("java.io.tmpdir"), "pgoutput-spool");
        assembler = new TransactionAssembler(protocol, new RelationCache(new CatalogTypeNames(catalog)), options.getMaxBatchSize(),
                spool, this::part, m -> LOG.debug("non-transactional logical decoding message '{}' ignored", m.prefix()));
        LOG.info("Streaming slot {} of {} (publication {}, pgoutput protocol {}), from {}", options.getSlot(), connections.target(),
                options.getPublication(), protocol, start > 0 ? "LSN " + PgOutputEndpoint.lsn(start)
                        : "its confirmed position " + PgOutputEndpoint.lsn(setup.confirmedFlush()));
    }

    /** How often to send status while a slow exchange runs: often enough for wal_sender_timeout, at most statusInterval. */
    private static long keepAliveMillis(Connection c, long statusInterval) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_sender_timeout'")) {
            long timeout = rs.next() ? rs.getLong(1) : 0;
            return timeout > 0 ? Math.max(100, Math.min(statusInterval, timeout / 4)) : statusInterval;
        }
    }

    private void createSlot(int serverVersion) throws Exception {
        String slot = options.getSlot(); // validated: [a-z0-9_]+
        String sql = serverVersion >= 150000 ? "CREATE_REPLICATION_SLOT " + slot + " LOGICAL pgoutput (SNAPSHOT 'export')"
                : "CREATE_REPLICATION_SLOT " + slot + " LOGICAL pgoutput EXPORT_SNAPSHOT";
        SlotCreated created;
        try (Statement s = replication.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            created = new SlotCreated(rs.getString("slot_name"), rs.getString("snapshot_name"),
                    LogSequenceNumber.valueOf(rs.getString("consistent_point")).asLong());
        }
        LOG.info("Created replication slot {} at consistent point {} (exported snapshot {})", slot, created.consistentPoint(),
                created.snapshotName());
        InitialSnapshotHandler snapshotHandler = options.getSnapshotHandler();
        if (snapshotHandler == null) {
            LOG.info("No snapshotHandler: rows committed before {} are not streamed (copy them separately if needed)",
                    created.consistentPoint());
            return;
        }
        try {
            snapshotHandler.initialSnapshot(created);
        } catch (Exception e) {
            dropNewSlot(slot);
            throw new PrerequisiteException("the snapshotHandler failed on the snapshot of new slot " + slot + " (" + e
                    + "); the slot was dropped so the next attempt exports a new snapshot");
        }
        LOG.info("snapshotHandler finished with snapshot {}; streaming from {}", created.snapshotName(), created.consistentPoint());
    }

    private void dropNewSlot(String slot) {
        try (Statement s = replication.createStatement()) {
            s.execute("DROP_REPLICATION_SLOT " + slot);
        } catch (SQLException e) {
            LOG.warn("Could not drop the new slot {} after its snapshot handler failed: {}; drop it by hand"
                    + " (SELECT pg_drop_replication_slot('{}')) so a new snapshot is exported", slot, e.getMessage(), slot);
        }
    }

    /**
     * Reads and delivers until {@code running} turns false or something fails (the exception ends the session).
     * While nothing is in flight, follows the server's position so an idle publication does not hold WAL back.
     */
    void run(BooleanSupplier running) throws Exception {
        while (running.getAsBoolean()) {
            ByteBuffer message;
            long walStart;
            streamLock.lock();
            try {
                message = stream.readPending();
                walStart = stream.getLastReceiveLSN().asLong();
            } finally {
                streamLock.unlock();
            }
            if (message == null) {
                followServerWhenIdle();
                Thread.sleep(IDLE_SLEEP_MILLIS);
                continue;
            }
            byte type = message.hasRemaining() ? message.get(message.position()) : 0;
            if (type == 'B') {
                inTransaction = true;
            }
            assembler.accept(message, walStart);
            if (type == 'C') {
                inTransaction = false;
            }
        }
    }

    /** Advances the slot to the server's last position when every delivered transaction is acknowledged. */
    private void followServerWhenIdle() {
        if (inTransaction || assembler.streamsInProgress() > 0) {
            return; // a transaction is in flight: its commit is beyond what was acknowledged
        }
        long received = stream.getLastReceiveLSN().asLong();
        if (received > acks.acknowledged()) {
            acknowledge(received);
        }
    }

    private void part(TransactionPart part) {
        long acknowledged = acks.acknowledged();
        if (part.position().commitLsn() < acknowledged) {
            // a resend of a transaction the route already completed (the server had not yet heard the acknowledgement)
            LOG.debug("skipping transaction {} part {}: already acknowledged up to {}", part.xid(), part.index(),
                    PgOutputEndpoint.lsn(acknowledged));
            return;
        }
        busy = true;
        try {
            handler.deliver(part);
        } finally {
            busy = false;
        }
        part.acknowledgeLsn().ifPresent(this::acknowledge);
    }

    private void acknowledge(long lsn) {
        acks.acknowledged(lsn);
        LogSequenceNumber l = LogSequenceNumber.valueOf(lsn);
        streamLock.lock();
        try {
            stream.setFlushedLSN(l);
            stream.setAppliedLSN(l);
        } finally {
            streamLock.unlock();
        }
    }

    /**
     * Called by a timer: while the route works on an exchange the reader thread does not read, so send status updates
     * from here, or wal_sender_timeout ends the connection.
     */
    void keepAliveIfBusy() {
        PGReplicationStream s = stream;
        long now = System.nanoTime();
        if (!busy || s == null || now - lastStatusNanos < keepAliveNanos) {
            return;
        }
        if (streamLock.tryLock()) {
            try {
                s.forceUpdateStatus();
                lastStatusNanos = now;
            } catch (SQLException e) {
                LOG.debug("status update failed while the route was busy: {}", e.getMessage());
            } finally {
                streamLock.unlock();
            }
        }
    }

    /** Sends the acknowledged position now (before a clean stop), ignoring failures. */
    void flushStatus() {
        PGReplicationStream s = stream;
        if (s == null || s.isClosed()) {
            return;
        }
        streamLock.lock();
        try {
            s.forceUpdateStatus();
        } catch (SQLException e) {
            LOG.debug("final status update failed: {}", e.getMessage());
        } finally {
            streamLock.unlock();
        }
    }

    @Override
    public void close() {
        if (assembler != null) {
            assembler.close();
        }
        PGReplicationStream s = stream;
        stream = null;
        if (s != null) {
            try {
                s.close();
            } catch (SQLException | RuntimeException e) {
                LOG.debug("closing the replication stream: {}", e.getMessage());
            }
        }
        closeQuietly(replication);
        closeQuietly(catalog);
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                LOG.debug("closing a connection: {}", e.getMessage());
            }
        }
    }
}
