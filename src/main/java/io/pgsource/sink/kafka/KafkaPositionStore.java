package io.pgsource.sink.kafka;

import io.pgsource.state.PositionStore;
import java.util.Map;
import java.util.Optional;

/**
 * The positions of the kafka destination: those Kafka committed on the position topic (read with read_committed).
 * A position saved here outside a batch (the point an initial copy reached) is a Kafka transaction of its own.
 */
public final class KafkaPositionStore implements PositionStore {
    private final KafkaWriter writer;

    public KafkaPositionStore(KafkaWriter writer) {
        this.writer = writer;
    }

    @Override
    public Optional<String> load(String stream) {
        return writer.position(stream);
    }

    @Override
    public void save(String stream, String position) {
        writer.savePositions(Map.of(stream, position));
    }

    @Override
    public void refresh() {
        writer.refresh();
    }
}
