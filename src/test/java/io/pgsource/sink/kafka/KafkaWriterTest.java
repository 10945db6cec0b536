package io.pgsource.sink.kafka;

import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.delete;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.page;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.TableSchema;
import io.pgsource.testsupport.KafkaBroker;
import io.pgsource.testsupport.KafkaBroker.Message;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The transactional writer against a real broker: a writer started with the same transactional id (a restarted pgsource)
 * fences the one before it, whose next batch fails and is never seen, and reads exactly the positions Kafka committed.
 */
class KafkaWriterTest {
    private static final TableSchema ITEMS = table("public", "items", List.of("id"), col("id", "int4"), col("name", "text"));

    @Test
    void aRestartedWriterFencesTheOldOneAndReadsTheCommittedPositions() {
        KafkaBroker kafka = KafkaBroker.get();
        String prefix = "writer" + System.nanoTime();
        KafkaSettings settings = KafkaSettings.load(Map.of("destination.kafka.brokers", kafka.bootstrapServers(),
                "destination.kafka.topic_prefix", prefix)::get, "slot", Map.of());
        try (KafkaWriter zombie = new KafkaWriter(settings, Duration.ofSeconds(30));
                KafkaWriter restarted = new KafkaWriter(settings, Duration.ofSeconds(30))) {
            zombie.open();
            zombie.write(batch(page("public.items", "1"), insert(row(ITEMS, 1, "one"))), null, Map.of("public.items", "1"));
            assertThat(zombie.position("public.items")).contains("1");

            restarted.open();
            assertThat(restarted.position("public.items")).as("what Kafka committed").contains("1");
            assertThatThrownBy(() -> zombie.write(batch(page("public.items", "2"), insert(row(ITEMS, 2, "two"))), null,
                    Map.of("public.items", "2"))).isInstanceOf(KafkaWriter.KafkaWriteException.class);

            restarted.write(batch(page("public.items", "3"), insert(row(ITEMS, 3, "three"))), null, Map.of("public.items", "3"));
            List<Message> records = kafka.readCommitted(List.of(prefix + ".public.items"));
            assertThat(records).extracting(Message::key).containsExactly("{\"id\":1}", "{\"id\":3}");
            assertThat(records.get(1).value()).startsWith("{\"op\":\"c\",\"before\":null,\"after\":{\"id\":3,\"name\":\"three\"}");
            assertThat(kafka.readCommitted(List.of(prefix + ".pgsource-positions"))).extracting(Message::key, Message::value)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple("pgsource-slot/public.items", "1"),
                            org.assertj.core.groups.Tuple.tuple("pgsource-slot/public.items", "3"));
        }
        try (KafkaWriter again = new KafkaWriter(settings, Duration.ofSeconds(30))) {
            again.open();
            assertThat(again.position("public.items")).isEqualTo(Optional.of("3"));
            assertThat(again.position("public.other")).isEmpty();
        }
    }

    @Test
    void debeziumFormatWritesDebeziumsChangeEventAndATombstoneAfterADelete() {
        KafkaBroker kafka = KafkaBroker.get();
        String prefix = "dbz" + System.nanoTime();
        KafkaSettings settings = KafkaSettings.load(Map.of("destination.kafka.brokers", kafka.bootstrapServers(),
                "destination.kafka.topic_prefix", prefix, "destination.format", "debezium")::get, "dbz", Map.of());
        try (KafkaWriter writer = new KafkaWriter(settings, Duration.ofSeconds(30), "shop")) {
            writer.open();
            writer.write(batch(page("public.items", "1"), insert(row(ITEMS, 1, "one")), delete(row(ITEMS, 1, "one"))), null,
                    Map.of("public.items", "1"));
        }
        List<Message> records = kafka.readCommitted(List.of(prefix + ".public.items"));
        assertThat(records).extracting(Message::key).containsExactly("{\"id\":1}", "{\"id\":1}", "{\"id\":1}");
        assertThat(records.get(0).value()).startsWith("{\"before\":null,\"after\":{\"id\":1,\"name\":\"one\"},\"source\":{")
                .contains("\"connector\":\"postgresql\",\"name\":\"" + prefix + "\"").contains("\"db\":\"shop\"").contains("\"op\":\"c\"");
        assertThat(records.get(1).value()).contains("\"op\":\"d\"");
        assertThat(records.get(2).value()).as("the tombstone").isNull();
    }
}
