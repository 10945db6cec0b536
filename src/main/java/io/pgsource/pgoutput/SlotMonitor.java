package io.pgsource.pgoutput;

import io.pgsource.config.Sizes;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks a consumer's slot every {@code slotCheckInterval} on an ordinary connection of its own: how far it is behind
 * the server's WAL, its {@code wal_status}, whether it still exists, and whether the captured tables are still
 * published. While the consumer cannot deliver (its route fails, the source is unreachable) every check logs the
 * growing lag at WARN. After the consumer has streamed from the slot, a dropped or invalidated slot, or a captured
 * table taken out of the publication, is reported as lost ({@link SlotLostException}): pgoutput itself says nothing
 * when a table leaves the publication, it just stops sending its changes.
 */
final class SlotMonitor {
    private static final Logger LOG = LoggerFactory.getLogger(SlotMonitor.class);

    /** What the monitor needs from its consumer. */
    interface Watched {
        /** The LSN acknowledged to the slot so far (0 when none). */
        long acknowledged();

        /** Why the consumer is not delivering right now, or null while it is. */
        String problem();

        /** Whether the consumer has streamed from the slot (only then is a missing slot or table a loss). */
        boolean streamedBefore();

        /** The publications the consumer streams (null before it streamed). */
        List<String> publications();

        /** The commit time of the last transaction the route completed, or null. */
        OffsetDateTime lastAppliedCommit();

        /** The slot can no longer deliver everything: stop. */
        void lost(SlotLostException e);
    }

    private final PgOutputConfiguration options;
    private final Prerequisites prerequisites;
    private final ConnectionSettings connections;
    private final Watched consumer;
    private Connection connection;
    private volatile SlotLag lag;

    SlotMonitor(PgOutputConfiguration options, Prerequisites prerequisites, ConnectionSettings connections, Watched consumer) {
        this.options = options;
        this.prerequisites = prerequisites;
        this.connections = connections;
        this.consumer = consumer;
    }

    /** The last check's findings, or null before the first check succeeded. */
    SlotLag lag() {
        return lag;
    }

    /** One check; called by the consumer's timer. Never throws: a failed check is retried at the next tick. */
    void check() {
        try {
            if (connection == null || connection.isClosed()) {
                connection = connections.openCatalog();
            }
            boolean slotExists = checkSlot(connection);
            if (slotExists) {
                checkPublications(connection);
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("pgoutput:{} slot check failed: {}", options.getSlot(), e.getMessage());
            close();
        }
    }

    /** Reads the slot's position against the server's; false when the slot is gone (reported if it was streamed). */
    private boolean checkSlot(Connection c) throws SQLException {
        String slot = options.getSlot();
        ReplicationSlots.State state = ReplicationSlots.state(c, slot);
        if (!state.exists()) {
            if (consumer.streamedBefore()) {
                consumer.lost(Prerequisites.dropped(slot, consumer.acknowledged()));
            }
            return false;
        }
        if (state.invalidated() && consumer.streamedBefore()) {
            consumer.lost(Prerequisites.invalidated(slot, state.invalidationReason()));
            return false;
        }
        SlotLag now = new SlotLag(state.lagBytes(consumer.acknowledged()), state.walStatus(), state.safeWalSize(), Instant.now());
        lag = now;
        report(now);
        return true;
    }

    private void report(SlotLag now) {
        String problem = consumer.problem();
        OffsetDateTime last = consumer.lastAppliedCommit();
        if (problem != null) {
            LOG.warn("pgoutput:{} is {} of WAL behind the server; last applied commit {}. The slot keeps that WAL on the source"
                    + " (wal_status {}{}) until delivery resumes. Waiting for: {}", options.getSlot(), bytes(now.lagBytes()),
                    last == null ? "unknown (none applied since start)" : age(last) + " ago (" + last + ")", now.walStatus(),
                    now.safeWalSize() == null ? "" : ", " + bytes(now.safeWalSize()) + " more before it is at risk", problem);
        }
        if ("unreserved".equals(now.walStatus())) {
            LOG.warn("pgoutput:{} is about to lose WAL it still needs (wal_status unreserved: it is further behind than"
                    + " max_slot_wal_keep_size allows). Unless it catches up before the next checkpoint, the server invalidates it"
                    + " and every table has to be copied again", options.getSlot());
        }
    }

    private void checkPublications(Connection c) throws SQLException {
        List<String> publications = consumer.publications();
        if (!consumer.streamedBefore() || publications == null) {
            return; // the session's own checks say what to set up
        }
        try {
            prerequisites.requireStillPublished(c, publications, consumer.acknowledged());
        } catch (SlotLostException e) {
            consumer.lost(e);
        }
    }

    void close() {
        Connection c = connection;
        connection = null;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                LOG.debug("closing the slot check connection: {}", e.getMessage());
            }
        }
    }

    /** 12345678 → "11.8 MB (12345678 bytes)". */
    static String bytes(long n) {
        String human = Sizes.human(n);
        return n < 1024 ? human : human + " (" + n + " bytes)";
    }

    private static String age(OffsetDateTime t) {
        Duration d = Duration.between(t.toInstant(), Instant.now());
        return d.isNegative() ? "0 s" : d.toSeconds() + " s";
    }
}
