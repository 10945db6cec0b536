package io.pgsource.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class DestinationSettingsTest {

    private static DestinationSettings load(Map<String, String> keys) {
        return new SettingsLoader(keys::get).destination();
    }

    @Test
    void softDeleteIsOffUnlessSet() {
        assertThat(load(Map.of()).softDelete()).isFalse();
        assertThat(load(Map.of("destination", "postgres", "destination.soft_delete", "true")).softDelete()).isTrue();
        assertThat(load(Map.of("destination.soft_delete", "false")).softDelete()).isFalse();
        assertThat(load(Map.of("destination.soft_delete", "true")).toString()).contains("softDelete=true");
        assertThatThrownBy(() -> load(Map.of("destination.soft_delete", "maybe")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("destination.soft_delete=maybe");
    }
}
