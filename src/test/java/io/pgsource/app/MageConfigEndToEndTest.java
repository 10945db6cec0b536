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
import org.junit.jupiter.api.io.TempDir;

/**
 * A Mage user's move: the PostgreSQL set up as Mage's documentation says (slot made by hand, FOR ALL TABLES), and
 * pgsource started on the Mage source configuration file as it is, password from the environment as Mage writes it.
 */
class MageConfigEndToEndTest {
    @TempDir
    Path dir;

    @Test
    void pgsourceRunsOnMagesOwnConfigurationFileAndSetup() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String source = pg.createDatabase("mage_cfg_src");
        String target = pg.createDatabase("mage_cfg_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE public.users (id int PRIMARY KEY, name text, balance numeric(10,2));
                INSERT INTO public.users SELECT g, 'user ' || g, g * 1.5 FROM generate_series(1, 100) g;""");
        // Mage's steps 2 and 3, each as its own statement as a user types them
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('mage_slot', 'pgoutput')");
        SourceFixture.execute(pg, source, "CREATE PUBLICATION mage_pub FOR ALL TABLES");
        Path yaml = dir.resolve("mage.yaml");
        Files.writeString(yaml, """
                database: %s
                host: %s
                password: "{{ env_var('PG_PASSWORD') }}"
                port: %d
                schema: public
                username: %s
                replication_slot: mage_slot
                publication_name: mage_pub
                batch_fetch_limit: 30
                replication_method: LOG_BASED
                destination: postgres
                destination.url: %s
                destination.username: %s
                destination.password: "{{ env_var('PG_PASSWORD') }}"
                sync.once: true
                """.formatted(source, pg.host(), pg.port(), pg.user(), pg.jdbcUrl(target), pg.user()));
        Map<String, String> env = new HashMap<>();
        env.put("PGSOURCE_CONFIG", yaml.toString());
        env.put("PG_PASSWORD", pg.password());

        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertThat(rows(pg, target)).hasSize(100).isEqualTo(rows(pg, source));

        SourceFixture.execute(pg, source, """
                UPDATE public.users SET balance = -1 WHERE id <= 5;
                DELETE FROM public.users WHERE id > 95;
                INSERT INTO public.users VALUES (1000, 'new', 0.25);""");
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertThat(rows(pg, target)).hasSize(96).isEqualTo(rows(pg, source));
        assertThat(SourceFixture.query(pg, source, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'mage_slot'"))
                .as("Mage's slot is the one used, no other made").containsExactly("1");
    }

    private static List<String> rows(TestPostgres pg, String db) throws Exception {
        return SourceFixture.query(pg, db, "SELECT id, name, balance FROM public.users ORDER BY id");
    }
}
