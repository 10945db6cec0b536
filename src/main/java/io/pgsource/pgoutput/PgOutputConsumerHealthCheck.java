package io.pgsource.pgoutput;

import java.util.Map;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/**
 * Readiness of a {@code pgoutput:} consumer: UP while it streams and its route completes exchanges; DOWN, with the
 * reason, while it is not connected, waits for its slot, or keeps failing (route errors, lost connection, setup
 * problems), and for good once the slot can no longer deliver every change ({@link SlotLostException}). The details
 * carry the slot's lag ({@code slotLagBytes}, {@code walStatus}) and the last applied commit. Camel's consumers health-check repository calls it through {@code HealthCheckAware}.
 */
final class PgOutputConsumerHealthCheck extends AbstractHealthCheck {
    private final PgOutputConsumer consumer;

    PgOutputConsumerHealthCheck(PgOutputConsumer consumer, String routeId) {
        super("camel", "consumer:pgoutput-" + routeId);
        this.consumer = consumer;
    }

    @Override
    public boolean isLiveness() {
        return false; // reconnecting is the consumer's own job; restarting the JVM would not help
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        PgOutputConsumer.Status status = consumer.status();
        builder.detail("slot", consumer.getEndpoint().getConfiguration().getSlot());
        builder.detail("acknowledgedLsn", PgOutputEndpoint.lsn(status.acknowledgedLsn()));
        builder.detail("failures", status.failures());
        if (status.lag() != null) {
            builder.detail("slotLagBytes", status.lag().lagBytes());
            builder.detail("walStatus", String.valueOf(status.lag().walStatus()));
        }
        if (status.lastAppliedCommit() != null) {
            builder.detail("lastAppliedCommitTime", status.lastAppliedCommit().toString());
            builder.detail("lastAppliedCommitAgeSeconds", (long) consumer.getLastAppliedCommitAgeSeconds());
        }
        if (status.problem() != null) {
            builder.down().message(status.problem());
            if (status.error() != null) {
                builder.error(status.error());
            }
        } else if (!status.streaming()) {
            builder.down().message("not streaming yet (connecting to the replication slot)");
        } else {
            builder.up();
        }
    }
}
