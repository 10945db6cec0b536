package io.pgsource.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mage's PostgreSQL source configuration files, in the shapes Mage writes them, read into pgsource's keys. */
class MageConfigTest {
    @TempDir
    Path dir;

    private Path file(String yaml) throws Exception {
        Path f = dir.resolve("mage.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    private Properties load(String yaml, Map<String, String> env) throws Exception {
        Map<String, String> withFile = new java.util.HashMap<>(env);
        withFile.put("PGSOURCE_CONFIG", file(yaml).toString());
        return EffectiveProperties.load(withFile, new Properties());
    }

    @Test
    void theSourceKeysAsMagesUiWritesThemBecomeOursAndTheEnvironmentStillWins() throws Exception {
        Properties p = load("""
                database: demo
                host: db.example.com
                password: "{{ env_var('PG_PASSWORD') }}"
                port: 6543
                schema: sales
                username: guest
                replication_slot: mage_slot
                publication_name: mage_pub
                batch_fetch_limit: 20000
                destination: postgres
                destination.url: jdbc:postgresql://warehouse/analytics
                """, Map.of("PG_PASSWORD", "s3cret", "SOURCE_DATABASE", "override"));
        assertThat(p.getProperty("source.host")).isEqualTo("db.example.com");
        assertThat(p.getProperty("source.port")).isEqualTo("6543");
        assertThat(p.getProperty("source.password")).isEqualTo("s3cret");
        assertThat(p.getProperty("source.schema")).isEqualTo("sales");
        assertThat(p.getProperty("source.username")).isEqualTo("guest");
        assertThat(p.getProperty("source.replication_slot")).isEqualTo("mage_slot");
        assertThat(p.getProperty("source.publication_name")).isEqualTo("mage_pub");
        assertThat(p.getProperty("source.batch_fetch_limit")).isEqualTo("20000");
        assertThat(p.getProperty("destination")).isEqualTo("postgres");
        assertThat(p.getProperty("destination.url")).isEqualTo("jdbc:postgresql://warehouse/analytics");
        assertThat(p.getProperty("source.database")).as("environment over the file, as for properties").isEqualTo("override");
        assertThat(p.getProperty("sync.interval")).as("the bundled defaults stay underneath").isNotNull();
        Settings settings = new SettingsLoader(p::getProperty).load();
        assertThat(settings.source().host()).isEqualTo("db.example.com");
        assertThat(settings.source().batchFetchLimit()).isEqualTo(20000);
    }

    @Test
    void aDataIntegrationBlockWithItsCatalogSelectsTablesKeysAndTheMethod() throws Exception {
        Properties p = load("""
                source: postgresql
                config:
                  host: db
                  port: 5432
                  database: shop
                  username: reader
                  password: pw
                  schema: public
                  connection_method: direct
                catalog:
                  streams:
                    - tap_stream_id: orders
                      stream: orders
                      replication_method: INCREMENTAL
                      replication_key: updated_at
                      metadata:
                        - breadcrumb: []
                          metadata: {selected: true, schema-name: public}
                    - tap_stream_id: Audit Log
                      stream: Audit Log
                      replication_method: INCREMENTAL
                      replication_key: At
                    - tap_stream_id: users
                      stream: users
                      replication_method: INCREMENTAL
                      metadata:
                        - breadcrumb: []
                          metadata: {selected: false}
                """, Map.of());
        assertThat(p.getProperty("source.tables")).isEqualTo("public.orders,public.\"Audit Log\"");
        assertThat(p.getProperty("source.replication_keys")).isEqualTo("public.orders:updated_at,public.\"Audit Log\":\"At\"");
        assertThat(p.getProperty("source.replication_method")).isEqualTo("INCREMENTAL");
        Settings settings = new SettingsLoader(p::getProperty).load();
        assertThat(settings.source().replicationMethod()).isEqualTo(ReplicationMethod.INCREMENTAL);
    }

    @Test
    void whatCannotBeReadStopsWithOneLineThatSaysTheFixAndNeverTheSecret() throws Exception {
        assertThatThrownBy(() -> load("host: db\npassword: \"{{ mage_secret_var('pg_pw') }}\"\n", Map.of()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("mage_secret_var('pg_pw')").hasMessageContaining("env_var('pg_pw')");
        assertThatThrownBy(() -> load("host: db\npassword: \"{{ env_var('NOT_SET_HERE') }}\"\n", Map.of()))
                .hasMessageContaining("NOT_SET_HERE").hasMessageContaining("not set");
        assertThatThrownBy(() -> load("source: mysql\nconfig:\n  host: db\n", Map.of()))
                .hasMessageContaining("'mysql' source");
        assertThatThrownBy(() -> load("host: db\nconnection_method: ssh_tunnel\n", Map.of()))
                .hasMessageContaining("ssh -N -L");
        assertThatThrownBy(() -> load("""
                host: db
                streams:
                  - {stream: a, replication_method: LOG_BASED}
                  - {stream: b, replication_method: FULL_TABLE}
                """, Map.of())).hasMessageContaining("LOG_BASED and FULL_TABLE").hasMessageContaining("one pgsource per method");
        assertThatThrownBy(() -> load("host: db\npassword: hunter2-secret\n  port: [\n", Map.of()))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("not valid YAML")
                .hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> load("- host\n- port\n", Map.of())).hasMessageContaining("must be a map");
    }

    @Test
    void propertiesFilesAreStillReadAsProperties() throws Exception {
        Path f = dir.resolve("other.properties");
        Files.writeString(f, "source.host=db.example.com\n");
        Properties p = EffectiveProperties.load(Map.of("PGSOURCE_CONFIG", f.toString()), new Properties());
        assertThat(p.getProperty("source.host")).isEqualTo("db.example.com");
    }
}
