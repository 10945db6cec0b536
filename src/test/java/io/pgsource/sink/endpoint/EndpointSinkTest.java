package io.pgsource.sink.endpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.config.ConfigurationException;
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
}
