package io.pgsource.pgoutput;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.InProgressOutcome;
import io.pgsource.change.PendingDurability;
import io.pgsource.pgoutput.protocol.InProgressTransaction;
import io.pgsource.pgoutput.protocol.TransactionPart;
import io.pgsource.pgoutput.protocol.UnsupportedColumnTypeException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.Processor;
import org.apache.camel.support.DefaultConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads one replication slot on a thread of its own and hands every transaction part to the route, one exchange at
 * a time, in commit order. A transaction is acknowledged to the slot (flushed and applied LSN) only after the exchange
 * carrying its last part completed without exception; a failed exchange acknowledges nothing and restarts the stream
 * from the slot after a backoff, so the same transaction comes again — never skipped.
 *
 * <p>A {@link SlotMonitor} checks the slot every {@code slotCheckInterval}: its lag (logged at WARN while nothing can be
 * delivered, and offered to health checks and metrics) and whether it can still deliver everything. When it cannot
 * (the slot was dropped or invalidated, or a captured table left the publication: {@link SlotLostException}), the
 * consumer stops reading, reports DOWN with the reason, and hands the exception to its
 * {@link org.apache.camel.spi.ExceptionHandler} (the {@code exceptionHandler} endpoint option; by default it is logged).
 */
public class PgOutputConsumer extends DefaultConsumer {
    private static final Logger LOG = LoggerFactory.getLogger(PgOutputConsumer.class);
    private static final long STOP_TIMEOUT_MILLIS = 30_000;

    /**
     * One immutable snapshot of the consumer's state: what health checks, metrics and progress lines read.
     *
     * @param streaming         a replication session is open and reading (after the snapshotHandler, when this consumer
     *                          created the slot)
     * @param problem           why nothing is delivered right now, or null
     * @param error             the failure behind the problem, or null
     * @param acknowledgedLsn   the highest LSN acknowledged to the slot by this consumer (0 before the first)
     * @param failures          failures since the consumer started
     * @param lag               the last slot check's findings, or null before the first
     * @param lastAppliedCommit the source commit time of the last transaction the route completed, or null
     */
    public record Status(boolean streaming, String problem, Throwable error, long acknowledgedLsn, long failures, SlotLag lag,
            OffsetDateTime lastAppliedCommit) {

        /** WAL bytes between the server's position and what was applied, as of the last slot check; -1 before it. */
        public long slotLagBytes() {
            return lag == null ? -1 : lag.lagBytes();
        }

        /** Seconds since the source committed the last transaction the route completed (NaN before the first one). */
        public double lastAppliedCommitAgeSeconds() {
            OffsetDateTime last = lastAppliedCommit;
            return last == null ? Double.NaN : Math.max(0, Duration.between(last.toInstant(), Instant.now()).toMillis() / 1000.0);
        }
    }

    private final PgOutputConfiguration options;
    private ExecutorService reader;
    private ExecutorService delivery;
    private ScheduledExecutorService keeper;
    private volatile ScheduledExecutorService checker;
    private SlotMonitor monitor;
    private volatile CountDownLatch stopSignal = new CountDownLatch(0);
    private volatile ReplicationSession session;
    private volatile long acknowledged;
    private volatile boolean streaming;
    private volatile String problem;
    private volatile Throwable error;
    private volatile boolean routeProblem;
    private volatile long failures;
    /** A session was opened on the slot since this consumer started: from now on a missing slot means lost changes. */
    private volatile boolean streamedBefore;
    /** The publications the sessions stream, as the first one found them. */
    private volatile List<String> publications;
    private volatile SlotLostException lost;
    private volatile OffsetDateTime lastAppliedCommit;
    /** A column type had no binary decoder: read in text mode from then on. */
    private volatile boolean textOnly;
    /** values=typed: the decoders, used on the delivery thread; null with values=text. */
    private volatile TypedValues typedValues;

    public PgOutputConsumer(PgOutputEndpoint endpoint, Processor processor) {
        super(endpoint, processor);
        this.options = endpoint.getConfiguration();
    }

    @Override
    public PgOutputEndpoint getEndpoint() {
        return (PgOutputEndpoint) super.getEndpoint();
    }

    /** Whether a replication session is open and reading (after the snapshotHandler, when this consumer created the slot). */
    public boolean isStreaming() {
        return streaming;
    }

