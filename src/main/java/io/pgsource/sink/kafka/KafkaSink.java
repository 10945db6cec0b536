package io.pgsource.sink.kafka;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.Destination;
import io.pgsource.sink.DestinationContext;
import io.pgsource.sink.StoredPosition;
import io.pgsource.sink.json.ChangeEnvelope;
import io.pgsource.state.PositionStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.camel.Exchange;

/**
 * The {@code kafka} destination: every change as one record on the topic of its table, {@code <prefix>.<schema>.<table>},
 * and the batch's source position on the position topic, in one Kafka transaction ({@link KafkaWriter}).
 *
 * <p><b>Delivery contract: exactly-once for consumers reading with {@code isolation.level=read_committed}</b>; at-least-once
 * for read_uncommitted ones, which also see the records of transactions that were aborted (a crash, a failed batch) and
 * written again. A batch (and so the slot) counts as applied only once Kafka committed its transaction; after a restart
 * the positions Kafka committed decide what is skipped ({@link io.pgsource.sink.DestinationStep}).
 *
 * <p>It is {@link #transactional()}: several waiting source transactions may come as one batch, written as one Kafka
 * transaction; every record still names its own source transaction ({@code source.lsn}, {@code source.txId}).
 */
public final class KafkaSink implements Destination {
    /** The value of {@code destination} that selects it. */
    public static final String NAME = "kafka";

    private KafkaWriter writer;
    private KafkaPositionStore positions;

    /** Made by the registry ({@link io.pgsource.sink.Destinations}); {@link #open} reads its settings and connects. */
    public KafkaSink() {
    }

    @Override
    public String name() {
        return NAME;
    }

    /**
     * Reads {@code destination.kafka.*} (a missing broker list stops the start with the fix), connects, creates the
     * position topic when missing, starts the transactional producer and reads the positions.
     */
    @Override
    public void open(DestinationContext context) {
        Map<String, String> client = new HashMap<>();
        context.camel().getPropertiesComponent().loadProperties(k -> k.startsWith(KafkaSettings.CLIENT_PREFIX))
                .forEach((k, v) -> client.put((String) k, String.valueOf(v)));
        KafkaSettings settings = KafkaSettings.load(k -> context.property(k, null), context.settings().source().replicationSlot(), client);
        writer = new KafkaWriter(settings, Duration.ofSeconds(30), context.settings().source().database());
        positions = new KafkaPositionStore(writer);
        writer.open();
    }

    @Override
    public PositionStore positions() {
        return positions;
    }

    /** The position goes into the Kafka transaction of the batch. */
    @Override
    public boolean transactional() {
        return true;
    }

    @Override
    public void write(Exchange exchange, ChangeBatch batch, StoredPosition position) {
        ChangeEnvelope.Part part = ChangeEnvelope.Part.of(batch, exchange.getIn().getHeader(ChangeHeaders.TX_PART, Integer.class));
        writer.write(batch, part, position == null ? Map.of() : Map.of(position.stream(), position.value()));
    }

    /** The last line of a run (said by another instance than the one that wrote: it names the settings, not their values). */
    @Override
    public String output(DestinationSettings settings) {
        return "Output: one Kafka topic per table, <destination.kafka.topic_prefix>.<schema>.<table>, with the positions on"
                + " destination.kafka.position_topic; read them with isolation.level=read_committed to see each change once";
    }

    @Override
    public void close() {
        if (writer != null) {
            writer.close();
        }
    }
}
