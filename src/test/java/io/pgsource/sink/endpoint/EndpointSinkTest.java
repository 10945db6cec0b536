package io.pgsource.sink.endpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;

import io.pgsource.change.TableSchema;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.sink.TestChanges;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.camel.CamelContext;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.Test;

/** The settings of destination=endpoint: what it accepts, and the one line that names the fix when it does not. */
class EndpointSinkTest {

    @Test
    void schemaAndTablePlaceholdersBecomeTheMessageHeadersAndCamelsOwnSimpleStays() {
        assertThat(EndpointSink.toSimple("nats:shop.${schema}.${table}?jetstreamEnabled=true"))
                .isEqualTo("nats:shop.${header.PgSourceSchema}.${header.PgSourceTable}?jetstreamEnabled=true");
        assertThat(EndpointSink.toSimple("seda:${header.PgSourceOp}")).isEqualTo("seda:${header.PgSourceOp}");
    }

    @Test
    void aNatsConnectionIsClosedWithoutFlushUnlessTheUriSaysOtherwise() {
        assertThat(EndpointSink.withDefaults("nats:a?jetstreamEnabled=true")).isEqualTo("nats:a?jetstreamEnabled=true&flushConnection=false");
        assertThat(EndpointSink.withDefaults("nats:a?flushConnection=true")).isEqualTo("nats:a?flushConnection=true");
        assertThat(EndpointSink.withDefaults("spring-rabbitmq:x?confirm=enabled")).isEqualTo("spring-rabbitmq:x?confirm=enabled");
    }

    @Test
    void brokersThatWouldNotConfirmEachMessageAreRefusedWithTheOptionToAdd() throws Exception {
        try (CamelContext camel = new DefaultCamelContext()) {
            assertThatThrownBy(() -> EndpointSink.checkUri(camel, "nats:cdc.${table}?servers=127.0.0.1:4222"))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("add jetstreamEnabled=true");
            EndpointSink.checkUri(camel, "nats:cdc.${table}?servers=127.0.0.1:4222&jetstreamEnabled=true");
            assertThatThrownBy(() -> EndpointSink.checkUri(camel, "spring-rabbitmq:cdc?routingKey=${table}"))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("add confirm=enabled");
            EndpointSink.checkUri(camel, "spring-rabbitmq:cdc?routingKey=${table}&confirm=enabled");
            assertThatThrownBy(() -> EndpointSink.checkUri(camel, "nosuchcomponent:x"))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessage("destination.uri=nosuchcomponent:x names the Camel component nosuchcomponent, which is not on the class"
                            + " path: add its jar (org.apache.camel:camel-nosuchcomponent) or use another URI");
        }
    }

    @Test
    void theFormatIsPgsourceOrDebezium() {
        assertThat(EndpointSink.format(" Debezium ")).isEqualTo(EndpointSink.Format.DEBEZIUM);
        assertThat(EndpointSink.format("pgsource")).isEqualTo(EndpointSink.Format.PGSOURCE);
        assertThatThrownBy(() -> EndpointSink.format("avro")).isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("destination.format=avro is not a format: use pgsource");
    }

    @Test
    void lanesAreOneTo256() {
        assertThat(EndpointSink.lanes(" 1 ")).isEqualTo(1);
        assertThat(EndpointSink.lanes("256")).isEqualTo(256);
        for (String bad : List.of("0", "257", "many", "-3")) {
            assertThatThrownBy(() -> EndpointSink.lanes(bad)).isInstanceOf(ConfigurationException.class)
                    .hasMessage("destination.endpoint.lanes=" + bad + " is not a number of lanes: use 1 to 256 (default 16; 1 sends one"
                            + " message at a time)");
        }
    }

    @Test
    void lanesAreSetByTheEnvironmentToo() {
        assertThat(EffectiveProperties.load(Map.of(), new Properties()).getProperty("destination.endpoint.lanes"))
                .isEqualTo(Integer.toString(EndpointSink.DEFAULT_LANES));
        assertThat(EffectiveProperties.load(Map.of("DESTINATION_ENDPOINT_LANES", "4"), new Properties())
                .getProperty("destination.endpoint.lanes")).isEqualTo("4");
    }

    @Test
    void aTruncateAndAKeyChangeGoAloneOtherChangesKeepToTheLaneOfTheirKey() {
        TableSchema orders = table("shop", "orders", List.of("id"), col("id", "int8"), col("qty", "int4"));
        TableSchema log = table("shop", "log", List.of(), col("line", "text"));
        assertThat(EndpointSink.alone(TestChanges.truncate(orders))).isTrue();
        assertThat(EndpointSink.alone(TestChanges.update(row(orders, 1L, 1), row(orders, 2L, 1)))).as("key 1 becomes 2").isTrue();
        assertThat(EndpointSink.alone(TestChanges.update(row(orders, 1L, 1), row(orders, 1L, 5)))).as("same key, old values").isFalse();
        assertThat(EndpointSink.alone(TestChanges.update(null, row(orders, 1L, 5)))).isFalse();
        assertThat(EndpointSink.alone(TestChanges.insert(row(orders, 3L, 1)))).isFalse();
        assertThat(EndpointSink.alone(TestChanges.delete(row(orders, 3L, 1)))).isFalse();
        assertThat(EndpointSink.alone(TestChanges.update(row(log, "a"), row(log, "b")))).as("no key: the table's one lane").isFalse();
    }
}
