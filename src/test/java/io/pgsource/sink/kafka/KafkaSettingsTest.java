package io.pgsource.sink.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The destination.kafka.* keys: defaults, topic names as Debezium's, and one line with the fix for each bad value. */
class KafkaSettingsTest {

    private static KafkaSettings load(Map<String, String> values) {
        return KafkaSettings.load(values::get, "my_slot", Map.of());
    }

    @Test
    void defaultsNameTopicsAsDebeziumDoesAndTheTransactionalIdAfterTheSlot() {
        KafkaSettings s = load(Map.of("destination.kafka.brokers", "k1:9092,k2:9092"));
        assertThat(s.topic(new TableId("public", "orders"))).isEqualTo("pgsource.public.orders");
        assertThat(s.topic(new TableId("Odd Schema", "Select é"))).isEqualTo("pgsource.Odd_Schema.Select__");
        assertThat(s.positionTopic()).isEqualTo("pgsource.pgsource-positions");
        assertThat(s.transactionalId()).isEqualTo("pgsource-my_slot");
        assertThat(s.partitions()).isEmpty();
        assertThat(load(Map.of("destination.kafka.brokers", "k:9092", "destination.kafka.topic_prefix", "shop",
                "destination.kafka.partitions", "6")).topic(new TableId("s", "t"))).isEqualTo("shop.s.t");
    }

    @Test
    void badValuesSayTheFix() {
        assertThatThrownBy(() -> load(Map.of())).isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("destination=kafka needs destination.kafka.brokers");
        assertThatThrownBy(() -> load(Map.of("destination.kafka.brokers", "k:9092", "destination.kafka.topic_prefix", "a b")))
                .hasMessageContaining("is not the start of a Kafka topic name");
        assertThatThrownBy(() -> load(Map.of("destination.kafka.brokers", "k:9092", "destination.kafka.partitions", "0")))
                .hasMessageStartingWith("destination.kafka.partitions=0 is not a number from 1");
        assertThatThrownBy(() -> KafkaSettings.load(Map.of("destination.kafka.brokers", "k:9092")::get, "s",
                Map.of("destination.kafka.client.enable.idempotence", "false")))
                .hasMessageStartingWith("destination.kafka.client.enable.idempotence is set by pgsource itself");
    }

    @Test
    void clientSecretsAreNotShown() {
        KafkaSettings s = KafkaSettings.load(Map.of("destination.kafka.brokers", "k:9092")::get, "s",
                Map.of("destination.kafka.client.sasl.jaas.config", "... password=\"hunter2\";"));
        assertThat(s.client()).containsEntry("sasl.jaas.config", "... password=\"hunter2\";");
        assertThat(s.toString()).doesNotContain("hunter2");
    }

    @Test
    void unreachableBrokersStopTheStartInOneLineWithTheFix() {
        KafkaWriter writer = new KafkaWriter(load(Map.of("destination.kafka.brokers", "127.0.0.1:1")), Duration.ofSeconds(1));
        assertThatThrownBy(writer::open).isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("cannot reach Kafka at destination.kafka.brokers=127.0.0.1:1 (")
                .hasMessageContaining("check the brokers' host:port");
        writer.close();
    }
}
