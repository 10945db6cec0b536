package io.pgsource.pgoutput;

import io.pgsource.catalog.CatalogSession;
import io.pgsource.pgoutput.protocol.CatalogColumnOrigins;
import io.pgsource.pgoutput.protocol.CatalogGeneratedColumns;
import io.pgsource.pgoutput.protocol.CatalogPartitionRoots;
import io.pgsource.pgoutput.protocol.CatalogPrimaryKeys;
import io.pgsource.pgoutput.protocol.CatalogTypeNames;
import io.pgsource.pgoutput.protocol.InProgressTransaction;
import io.pgsource.pgoutput.protocol.PartitionRoots;
import io.pgsource.pgoutput.protocol.RelationCache;
import io.pgsource.pgoutput.protocol.TransactionAssembler;
import io.pgsource.pgoutput.protocol.TransactionPart;
import io.pgsource.change.TableId;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.IntPredicate;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.postgresql.replication.fluent.logical.ChainedLogicalStreamBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to the slot: the catalog connection, the replication connection (creating the slot first when
 * asked), the replication stream and the assembler fed from it. Runs on the consumer's reader thread, which reads and
 * decodes while the route works on the transactions before ({@link PartDelivery}, on a thread of its own); only
 * {@link #keepAliveIfBusy} and {@link #close} are called from other threads. A failure ends the session; the consumer
 * opens a new one, which resumes from the slot (nothing unacknowledged is lost, the assembler starts afresh).
 */
final class ReplicationSession implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicationSession.class);
    /**
     * The pause between polls of an idle stream when the driver returned at once. pgjdbc's {@code readPending} itself
     * waits up to 1 ms on the socket when nothing is buffered (and returns as soon as data arrives), so usually the
     * loop polls again at once: a pause here would add up to this much to every transaction's latency.
     */
    private static final long IDLE_SLEEP_MILLIS = 1;
    /** A poll that returned nothing faster than this did not wait on the socket. */
    private static final long WAITED_NANOS = 300_000;
    /**
     * How long the reader lets a large transaction's messages gather in the socket when a poll had to wait for its
     * message. The walsender flushes every change as it decodes it, so a reader faster than the server wakes for each
     * one: for 1M rows in 1,000-row transactions into discard, 1M wake-ups that cost pgsource 4.6-5.8 s of CPU against
     * the server's 4.3-5.0 s; letting them gather costs 3.1-3.6 s (200 us: 4.0-4.2 s; 1 ms held the server back).
     * Only inside a transaction sent whole (Begin to Commit) past its first {@link #GATHER_AFTER} changes: its commit is
     * at most this much later, a small transaction's not at all (the 1,000 rows/s latency of performance.md is
     * unchanged). Not in a streamed one (Stream Start to Stream Stop): one 1M-row transaction into postgres took
     * 6.32-6.79 s with it instead of 5.38-5.69 s, the reader and the applying thread taking turns.
     */
    private static final long GATHER_NANOS = 500_000;
    /** Changes of a transaction read before the reader lets the rest gather ({@link #GATHER_NANOS}). */
    private static final int GATHER_AFTER = 32;
    /** A poll that returned a message slower than this waited for it on the socket. */
    private static final long WOKEN_NANOS = 20_000;

    /** Where the session hands each transaction part; returns normally only when the route completed it. */
    interface PartHandler {
        /** @param transactions how many whole transactions the part combines ({@link TransactionGroup}); 1 usually */
        void deliver(TransactionPart part, int transactions);

        /**
         * The same, with what the destination says of its commit's durability: null when it is durable (or there was
         * none); else the part is acknowledged only once it is ({@link PartDelivery}).
         */
        default io.pgsource.change.PendingDurability deliverPending(TransactionPart part, int transactions) {
            deliver(part, transactions);
            return null;
        }
    }

    private final PgOutputConfiguration options;
    private final Prerequisites prerequisites;
    private final ConnectionSettings connections;
    private final Acknowledgements acks;
    private final PartHandler handler;
    private final Executor deliveryThreads;
    private final boolean textOnly;
    private final ReentrantLock streamLock = new ReentrantLock();
    /** Orders acknowledgements (reader and delivery thread); not the stream's lock, which a poll holds while it waits. */
    private final Object ackLock = new Object();
    private PartDelivery delivery;
    private BooleanSupplier running = () -> true;

    private Connection catalog;
    private Connection replication;
    private volatile PGReplicationStream stream;
    private TransactionAssembler assembler;
    private volatile long lastStatusNanos = System.nanoTime();
    private long keepAliveNanos;
    private boolean inTransaction;
    /** Messages read since the last Begin ({@link #GATHER_AFTER}). */
    private int sinceBegin;

    /** The acknowledged position, which outlives sessions. */
    interface Acknowledgements {
        long acknowledged();

        void acknowledged(long lsn);
    }

    /**
     * @param deliveryThreads runs the route on each transaction part, one at a time, while this session reads on
     * @param textOnly        read in text mode even with binary=true (a column type had no binary decoder)
     */
    ReplicationSession(PgOutputConfiguration options, Prerequisites prerequisites, ConnectionSettings connections, Acknowledgements acks,
                       PartHandler handler, Executor deliveryThreads, boolean textOnly) {
        this.options = options;
        this.prerequisites = prerequisites;
        this.connections = connections;
        this.acks = acks;
        this.handler = handler;
        this.deliveryThreads = deliveryThreads;
        this.textOnly = textOnly;
    }

    /**
     * Checks the prerequisites, connects, creates the slot if asked (running the snapshot handler), starts streaming.
     *
     * @param streamedUpTo null before the consumer first streamed from the slot, else the LSN it acknowledged: then a
     *                     missing slot is not created again but reported as lost ({@link SlotLostException})
     * @param streamed     with streamedUpTo: the publications streamed so far
     * @return the publications this session streams
     */
    List<String> open(Long streamedUpTo, List<String> streamed) throws Exception {
        catalog = connections.openCatalog();
        Prerequisites.Outcome setup = prerequisites.check(catalog, streamedUpTo, streamed);
        IntPredicate binaryTypes = options.getBinaryTypes();
        boolean binary = options.isBinary() && !textOnly;
        if (binary && setup.serverVersion() < 140000) {
            if (binaryTypes == null) {
                throw new PrerequisiteException("pgoutput binary=true needs PostgreSQL 14 or newer; this server is " + setup.serverVersion()
                        + ". Remove the binary option (text mode gives the same values).");
            }
            binary = false; // binary where it works: text mode gives the same values
        }
        keepAliveNanos = TimeUnit.MILLISECONDS.toNanos(keepAliveMillis(catalog, options.getStatusInterval()));
        if (setup.slotExists() && streamedUpTo == null && options.isSnapshotExistingSlot()) {
            snapshotExistingSlot();
        }
        replication = connections.openReplication();
        if (!setup.slotExists()) {
            createSlot();
        }
        int protocol = setup.protocolVersion();
        long start = Math.max(acks.acknowledged(), 0);
        ChainedLogicalStreamBuilder builder = replication.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                .withSlotName(options.getSlot())
                .withStartPosition(start > 0 ? LogSequenceNumber.valueOf(start) : LogSequenceNumber.INVALID_LSN)
                .withSlotOption("proto_version", protocol)
                // pgjdbc puts the value between single quotes as is; the list itself takes quoted identifiers
                .withSlotOption("publication_names", String.join(",", setup.publications().stream().map(TableId::quoteIdent).toList())
                        .replace("'", "''"))
                .withStatusInterval((int) Math.min(Integer.MAX_VALUE, options.getStatusInterval()), TimeUnit.MILLISECONDS);
        if (protocol >= 2 && options.isStreaming()) {
            builder.withSlotOption("streaming", "on");
        }
        if (binary) {
            builder.withSlotOption("binary", "true");
        }
        if (options.isMessages() && setup.serverVersion() >= 140000) {
            builder.withSlotOption("messages", "true");
        }
        // the names of the published tables' column types, before the first transaction needs them
        CatalogTypeNames typeNames = new CatalogTypeNames(catalog);
        CatalogPartitionRoots roots = new CatalogPartitionRoots(catalog);
        CatalogColumnOrigins origins = new CatalogColumnOrigins(catalog);
        CatalogGeneratedColumns generated = new CatalogGeneratedColumns(catalog);
        try {
            typeNames.prefetch(setup.publications());
        } catch (SQLException e) {
            LOG.debug("the column types of publication(s) {} could not be read ahead; they are read when first seen",
                    setup.publications(), e);
        }
        try {
            firstUse(catalog, setup.publications(), roots, origins, generated);
        } catch (SQLException | RuntimeException e) {
            LOG.debug("the catalog look-ups of a Relation message were not tried ahead; the first one does their first-use work", e);
        }
        try {
            stream = builder.start();
        } catch (SQLException e) {
            throw slotTrouble(e, streamedUpTo);
        }
        delivery = new PartDelivery(handler, options.getMaxBatchSize(), options.isCombineTransactions(), this::acknowledge);
        delivery.start(deliveryThreads);
        Path spool = options.getSpoolDirectory() != null ? Path.of(options.getSpoolDirectory())
                : Path.of(System.getProperty("java.io.tmpdir"), "pgoutput-spool");
        Predicate<TableId> captured = options.getTableFilter();
        RelationCache relations = new RelationCache(typeNames, new CatalogPrimaryKeys(catalog),
                generated, roots, origins, binary && binaryTypes != null ? binaryTypes : oid -> true,
                captured != null ? captured : table -> true);
        // applyInProgress: a streamed transaction goes to the destination while in progress, into a transaction held open there
        boolean inProgress = options.isApplyInProgress() && protocol >= 2 && options.isStreaming();
        assembler = new TransactionAssembler(protocol, relations, options.getMaxBatchSize(),
                spool, this::part, m -> LOG.debug("non-transactional logical decoding message '{}' ignored", m.prefix()),
                inProgress ? this::awaitCommit : null);
        LOG.info("Streaming slot {} of {} (publication {}, pgoutput protocol {}, {} mode{}), from {}", options.getSlot(), connections.target(),
                String.join(", ", setup.publications()), protocol, binary ? "binary" : "text", lacking(setup.serverVersion()),
                start > 0 ? "LSN " + PgOutputEndpoint.lsn(start) : "its confirmed position " + PgOutputEndpoint.lsn(setup.confirmedFlush()));
        return setup.publications();
    }

    /** How many published tables {@link #firstUse} asks about. */
    private static final int FIRST_USE_TABLES = 10;

    /**
     * Asks the catalog about a few published tables what a Relation message makes the session ask (partition root, the
     * columns' origins, generated columns), and forgets the answers: the first Relation message still asks (nothing is
     * cached here), but finds the JVM's first-use work on those paths and the catalog backend's caches done, which the
     * first transaction waited for (about 15 ms on a 2-core machine).
     *
     * @return how many published tables were asked about
     */
    static int firstUse(Connection catalog, List<String> publications, CatalogPartitionRoots roots, CatalogColumnOrigins origins,
                        CatalogGeneratedColumns generated) throws SQLException {
        if (publications.isEmpty()) {
            return 0;
        }
        List<Integer> oids = new ArrayList<>();
        CatalogSession.run(catalog, () -> {
            try (PreparedStatement ps = catalog.prepareStatement("""
                    SELECT DISTINCT r.oid FROM pg_publication_tables p
                    JOIN pg_namespace n ON n.nspname = p.schemaname
                    JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = p.tablename
                    WHERE p.pubname = ANY (?) LIMIT ?""")) {
                ps.setArray(1, catalog.createArrayOf("text", publications.toArray()));
                ps.setInt(2, FIRST_USE_TABLES);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        oids.add((int) rs.getLong(1));
                    }
                }
            }
            return null;
        });
        for (int oid : oids) {
            PartitionRoots.Root root = roots.root(oid);
            origins.columns(root != null ? root.oid() : oid);
            generated.generatedColumns(oid);
        }
        return oids.size();
    }

    /** What the options ask for that a server before PostgreSQL 14 (pgoutput protocol 1) cannot give, said once per session. */
    private String lacking(int serverVersion) {
        if (serverVersion >= 140000) {
            return "";
        }
        List<String> missing = new ArrayList<>();
        if (options.isBinary()) {
            missing.add("binary mode (text mode gives the same values)");
        }
        if (options.isStreaming()) {
            missing.add("streaming of in-progress transactions (each transaction arrives after its commit; the server spills a"
                    + " large one to disk until then)");
        }
        if (options.isMessages()) {
            missing.add("logical decoding messages (none are delivered)");
        }
        return missing.isEmpty() ? "" : "; PostgreSQL " + serverVersion / 10000 + " has no " + String.join(", no ", missing)
                + ": they need PostgreSQL 14+";
    }

    /**
     * START_REPLICATION failed: the slot vanished or was invalidated between the checks and the start (a race with
     * whoever dropped it or with a checkpoint), or something else went wrong (returned as is).
     */
    private Exception slotTrouble(SQLException e, Long streamedUpTo) {
        String message = String.valueOf(e.getMessage());
        if ("42704".equals(e.getSQLState()) && streamedUpTo != null) {
            return Prerequisites.dropped(options.getSlot(), streamedUpTo);
        }
        if ("55000".equals(e.getSQLState()) && message.contains("can no longer get changes")) {
            return Prerequisites.invalidated(options.getSlot(), message);
        }
        return e;
    }

    /** How often to send status while a slow exchange runs: often enough for wal_sender_timeout, at most statusInterval. */
    private static long keepAliveMillis(Connection c, long statusInterval) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_sender_timeout'")) {
            long timeout = rs.next() ? rs.getLong(1) : 0;
            return timeout > 0 ? Math.max(100, Math.min(statusInterval, timeout / 4)) : statusInterval;
        }
    }

    private void createSlot() throws Exception {
        String slot = options.getSlot();
        InitialSnapshotHandler snapshotHandler = options.getSnapshotHandler();
        SlotCreated created = ReplicationSlots.create(replication, slot, false, snapshotHandler == null || snapshotHandler.exportSnapshot());
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
        LOG.info("snapshotHandler finished{}; streaming from {}", created.snapshotName() == null ? "" : " with snapshot " + created.snapshotName(),
                created.consistentPoint());
    }

    /**
     * snapshotExistingSlot: the slot exists and this consumer has not streamed from it yet. When the snapshotHandler says
     * a copy is needed, it copies inside the snapshot of a temporary slot, on a replication connection of its own that
     * closing drops it with (before streaming starts: it would hold WAL back).
     */
    private void snapshotExistingSlot() throws Exception {
        InitialSnapshotHandler handler = options.getSnapshotHandler();
        String slot = options.getSlot();
        if (handler == null || !handler.snapshotNeeded(slot)) {
            return;
        }
        try (Connection copy = connections.openReplication()) {
            SlotCreated temporary = ReplicationSlots.createForCopy(copy);
            try {
                handler.existingSlotSnapshot(slot, temporary);
            } catch (Exception e) {
                throw new PrerequisiteException("the snapshotHandler failed on the snapshot of temporary slot " + temporary.slotName()
                        + " for slot " + slot + " (" + e + "); the next attempt copies inside a new snapshot");
            }
        }
    }

    private void dropNewSlot(String slot) {
        try {
            ReplicationSlots.dropOnReplication(replication, slot);
        } catch (SQLException e) {
            LOG.warn("Could not drop the new slot {} after its snapshot handler failed: {}; drop it by hand ({}) so a new"
                    + " snapshot is exported", slot, e.getMessage(), ReplicationSlots.dropSql(slot));
        }
    }

    /**
     * Reads and delivers until {@code running} turns false or something fails (the exception ends the session).
     * While nothing is in flight, follows the server's position so an idle publication does not hold WAL back.
     */
    void run(BooleanSupplier running) throws Exception {
        this.running = running;
        while (running.getAsBoolean()) {
            delivery.check();
            ByteBuffer message;
            long walStart;
            long polled = System.nanoTime();
            streamLock.lock();
            try {
                message = stream.readPending();
                walStart = stream.getLastReceiveLSN().asLong();
            } catch (OutOfMemoryError e) {
                // pgjdbc allocates each CopyData message whole; only this allocation is expected to fail this way. The
                // half-read connection is closed with the session, which releases what was read.
                throw new WalMessageTooLargeException(options.getSlot(), PgOutputEndpoint.lsn(stream.getLastReceiveLSN().asLong()),
                        PgOutputEndpoint.lsn(acks.acknowledged()), e);
            } finally {
                streamLock.unlock();
            }
            if (message == null) {
                followServerWhenIdle();
                if (System.nanoTime() - polled < WAITED_NANOS) {
                    Thread.sleep(IDLE_SLEEP_MILLIS);
                }
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
            sinceBegin = type == 'B' ? 0 : Math.min(sinceBegin + 1, GATHER_AFTER);
            if (inTransaction && sinceBegin >= GATHER_AFTER && System.nanoTime() - polled > WOKEN_NANOS) {
                LockSupport.parkNanos(GATHER_NANOS);
            }
        }
    }

    /** Advances the slot to the server's last position when every delivered transaction is acknowledged. */
    private void followServerWhenIdle() {
        if (inTransaction || assembler.streamsInProgress() > 0 || delivery.busy()) {
            return; // a transaction is in flight: its commit is beyond what was acknowledged
        }
        // nothing in flight may also mean the route just failed (and dropped what followed): never pass that transaction
        delivery.check();
        long received = stream.getLastReceiveLSN().asLong();
        if (received > acks.acknowledged()) {
            acknowledge(received);
        }
    }

    /**
     * At the Stream Commit of a transaction applied in progress: waits until the route said what became of its commit
     * (committed, or demoted: then it is replayed), or the route failed (this throws), or the reader stops.
     */
    private void awaitCommit(InProgressTransaction transaction) throws InterruptedException {
        while (!transaction.resolved()) {
            delivery.check();
            if (!running.getAsBoolean()) {
                return;
            }
            transaction.awaitResolved(100);
        }
    }

    private void part(TransactionPart part) {
        if (part.inProgress() != null) {
            // provisional: its positions are not known yet, the destination decides at the commit what it holds already
            offer(part);
            return;
        }
        long acknowledged = acks.acknowledged();
        if (part.position().commitLsn() < acknowledged) {
            // a resend of a transaction the route already completed (the server had not yet heard the acknowledgement)
            LOG.debug("skipping transaction {} part {}: already acknowledged up to {}", part.xid(), part.index(),
                    PgOutputEndpoint.lsn(acknowledged));
            return;
        }
        if (part.index() == 0 && part.last() && part.batch().isEmpty() && part.messages().isEmpty()) {
            // before PostgreSQL 15 pgoutput sends Begin and Commit of every transaction, published changes or not: one of
            // nothing reaches no route, and the slot passes it when nothing is in flight (followServerWhenIdle)
            LOG.trace("skipping transaction {}: nothing of it is published", part.xid());
            return;
        }
        offer(part);
    }

    private void offer(TransactionPart part) {
        try {
            delivery.offer(part, running);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while handing a transaction to the route", e);
        }
    }

    /** Acknowledges up to the LSN (never backwards); called by the reader when idle and by the delivery thread. */
    private void acknowledge(long lsn) {
        // the stream's setters only set what its next status update sends: no I/O, so not under the stream's lock
        synchronized (ackLock) {
            acks.acknowledged(lsn);
            LogSequenceNumber l = LogSequenceNumber.valueOf(acks.acknowledged());
            stream.setFlushedLSN(l);
            stream.setAppliedLSN(l);
        }
    }

    /**
     * Called by a timer: while the route works on a big exchange the reader thread waits for room and does not read, so
     * send status updates from here, or wal_sender_timeout ends the connection.
     */
    void keepAliveIfBusy() {
        PGReplicationStream s = stream;
        PartDelivery d = delivery;
        long now = System.nanoTime();
        if (d == null || !d.busy() || s == null || now - lastStatusNanos < keepAliveNanos) {
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

    /** Lets the part in the route end, then sends the acknowledged position (before a clean stop), ignoring failures. */
    void flushStatus() throws InterruptedException {
        if (delivery != null) {
            delivery.stop();
        }
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
        if (delivery != null) {
            try {
                delivery.stop(); // the part in the route ends (and is acknowledged) before the stream closes
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (assembler != null) {
            TransactionPart abandoned = assembler.abandonInProgress();
            if (abandoned != null) {
                // the delivery loop has ended: the destination rolls back what it holds of the transaction in progress now,
                // rather than holding it open (with its locks) until its next batch; it comes again from the slot
                try {
                    handler.deliver(abandoned, 1);
                } catch (RuntimeException e) {
                    LOG.debug("could not roll back transaction {} applied in progress at the destination: {}", abandoned.xid(),
                            e.getMessage());
                }
            }
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
