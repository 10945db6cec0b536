package io.pgsource.sink.kafka;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.TableId;
import io.pgsource.sink.json.ChangeEnvelope;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import java.time.Duration;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.Service;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code kafka} destination (bean {@value #BEAN_NAME}): every change as one record on the topic of its table,
 * {@code <prefix>.<schema>.<table>}, and the batch's source position on the position topic, in one Kafka transaction
 * ({@link KafkaWriter}).
 *
 * <p><b>Delivery contract: exactly-once for consumers reading with {@code isolation.level=read_committed}</b>; at-least-once
 * for read_uncommitted ones, which also see the records of transactions that were aborted (a crash, a failed batch) and
 * written again. A batch (and so the slot) counts as applied only once Kafka committed its transaction; a replay after a
 * restart skips what the committed positions cover, whole transactions and the parts of big ones alike.
 *
 * <p>Several waiting source transactions may come as one batch ({@code combineTransactions}): they are one Kafka
 * transaction, and every record still names its own source transaction ({@code source.lsn}, {@code source.txId}).
 */
public final class KafkaSink implements Processor, Service {
    /** The bean name routes refer to. */
    public static final String BEAN_NAME = "kafkaSink";
    private static final Logger LOG = LoggerFactory.getLogger(KafkaSink.class);

    private final KafkaWriter writer;
    private final KafkaPositionStore positions;

    public KafkaSink(KafkaSettings settings) {
        this.writer = new KafkaWriter(settings, Duration.ofSeconds(30));
        this.positions = new KafkaPositionStore(writer);
    }

    /** Connects and reads the positions; a broker that cannot be reached stops pgsource at start, with the fix. */
    public void open() {
        writer.open();
    }

    public PositionStore positionStore() {
        return positions;
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        ChangeBatch batch = exchange.getIn().getMandatoryBody(ChangeBatch.class);
        Long changesBefore = exchange.getIn().getHeader(ChangeHeaders.TX_CHANGES_BEFORE, Long.class);
        Map<String, String> saved = Map.of();
        if (batch.position() != null) {
            String stream = Positions.stream(batch.position(), exchange);
            String stored = positions.load(stream).orElse(null);
            if (Positions.alreadyApplied(batch, changesBefore, stored)) {
                LOG.debug("skipping the batch at {}: {} already holds {}", batch.position(), stream, stored);
                return;
            }
            int applied = Positions.appliedChanges(batch, changesBefore, stored);
            if (applied > 0) {
                batch = new ChangeBatch(batch.subList(applied, batch.size()), batch.position(), batch.last(), batch.tables());
            }
            batch = Positions.withoutApplied(batch, stored);
            @SuppressWarnings("unchecked")
            Map<TableId, Long> copiedAt = exchange.getIn().getHeader(ChangeHeaders.COPIED_AT, Map.class);
            batch = Positions.withoutCopied(batch, copiedAt);
            Long changesThrough = changesBefore == null ? null : changesBefore + exchange.getIn().getMandatoryBody(ChangeBatch.class).size();
            saved = Map.of(stream, Positions.value(batch.position(), batch.last(), changesThrough));
        }
        writer.write(batch, ChangeEnvelope.Part.of(batch, exchange.getIn().getHeader(ChangeHeaders.TX_PART, Integer.class)), saved);
    }

    @Override
    public void start() {
        // opened before the routes start (open())
    }

    @Override
    public void stop() {
        writer.close();
    }
}