    /** The highest LSN acknowledged to the slot by this consumer (0 before the first). */
    public long getAcknowledgedLsn() {
        return acknowledged;
    }

    /** The consumer's state now, in one snapshot. */
    public Status status() {
        SlotMonitor m = monitor;
        return new Status(streaming, problem, error, acknowledged, failures, m == null ? null : m.lag(), lastAppliedCommit);
    }

    /**
     * Bytes of WAL between the server's current position and what this consumer applied (acknowledged), as of the last
     * slot check ({@code slotCheckInterval}); -1 before the first check. It grows while the route cannot deliver, and
     * the slot keeps that much WAL on the source meanwhile.
     */
    public long getSlotLagBytes() {
        return status().slotLagBytes();
    }

    /** The slot's {@code wal_status} at the last check (reserved, extended, unreserved, lost), or null. */
    public String getSlotWalStatus() {
        SlotMonitor m = monitor;
        SlotLag lag = m == null ? null : m.lag();
        return lag == null ? null : lag.walStatus();
    }

    /** The source commit time of the last transaction the route completed, or null before the first one. */
    public OffsetDateTime getLastAppliedCommitTime() {
        return lastAppliedCommit;
    }

    /**
     * Seconds since the source committed the last transaction the route completed (NaN before the first one). It grows
     * while nothing can be delivered, and also while the source commits nothing.
     */
    public double getLastAppliedCommitAgeSeconds() {
        return status().lastAppliedCommitAgeSeconds();
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        PgOutputConsumerHealthCheck check = new PgOutputConsumerHealthCheck(this, getRouteId());
        check.setEnabled(getEndpoint().getComponent().isHealthCheckConsumerEnabled());
        setHealthCheck(check);
        ConnectionSettings connections = new ConnectionSettings(options);
        typedValues = options.typedValues() ? new TypedValues(connections) : null;
        if (!options.isAsyncStart()) {
            // fail fast on setup problems: the exception stops the route from starting, with the fix in its message
            try (Connection c = connections.openCatalog()) {
                getEndpoint().prerequisites().check(c);
            }
        }
        stopSignal = new CountDownLatch(1);
        streamedBefore = false;
        publications = null;
        lost = null;
        var executors = getEndpoint().getCamelContext().getExecutorServiceManager();
        monitor = new SlotMonitor(options, getEndpoint().prerequisites(), connections, watched());
        checker = executors.newSingleThreadScheduledExecutor(this, "pgoutput-check-" + options.getSlot());
        checker.scheduleWithFixedDelay(monitor::check, options.getSlotCheckInterval(), options.getSlotCheckInterval(), TimeUnit.MILLISECONDS);
        keeper = executors.newSingleThreadScheduledExecutor(this, "pgoutput-status-" + options.getSlot());
        keeper.scheduleWithFixedDelay(() -> {
            ReplicationSession s = session;
            if (s != null) {
                s.keepAliveIfBusy();
            }
        }, 100, 100, TimeUnit.MILLISECONDS);
        delivery = executors.newSingleThreadExecutor(this, "pgoutput-route-" + options.getSlot());
        reader = executors.newSingleThreadExecutor(this, "pgoutput-" + options.getSlot());
        reader.submit(() -> readLoop(connections));
        getEndpoint().getComponent().started(this);
    }

    @Override
    protected void doStop() throws Exception {
        getEndpoint().getComponent().stopped(this);
        stopSignal.countDown();
        var executors = getEndpoint().getCamelContext().getExecutorServiceManager();
        if (reader != null) {
            executors.shutdownGraceful(reader, STOP_TIMEOUT_MILLIS);
            reader = null;
        }
        if (delivery != null) {
            // the reader's session ended its delivery loop before it stopped
            executors.shutdownGraceful(delivery, STOP_TIMEOUT_MILLIS);
            delivery = null;
        }
        if (keeper != null) {
            executors.shutdownNow(keeper);
            keeper = null;
        }
        if (checker != null) {
            executors.shutdownGraceful(checker, STOP_TIMEOUT_MILLIS);
            checker = null;
            monitor.close();
        }
        streaming = false;
        getEndpoint().prerequisites().forgetChecked();
        super.doStop();
    }

    private boolean running() {
        return stopSignal.getCount() > 0 && isRunAllowed();
    }

