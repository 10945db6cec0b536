package io.pgsource.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The {@code sync.ha*} keys: high availability of log replication. Several instances run on one slot; the one that
 * leads the Camel cluster view streams, the others stand by and take over when it stops.
 *
 * @param mode             {@code sync.ha}: off (default), file or cluster
 * @param root             {@code sync.ha.root} (file): the lock directory every instance shares
 * @param interval         {@code sync.ha.interval} (file, default 1s): how often the leader writes its heartbeat and a
 *                         standby tries the lock (the file-lock cluster service's acquireLockInterval); the same on
 *                         every instance
 * @param missedHeartbeats {@code sync.ha.missed_heartbeats} (file, default 5): a leader whose heartbeat has not moved for
 *                         this many intervals is gone (heartbeatTimeoutMultiplier)
 */
public record HaSettings(Mode mode, Path root, Duration interval, int missedHeartbeats) {

    /** How instances agree on the leader. */
    public enum Mode {
        /** One instance, no coordination. */
        OFF,
        /** Camel's file-lock cluster service on a shared directory ({@code sync.ha.root}). */
        FILE,
        /** The CamelClusterService configured in Camel (Kubernetes, ZooKeeper, ...). */
        CLUSTER
    }

    public static final HaSettings OFF = new HaSettings(Mode.OFF, null, Duration.ofSeconds(1), 5);

    public boolean enabled() {
        return mode != Mode.OFF;
    }

    /** About how long a standby needs to notice that the leader is gone (file mode): the silence it waits for, plus one try. */
    public Duration detectionTime() {
        return interval.multipliedBy(missedHeartbeats + 1L);
    }
}
