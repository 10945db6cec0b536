package io.pgsource.app;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.pgsource.pgoutput.PgOutputComponent;
import io.pgsource.pgoutput.PgOutputConsumer;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The log-replication consumer's lag as Micrometer gauges in the registry Camel's metrics use ({@code camel.metrics.*}),
 * so they are scraped with Camel's own at {@code /observe/metrics}:
 * {@code pgsource_slot_lag_bytes} (WAL between the server's position and what the destination applied, as of the last
 * slot check) and {@code pgsource_last_applied_commit_age_seconds} (since the source committed the last transaction
 * the destination applied), both tagged with the slot. NaN while unknown (no consumer runs on the slot here: not started,
 * or, under sync.ha, another instance leads). Nothing happens without a registry
 * ({@code camel.metrics.enabled=false}).
 */
final class SlotLagMetrics {
    private static final Logger LOG = LoggerFactory.getLogger(SlotLagMetrics.class);

    private SlotLagMetrics() {
    }

    static void register(CamelContext context, String slot) {
        MeterRegistry registry = context.getRegistry().findSingleByType(MeterRegistry.class);
        if (registry == null) {
            LOG.debug("no Micrometer registry (camel.metrics.enabled=false): no slot lag gauges");
            return;
        }
        Gauge.builder("pgsource.slot.lag", context, c -> {
            long lag = PgOutputComponent.status(c, slot).map(PgOutputConsumer.Status::slotLagBytes).orElse(-1L);
            return lag < 0 ? Double.NaN : lag;
        }).baseUnit("bytes").tag("slot", slot)
                .description("WAL bytes between the source server's position and what the destination applied (last slot check)")
                .register(registry);
        Gauge.builder("pgsource.last.applied.commit.age", context,
                c -> PgOutputComponent.status(c, slot).map(PgOutputConsumer.Status::lastAppliedCommitAgeSeconds).orElse(Double.NaN)).baseUnit("seconds").tag("slot", slot)
                .description("Time since the source committed the last transaction the destination applied")
                .register(registry);
    }
}
