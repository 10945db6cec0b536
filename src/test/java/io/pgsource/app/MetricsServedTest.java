package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** java -jar makes Camel's metrics and health checks only when an HTTP server serves them (PgSourceMain#served). */
class MetricsServedTest {
    private static Properties props(String... pairs) {
        Properties p = new Properties();
        for (int i = 0; i < pairs.length; i += 2) {
            p.setProperty(pairs[i], pairs[i + 1]);
        }
        return p;
    }

    @Test
    void noServerNoMetrics() {
        assertThat(PgSourceMain.served(props(), Map.of())).isFalse();
        assertThat(PgSourceMain.served(props("camel.management.enabled", "false"), Map.of())).isFalse();
        assertThat(PgSourceMain.served(props("camel.management.enabled", "false", "camel.metrics.enabled", "true"), Map.of()))
                .isFalse();
    }

    @Test
    void theManagementServerOrCamelsServerServesThem() {
        assertThat(PgSourceMain.served(props("camel.management.enabled", "true"), Map.of())).isTrue();
        assertThat(PgSourceMain.served(props("camel.management.enabled", " TRUE "), Map.of())).isTrue();
        assertThat(PgSourceMain.served(props("camel.server.enabled", "true"), Map.of())).isTrue();
        assertThat(PgSourceMain.served(props(), Map.of("CAMEL_SERVER_ENABLED", "true"))).as("a key no file lists").isTrue();
    }

    @Test
    void theEffectiveConfigurationDecides() {
        // EffectiveProperties merged the environment and the system properties already
        Properties effective = io.pgsource.config.EffectiveProperties.load(Map.of("CAMEL_MANAGEMENT_ENABLED", "true"), new Properties());
        assertThat(PgSourceMain.served(effective, Map.of("CAMEL_MANAGEMENT_ENABLED", "true"))).isTrue();
        Properties system = new Properties();
        system.setProperty("camel.management.enabled", "false");
        effective = io.pgsource.config.EffectiveProperties.load(Map.of("CAMEL_MANAGEMENT_ENABLED", "true"), system);
        assertThat(PgSourceMain.served(effective, Map.of("CAMEL_MANAGEMENT_ENABLED", "true"))).as("system properties win").isFalse();
        assertThat(PgSourceMain.served(io.pgsource.config.EffectiveProperties.load(Map.of(), new Properties()), Map.of()))
                .as("the bundled defaults: no server").isFalse();
    }

    @Test
    void withoutAServerMetricsAndHealthChecksAreOff() {
        Properties bundled = io.pgsource.config.EffectiveProperties.load(Map.of(), new Properties());
        assertThat(bundled.getProperty("camel.health.enabled")).as("the bundled defaults turn them on").isEqualTo("true");
        PgSourceMain.unserved(bundled, Map.of());
        assertThat(bundled.getProperty("camel.metrics.enabled")).isEqualTo("false");
        assertThat(bundled.getProperty("camel.health.enabled")).isEqualTo("false");

        Properties managed = io.pgsource.config.EffectiveProperties.load(Map.of("CAMEL_MANAGEMENT_ENABLED", "true"), new Properties());
        String metrics = managed.getProperty("camel.metrics.enabled");
        PgSourceMain.unserved(managed, Map.of("CAMEL_MANAGEMENT_ENABLED", "true"));
        assertThat(managed.getProperty("camel.health.enabled")).as("served: as configured").isEqualTo("true");
        assertThat(managed.getProperty("camel.metrics.enabled")).isEqualTo(metrics);
    }
}
