package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code discover} on an ordinary database: what each table is and how it would be captured, nothing written. */
class DiscoverCommandTest {
    private static TestPostgres pg;
    private static String db;

    @BeforeAll
    static void source() throws Exception {
        pg = TestPostgres.server();
        db = pg.createDatabase("discover_src");
        SourceFixture.execute(pg, db, """
                CREATE TABLE public.orders (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now(), total numeric);
                CREATE INDEX ON public.orders (updated_at);
                INSERT INTO public.orders (id) SELECT g FROM generate_series(1, 5000) g;
                CREATE TABLE public.history (tid int, delta int, mtime timestamp);
                INSERT INTO public.history SELECT g, g, now() FROM generate_series(1, 100) g;
                CREATE TABLE public.events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
                CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
                ANALYZE;""");
    }

    private record Result(int code, String out, String err) {
    }

    private static Result discover(Map<String, String> extra, String... args) {
        Map<String, String> env = new HashMap<>(SourceFixture.env(pg, db, "public"));
        env.remove("SYNC_ONCE");
        env.putAll(extra);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = DiscoverCommand.run(List.of(args), env, new Properties(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void logBasedSaysWhatEachTableIsAndHowItWouldBePublishedWithoutCreatingAnything() throws Exception {
        Result r = discover(Map.of("SOURCE_REPLICATION_METHOD", "LOG_BASED", "SOURCE_REPLICATION_SLOT", "discover_slot"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("wal_level=logical", "slot discover_slot: none yet")
                .containsPattern("public\\.orders: key \\(id\\), replica identity default, ~5,000 rows, \\d+\\.\\d kB -> not published yet: "
                        + "the first run publishes it in pgsource_pub\\n")
                .contains("public.history: key none", "~100 rows", "pgsource_pub_keyless (no key: inserts and truncates only)")
                .contains("public.events (partitioned): key (id, at)")
                .contains("3 table(s) selected by source.schema=public");
        assertThat(SourceFixture.query(pg, db, "SELECT count(*) FROM pg_publication")).containsExactly("0");
        assertThat(SourceFixture.query(pg, db, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'discover_slot'"))
                .containsExactly("0");

        SourceFixture.execute(pg, db, "CREATE PUBLICATION discover_pub FOR ALL TABLES");
        try {
            r = discover(Map.of("SOURCE_REPLICATION_METHOD", "LOG_BASED", "SOURCE_PUBLICATION_NAME", "discover_pub"));
            assertThat(r.out()).contains("public.orders: key (id)", "-> LOG_BASED, published by discover_pub")
                    .contains("no replica identity while discover_pub publish updates and deletes: PostgreSQL rejects UPDATE and "
                            + "DELETE on it (ALTER TABLE \"public\".\"history\" REPLICA IDENTITY FULL, or a primary key)");
        } finally {
            SourceFixture.execute(pg, db, "DROP PUBLICATION discover_pub");
        }
    }

    @Test
    void batchQuerySaysHowEachTableIsRead() {
        Result r = discover(Map.of("SOURCE_REPLICATION_METHOD", "INCREMENTAL", "SOURCE_REPLICATION_KEYS",
                "public.orders:updated_at"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("public.orders: key (id)", "-> INCREMENTAL by updated_at (indexed)")
                .contains("public.history: key none", "-> FULL_TABLE (no replication key set for it), read in ctid ranges");
    }

    @Test
    void badInputIsOneLine() {
        assertThat(discover(Map.of(), "extra").code()).isEqualTo(2);
        Result r = discover(Map.of("SOURCE_SCHEMA", "nosuchschema"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").contains("nosuchschema");
    }
}