    private void readLoop(ConnectionSettings connections) {
        Backoff backoff = new Backoff(options.getReconnectDelay(), options.getMaxReconnectDelay());
        while (running()) {
            long startedAt = 0;
            long acknowledgedAtStart = acknowledged;
            try (ReplicationSession s = new ReplicationSession(options, getEndpoint().prerequisites(), connections, acknowledgements(),
                    partHandler(), delivery, textOnly)) {
                session = s;
                publications = s.open(streamedBefore ? acknowledged : null, publications);
                streamedBefore = true;
                startedAt = System.nanoTime();
                streaming = true;
                if (!routeProblem) {
                    healthy();
                }
                s.run(() -> running() && lost == null);
                s.flushStatus();
            } catch (RouteFailedException e) {
                failed((e.part() == null ? "the destination could not confirm its last commits durable"
                        : "the route failed on transaction " + e.part().xid() + " (commit LSN "
                        + PgOutputEndpoint.lsn(e.part().position().commitLsn()) + ", part " + e.part().index() + ")")
                        + ": nothing acknowledged, the slot stays at " + PgOutputEndpoint.lsn(acknowledged), e.getCause(), true);
                LOG.warn("pgoutput:{} {}; retrying the same transaction from the slot. Cause: {}", options.getSlot(), problem,
                        firstMessage(e.getCause()));
                LOG.debug("pgoutput:{} the route's failure", options.getSlot(), e.getCause());
            } catch (WalMessageTooLargeException e) {
                failed(e.getMessage(), e, false);
                LOG.warn("pgoutput:{} stopped reading: retrying would need the same heap again", options.getSlot());
                getExceptionHandler().handleException(e.getMessage(), e);
                break;
            } catch (SlotLostException e) {
                lost(e);
                break;
            } catch (UnsupportedColumnTypeException e) {
                // nothing of that relation was delivered: read the same position again, in text mode
                textOnly = true;
                LOG.info("pgoutput:{} {}: reading the slot in text mode from now on, from {}", options.getSlot(), e.getMessage(),
                        PgOutputEndpoint.lsn(acknowledged));
                continue;
            } catch (PrerequisiteException e) {
                failed(e.getMessage(), e, false);
                LOG.error("pgoutput:{} {}", options.getSlot(), e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (Exception e) {
                if (!running()) {
                    break; // closing during stop
                }
                String holder = "55006".equals(sqlState(e)) ? slotHolder(connections) : null;
                if (holder != null) {
                    failed("replication slot " + options.getSlot() + " is in use by " + holder + "; waiting for it to be released",
                            null, false);
                    LOG.warn("pgoutput:{} {}", options.getSlot(), problem);
                } else {
                    failed("replication connection to " + connections.target() + " failed: " + firstMessage(e)
                            + "; nothing unacknowledged is lost, resuming from the slot at " + PgOutputEndpoint.lsn(acknowledged), e, false);
                    LOG.warn("pgoutput:{} {}", options.getSlot(), problem);
                    LOG.debug("pgoutput:{} the replication connection's failure", options.getSlot(), e);
                }
            } finally {
                session = null;
                streaming = false;
            }
            if (!running()) {
                break; // the session ended because the consumer is stopping
            }
            if (acknowledged > acknowledgedAtStart
                    || (startedAt != 0 && System.nanoTime() - startedAt > TimeUnit.MILLISECONDS.toNanos(options.getMaxReconnectDelay()))) {
                // the session moved the slot on, or ran fine for a while: this is a new failure, not the same one again
                // (a source restart soon after a network blip is retried after the initial delay, not a grown one)
                backoff.reset();
            }
            long delay = backoff.nextDelay();
            LOG.info("pgoutput:{} reconnecting in {} ms", options.getSlot(), delay);
            try {
                if (stopSignal.await(delay, TimeUnit.MILLISECONDS)) {
                    break;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        SlotLostException gone = lost;
        if (gone != null) {
            failed(gone.getMessage(), gone, false);
            ScheduledExecutorService checks = checker;
            if (checks != null) {
                checks.shutdown(); // nothing left to watch
            }
            getExceptionHandler().handleException("pgoutput:" + options.getSlot() + " stopped: the slot can no longer deliver every change",
                    gone);
        }
        LOG.debug("pgoutput:{} reader stopped at acknowledged LSN {}", options.getSlot(), PgOutputEndpoint.lsn(acknowledged));
    }

    /** The slot can no longer deliver everything: the reader stops (after the exchange in progress, if any). */
    private void lost(SlotLostException e) {
        if (lost == null) {
            lost = e;
        }
        stopSignal.countDown();
    }

    private SlotMonitor.Watched watched() {
        return new SlotMonitor.Watched() {
            @Override
            public long acknowledged() {
                return acknowledged;
            }

            @Override
            public String problem() {
                return problem;
            }

            @Override
            public boolean streamedBefore() {
                return streamedBefore;
            }

            @Override
            public List<String> publications() {
                return publications;
            }

            @Override
            public OffsetDateTime lastAppliedCommit() {
                return lastAppliedCommit;
            }

            @Override
            public void lost(SlotLostException e) {
                PgOutputConsumer.this.lost(e);
            }
        };
    }

    private ReplicationSession.Acknowledgements acknowledgements() {
        return new ReplicationSession.Acknowledgements() {
            @Override
            public long acknowledged() {
                return acknowledged;
            }

            @Override
            public void acknowledged(long lsn) {
                if (lsn > acknowledged) {
                    acknowledged = lsn;
                }
            }
        };
    }

    /** Runs the route on one part (see {@link #deliver}). */
    private ReplicationSession.PartHandler partHandler() {
        return new ReplicationSession.PartHandler() {
            @Override
            public void deliver(TransactionPart part, int transactions) {
                PgOutputConsumer.this.deliver(part, transactions);
            }

            @Override
            public PendingDurability deliverPending(TransactionPart part, int transactions) {
                return PgOutputConsumer.this.deliver(part, transactions);
            }
        };
    }

    /**
     * Runs the route on one part, on the delivery thread; returns only when the exchange completed, with the
     * destination's {@link PendingDurability} of it (null: its commit is durable, or it made none).
     */
    private PendingDurability deliver(TransactionPart part, int transactions) {
        TransactionPart.InProgress inProgress = part.inProgress();
        if (inProgress != null && inProgress.step() == InProgressTransaction.Step.APPLY && inProgress.transaction().demoted()) {
            return null; // the destination rolled back what it had of it: the transaction comes again after its commit
        }
        Exchange exchange = createExchange(false);
        // where the destination step says what it did with a part of a transaction in progress; null for every other part
        AtomicReference<InProgressOutcome> outcomeHolder = inProgress == null ? null : new AtomicReference<>();
        // the transaction is acknowledged only once the destination says its commit is durable (PartDelivery)
        exchange.setProperty(ChangeHeaders.DURABILITY_MAY_WAIT, Boolean.TRUE);
        Message in = exchange.getIn();
        in.setBody(part.batch());
        in.setHeader(ChangeHeaders.COMMIT_LSN, part.position().commitLsn());
        in.setHeader(ChangeHeaders.TX_ID, part.xid());
        in.setHeader(ChangeHeaders.COMMIT_TIME, part.position().commitTime());
        in.setHeader(ChangeHeaders.SLOT, options.getSlot());
        in.setHeader(PgOutputConstants.PART_INDEX, part.index());
        in.setHeader(PgOutputConstants.CHANGES_BEFORE, part.changesBefore());
        in.setHeader(PgOutputConstants.LAST_PART, part.last());
        in.setHeader(PgOutputConstants.TRANSACTIONS, transactions);
        if (!part.messages().isEmpty()) {
            in.setHeader(PgOutputConstants.MESSAGES, part.messages());
        }
        if (inProgress != null) {
            in.setHeader(ChangeHeaders.TX_IN_PROGRESS, switch (inProgress.step()) {
                case APPLY -> ChangeHeaders.IN_PROGRESS_APPLY;
                case COMMIT -> ChangeHeaders.IN_PROGRESS_COMMIT;
                case ROLLBACK -> ChangeHeaders.IN_PROGRESS_ROLLBACK;
            });
            in.setHeader(ChangeHeaders.IN_PROGRESS_OUTCOME, outcomeHolder);
            if (inProgress.step() == InProgressTransaction.Step.COMMIT) {
                in.setHeader(ChangeHeaders.TX_COMMIT_RECORD_LSN, inProgress.transaction().commitRecordLsn());
            }
        }
        try {
            TypedValues typed = typedValues;
            if (typed != null) {
                // a value that cannot be decoded fails the exchange, as a failing route does: nothing is acknowledged
                typed.decode(part.batch());
            }
            getProcessor().process(exchange);
        } catch (Exception e) {
            exchange.setException(e);
        }
        boolean failed = exchange.isFailed() || exchange.isRollbackOnly();
        Exception cause = exchange.getException();
        PendingDurability durability = exchange.getProperty(ChangeHeaders.PENDING_DURABILITY, PendingDurability.class);
        InProgressOutcome outcome = outcomeHolder == null ? null : outcomeHolder.getAndSet(null);
        releaseExchange(exchange, false);
        if (inProgress != null && !inProgressDone(part, inProgress, failed, cause, outcome)) {
            return null; // nothing to acknowledge: an applied part of an open transaction, or a demoted one
        }
        if (failed) {
            throw new RouteFailedException(part, cause);
        }
        if (part.last()) {
            lastAppliedCommit = part.position().commitTime();
        }
        if (routeProblem || problem != null) {
            healthy();
        }
        return durability;
    }

    /**
     * What became of a part of a transaction handed over in progress ({@link InProgressTransaction}), from what the
     * destination step said: false when nothing more is to be done with it (an applied part; or a demoted transaction,
     * which the destination rolled back and which comes again after its commit). A failed commit (whether it committed
     * is not known) or rollback fails the route as any failed exchange.
     */
    private boolean inProgressDone(TransactionPart part, TransactionPart.InProgress inProgress, boolean failed, Exception cause,
                                   InProgressOutcome outcome) {
        InProgressTransaction transaction = inProgress.transaction();
        switch (inProgress.step()) {
            case APPLY -> {
                if (!failed && outcome == InProgressOutcome.APPLIED) {
                    return false;
                }
            }
            case COMMIT -> {
                if (!failed && (outcome == InProgressOutcome.COMMITTED || outcome == InProgressOutcome.HELD)) {
                    transaction.committed();
                    return true; // acknowledged as any last part
                }
                if (failed && outcome == InProgressOutcome.COMMITTING) {
                    return true; // the COMMIT itself failed: the route fails
                }
            }
            case ROLLBACK -> {
                return true;
            }
        }
        // anything else, a failure before the commit included: what the destination holds of it is rolled back, and it is
        // applied after its commit from the spool file
        transaction.demote();
        LOG.debug("pgoutput:{} transaction {} is applied after its commit instead of while in progress ({})", options.getSlot(),
                part.xid(), failed ? firstMessage(cause) : "the destination said " + outcome);
        deliver(new TransactionPart(new ChangeBatch(List.of(), part.position(), false), part.xid(), part.index(), part.changesBefore(),
                true, part.origin(), List.of(), new TransactionPart.InProgress(InProgressTransaction.Step.ROLLBACK, transaction)), 1);
        return false;
    }

    /** The first message in a cause chain (a wrapper without its own message shows its cause's), without a class name. */
    private static String firstMessage(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t.getMessage() != null && (t.getCause() == null || !t.getMessage().equals(t.getCause().toString()))) {
                return t.getMessage();
            }
        }
        return e == null ? "unknown" : e.getClass().getSimpleName();
    }

    private void failed(String message, Throwable cause, boolean route) {
        problem = message;
        error = cause;
        routeProblem = route;
        failures++;
    }

    private void healthy() {
        if (problem != null) {
            LOG.info("pgoutput:{} streaming again", options.getSlot());
        }
        problem = null;
        error = null;
        routeProblem = false;
    }

    private static String sqlState(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null) {
                return s.getSQLState();
            }
        }
        return null;
    }

    /** "PID n" of the process holding the slot, from pg_replication_slots, or "another process". */
    private String slotHolder(ConnectionSettings connections) {
        try (Connection c = connections.openCatalog()) {
            ReplicationSlots.State state = ReplicationSlots.state(c, options.getSlot());
            if (state.activePid() != null) {
                return "PID " + state.activePid() + " (pg_replication_slots.active_pid)";
            }
        } catch (SQLException e) {
            LOG.debug("cannot read the slot's holder: {}", e.getMessage());
        }
        return "another process";
    }
}
