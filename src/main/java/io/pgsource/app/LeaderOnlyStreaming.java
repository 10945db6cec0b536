package io.pgsource.app;

import io.pgsource.config.PgSourceConnections;
import io.pgsource.state.PositionStore;
import java.nio.file.Path;
import java.sql.Connection;
import io.pgsource.pgoutput.ReplicationSlots;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.camel.CamelContext;
import org.apache.camel.cluster.CamelClusterEventListener;
import org.apache.camel.cluster.CamelClusterMember;
import org.apache.camel.cluster.CamelClusterService;
import org.apache.camel.cluster.CamelClusterView;
import org.apache.camel.component.file.cluster.FileLockClusterService;
import org.apache.camel.support.cluster.ClusterServiceHelper;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code sync.ha}: log replication runs on the one instance that leads the Camel cluster view {@code pgsource-<slot>};
 * the others stand by and hold nothing on the source. The log-replication route consumes through
 * {@code master:<view>:pgoutput:...}, so Camel's master component starts the slot's consumer when this instance takes
 * the lead and stops it when it loses the lead. This class does what must happen once before that, and on the leader
 * only: the copy (when the slot exists but the destination has no complete copy) and the start of the route. It also
 * tells which role this instance has and, on a standby, whom it waits for.
 */
final class LeaderOnlyStreaming extends ServiceSupport implements CamelClusterEventListener.Leadership {
    private static final Logger LOG = LoggerFactory.getLogger(LeaderOnlyStreaming.class);
    private static final long MAX_RETRY_MILLIS = 60_000;

    private final String slot;
    private final String namespace;
    private final LogReplicationStart logStart;
    private final PositionStore positions;
    private final PgSourceConnections connections;
    private CamelContext context;
    private CamelClusterService service;
    private CamelClusterView view;
    private ScheduledExecutorService executor;
    private volatile boolean leading;
    private volatile boolean routeStarted;
    private long retryMillis = 1_000;

    LeaderOnlyStreaming(String slot, LogReplicationStart logStart, PositionStore positions, PgSourceConnections connections) {
        this.slot = slot;
        this.namespace = namespace(slot);
        this.logStart = logStart;
        this.positions = positions;
        this.connections = connections;
    }

    /** The cluster view (leader election) of a slot: slot names are [a-z0-9_], view names also suit Kubernetes leases. */
    static String namespace(String slot) {
        return "pgsource-" + slot.replace('_', '-');
    }

    /** Whether this instance leads the slot's view now (false while the cluster service is not there). */
    static boolean isLeader(CamelContext context, String slot) {
        return ClusterServiceHelper.lookupService(context).map(s -> s.isLeader(namespace(slot))).orElse(false);
    }

    /** Joins the slot's cluster view; the route starts when this instance leads. */
    void start(CamelContext camelContext) throws Exception {
        this.context = camelContext;
        camelContext.addService(this, true, true);
    }

