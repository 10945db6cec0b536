package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * docker-compose.yml without Docker: its two setup scripts run as they are against a real PostgreSQL (as the image's
 * entrypoint runs them, as the superuser), then pgsource runs with the pgsource service's own environment (hosts and
 * ports pointed at the test server) as the least-privilege roles those scripts make, and copies and streams exactly.
 */
class DockerComposeSetupTest {

    @Test
    @SuppressWarnings("unchecked")
    void theComposeSetupSyncsAsItsLeastPrivilegeRoles() throws Exception {
        Map<String, Object> compose = (Map<String, Object>) new Load(LoadSettings.builder().build())
                .loadFromString(Files.readString(Path.of("docker-compose.yml")));
        Map<String, Object> services = (Map<String, Object>) compose.get("services");
        for (String service : List.of("source", "destination", "pgsource")) {
            Map<String, Object> s = (Map<String, Object>) services.get(service);
            assertThat(s.get("healthcheck")).as(service + " has a health check").isNotNull();
            for (Object port : (List<Object>) s.getOrDefault("ports", List.of())) {
                assertThat(String.valueOf(port)).as(service + " must not take a local PostgreSQL's port")
                        .doesNotStartWith("5432:").doesNotContain(":-5432}");
            }
        }
        Map<String, Object> pgsource = (Map<String, Object>) services.get("pgsource");
        assertThat(((Map<String, Object>) pgsource.get("build")).get("context")).as("built from the repository").isEqualTo(".");

        TestPostgres pg = TestPostgres.server();
        String source = pg.createDatabase("compose_shop");
        SourceFixture.execute(pg, source, Files.readString(Path.of("src/main/docker/source-setup.sql")));
        SourceFixture.execute(pg, "postgres", "DROP DATABASE IF EXISTS warehouse; ");
        SourceFixture.execute(pg, "postgres", "DROP ROLE IF EXISTS warehouse");
        for (String statement : Files.readString(Path.of("src/main/docker/destination-setup.sql")).split(";")) {
            String sql = statement.lines().filter(l -> !l.startsWith("--")).reduce("", (a, b) -> a + b + "\n").trim();
            if (!sql.isEmpty()) {
                SourceFixture.execute(pg, "postgres", sql); // CREATE DATABASE runs on its own, as psql runs it
            }
        }
        assertThat(SourceFixture.query(pg, source, "SELECT rolsuper::text || rolreplication::text FROM pg_roles "
                + "WHERE rolname IN ('pgsource', 'warehouse') ORDER BY rolname")).containsExactly("falsetrue", "falsefalse");

        Map<String, String> env = new HashMap<>();
        ((Map<String, Object>) pgsource.get("environment")).forEach((k, v) -> env.put(k, String.valueOf(v)));
        env.put("SOURCE_HOST", pg.host());
        env.put("SOURCE_PORT", Integer.toString(pg.port()));
        env.put("SOURCE_DATABASE", source);
        env.put("DESTINATION_URL", env.get("DESTINATION_URL").replace("destination:5432", pg.host() + ":" + pg.port()));
        env.put("CAMEL_MANAGEMENT_ENABLED", "false");
        env.put("SYNC_ONCE", "true");

        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        SourceFixture.execute(pg, source, "INSERT INTO public.users (email) VALUES ('new@example.com'); "
                + "UPDATE public.users SET active = false WHERE id <= 10; DELETE FROM public.users WHERE id = 500");
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        String rows = "SELECT id, email, active, updated_at FROM public.users ORDER BY id";
        assertThat(SourceFixture.query(pg, "warehouse", rows)).hasSize(1000).isEqualTo(SourceFixture.query(pg, source, rows));
    }
}
