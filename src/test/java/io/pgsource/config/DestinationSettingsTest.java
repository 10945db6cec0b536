package io.pgsource.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.TableId;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DestinationSettingsTest {

    private static DestinationSettings load(Map<String, String> keys) {
        return new SettingsLoader(keys::get).destination();
    }

    @Test
    void tableNamesFollowTheSchemaAndThePattern() {
        TableId orders = new TableId("sales", "orders");
        assertThat(load(Map.of()).table(orders)).isEqualTo(orders);
        assertThat(load(Map.of("destination.schema", "analytics")).table(orders)).isEqualTo(new TableId("analytics", "orders"));
        assertThat(load(Map.of("destination.schema", "analytics", "destination.table_name", "${schema}_${table}")).table(orders))
                .isEqualTo(new TableId("analytics", "sales_orders"));
        // substituted once: a name that holds a placeholder's text stays as it is
        assertThat(load(Map.of("destination.table_name", "${table}_${schema}")).table(new TableId("${table}", "$1")))
                .isEqualTo(new TableId("${table}", "$1_${table}"));
        assertThat(load(Map.of("destination.table_name", " ")).tableName()).isEqualTo("${table}");
    }

    @Test
    void aPatternWithAnUnknownOrOpenPlaceholderIsRefused() {
        assertThatThrownBy(() -> load(Map.of("destination.table_name", "${db}_${table}"))).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("uses ${db}").hasMessageContaining("${schema} and ${table}");
        assertThatThrownBy(() -> load(Map.of("destination.table_name", "${schema}_${table"))).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("without its closing }");
    }

    @Test
    void twoTablesOnOneDestinationTableAreRefusedNamingBoth() {
        DestinationSettings oneSchema = load(Map.of("destination.schema", "analytics"));
        List<TableId> sources = List.of(new TableId("public", "orders"), new TableId("sales", "orders"));
        assertThatThrownBy(() -> oneSchema.tables(sources)).isInstanceOf(ConfigurationException.class)
                .hasMessage("destination.schema=analytics maps both \"public\".\"orders\" and \"sales\".\"orders\" onto the destination"
                        + " table \"analytics\".\"orders\", so the rows of one would overwrite the other's: set"
                        + " destination.table_name=${schema}_${table} (each source table gets its own destination table), or leave"
                        + " destination.schema empty, or leave one of them out (source.tables)");
        assertThat(load(Map.of("destination.schema", "analytics", "destination.table_name", "${schema}_${table}")).tables(sources))
                .containsValues(new TableId("analytics", "public_orders"), new TableId("analytics", "sales_orders"));
        // "a_b"."c" and "a"."b_c" meet in ${schema}_${table}: told, with another pattern
        assertThatThrownBy(() -> load(Map.of("destination.schema", "x", "destination.table_name", "${schema}_${table}"))
                .tables(List.of(new TableId("a_b", "c"), new TableId("a", "b_c")))).hasMessageContaining("${schema}__${table}");
        assertThatThrownBy(() -> load(Map.of("destination.table_name", "t")).tables(List.of(new TableId("public", "a"), new TableId("public", "b"))))
                .hasMessageContaining("destination.table_name=t maps both");
    }

    @Test
    void aNamePostgresWouldCutIsRefused() {
        String name = "x".repeat(60);
        assertThat(load(Map.of("destination.table_name", "${table}_ab")).table(new TableId("s", name)).name()).hasSize(63);
        assertThatThrownBy(() -> load(Map.of("destination.table_name", "${table}_abc")).table(new TableId("s", name)))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("longer than the 63 bytes PostgreSQL keeps");
        // bytes, not characters
        assertThatThrownBy(() -> load(Map.of("destination.table_name", "${table}")).table(new TableId("s", "ü".repeat(32))))
                .isInstanceOf(ConfigurationException.class);
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
