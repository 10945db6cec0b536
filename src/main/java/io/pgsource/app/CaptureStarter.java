package io.pgsource.app;

import io.pgsource.config.ReplicationMethod;
import org.apache.camel.CamelContext;
import org.apache.camel.StartupListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the capture route that {@code source.replication_method} asks for once Camel has started: the
 * batch-query route, or (LOG_BASED) the initial copy where needed followed by the log-replication route.
 * Both routes are declared with {@code autoStartup: false} so exactly one of them runs; each is known by the part its
 * {@link CaptureRoute} policy gives it, not by its id. With {@code sync.ha}, log
 * replication starts when this instance leads ({@link LeaderOnlyStreaming}).
 */
final class CaptureStarter implements StartupListener {
    private static final Logger LOG = LoggerFactory.getLogger(CaptureStarter.class);

    private final ReplicationMethod method;
    private final LogReplicationStart logStart;
    private final LeaderOnlyStreaming leaderOnly;

    /** @param leaderOnly with sync.ha: starts log replication when this instance leads; null without */
    CaptureStarter(ReplicationMethod method, LogReplicationStart logStart, LeaderOnlyStreaming leaderOnly) {
        this.method = method;
        this.logStart = logStart;
        this.leaderOnly = leaderOnly;
    }

    @Override
    public void onCamelContextStarted(CamelContext context, boolean alreadyStarted) {
        // wait for onCamelContextFullyStarted: routes must be ready before we start one
    }

    @Override
    public void onCamelContextFullyStarted(CamelContext context, boolean alreadyStarted) throws Exception {
        if (method == ReplicationMethod.LOG_BASED && leaderOnly != null) {
            leaderOnly.start(context);
        } else if (method == ReplicationMethod.LOG_BASED) {
            logStart.start(context);
        } else {
            LOG.debug("starting the batch-query route");
            CaptureRoute.of(context, CaptureRoute.Part.BATCH_QUERY).startRoute();
        }
    }
}