    @Override
    protected void doStart() throws Exception {
        // PgSourceConfiguration added exactly one (sync.ha=file: the file-lock service; cluster: the configured one)
        service = ClusterServiceHelper.mandatoryLookupService(context);
        executor = context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "pgsource-ha");
        LOG.info("High availability ({}, instance {}): joining cluster view {}; the instance that leads it streams slot {}, "
                + "the others stand by", coordination(), service.getId(), namespace, slot);
        view = service.getView(namespace);
        view.addEventListener(this);
        later(this::reportStandby, standbyReportDelay().toMillis());
    }

    /** Runs a task on our thread; nothing once stopping (a cluster event can still arrive then). */
    private void later(Runnable task, long delayMillis) {
        ScheduledExecutorService ex = executor;
        if (ex != null && !ex.isShutdown() && isRunAllowed()) {
            ex.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    protected void doStop() throws Exception {
        if (view != null) {
            view.removeEventListener(this);
            service.releaseView(view);
            view = null;
        }
        if (executor != null) {
            context.getExecutorServiceManager().shutdownNow(executor);
            executor = null;
        }
    }

    /**
     * Called by the cluster view (also once when joining). It runs on the view's thread holding the view's lock: the
     * copy and the route start go to our own thread.
     */
    @Override
    public void leadershipChanged(CamelClusterView changed, CamelClusterMember leader) {
        boolean now = changed.getLocalMember().isLeader();
        if (now && !leading) {
            leading = true;
            // the instance that led before wrote positions this one may remember older: read them again before streaming
            // (this listener was added before the route's master consumer, which starts the consumer a second later)
            positions.refresh();
            LOG.info("This instance leads {}: it streams slot {} now{}", namespace, slot, routeStarted ? "" : " (after the copy, if one is needed)");
            if (!routeStarted) {
                later(this::startRoute, 0);
            }
        } else if (!now && leading) {
            leading = false;
            LOG.warn("This instance lost the lead of {}: it stops streaming slot {} and stands by; the new leader resumes from "
                    + "the slot", namespace, slot);
            later(this::reportStandby, standbyReportDelay().toMillis());
        } else if (!now && leader != null && !leader.isLocal()) {
            LOG.info("Standby: {} leads {} and streams slot {}; this instance takes over when it stops", leader.getId(), namespace, slot);
        }
    }

    boolean leading() {
        return leading && isRunAllowed();
    }

    /** The leader's first start: copy if needed, then the route; retried while leading if it fails. */
    private void startRoute() {
        if (!leading() || routeStarted) {
            return;
        }
        try {
            logStart.copyIfNeededThenStream(context);
            routeStarted = true;
        } catch (Exception e) {
            if (!leading()) {
                LOG.info("Stopped starting log replication: this instance no longer leads {} ({})", namespace, RunOutcome.message(e));
                return;
            }
            if (!isRunAllowed()) {
                return;
            }
            LOG.error("Log replication could not start on the leader: {}; trying again in {} s", RunOutcome.message(e), retryMillis / 1000);
            later(this::startRoute, retryMillis);
            retryMillis = Math.min(retryMillis * 2, MAX_RETRY_MILLIS);
        }
    }

    /** Once it is clear that another instance leads, says so, and who streams the slot. */
    private void reportStandby() {
        if (leading || !isRunAllowed()) {
            return;
        }
        Duration detection = fileLockDetection();
        LOG.info("Standby: another instance leads {} ({}); {}. This instance holds nothing on the source and takes over {}",
                namespace, coordination(), slotHolder(), detection != null
                        ? "about " + detection.toSeconds() + " s after the leader's heartbeat stops"
                        : "when the cluster service elects it");
    }

    private Duration standbyReportDelay() {
        // the file-lock service decides at its first or second check; other services within their lease time
        if (service instanceof FileLockClusterService file) {
            long delay = file.getAcquireLockDelayUnit().toMillis(file.getAcquireLockDelay());
            long interval = file.getAcquireLockIntervalUnit().toMillis(file.getAcquireLockInterval());
            return Duration.ofMillis(delay + interval + 1_000);
        }
        return Duration.ofSeconds(15);
    }

    /**
     * With Camel's file-lock service: how long a standby waits before it tries the lock of a silent leader (the heartbeat
     * unchanged for interval × multiplier, checked every interval); null with other services.
     */
    private Duration fileLockDetection() {
        if (service instanceof FileLockClusterService file) {
            long interval = file.getAcquireLockIntervalUnit().toMillis(file.getAcquireLockInterval());
            return Duration.ofMillis(interval * (file.getHeartbeatTimeoutMultiplier() + 1L));
        }
        return null;
    }

    private String coordination() {
        return service instanceof FileLockClusterService file
                ? "file lock " + Path.of(file.getRoot(), namespace).toAbsolutePath()
                : "cluster service " + service.getClass().getSimpleName();
    }

    /** Who holds the slot now, from the source: PID, client address and application name of its walsender. */
    private String slotHolder() {
        try (Connection c = connections.open()) {
            ReplicationSlots.State state = ReplicationSlots.state(c, slot);
            if (!state.exists()) {
                return "slot " + slot + " does not exist yet (the leader creates it and copies the tables first)";
            }
            if (state.activePid() == null) {
                return "slot " + slot + " is not streamed right now (the leader may be copying, or starting)";
            }
            return "slot " + slot + " is streamed by PID " + state.activePid() + Optional.ofNullable(state.clientAddr()).map(a -> " from " + a).orElse("")
                    + Optional.ofNullable(state.applicationName()).map(n -> " ('" + n + "')").orElse("");
        } catch (SQLException e) {
            return "the source cannot tell who streams slot " + slot + " (" + e.getMessage() + ")";
        }
    }
}
