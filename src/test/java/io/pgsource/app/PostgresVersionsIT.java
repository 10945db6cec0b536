package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A smoke of every supported PostgreSQL major version other than the one the other suites run on (those run in full
 * on each version with {@code mvn verify -Ppg-matrix}): log replication copies every type of the end-to-end fixture,
 * then streams inserts, updates, deletes, a key change, a truncate and a transaction too large for the server's
 * memory, in a second run (a restart from the slot) into the postgres destination; the batch query copies and
 * follows an incremental change. Each step ends with an exact comparison (EXCEPT ALL both ways), and the log shows the
 * pgoutput protocol of that version (1 on 13, 2 on 14, 3 on 15, 4 from 16).
 */
class PostgresVersionsIT {
    private static final String SCHEMAS = "public,sales,Odd Schema";
    private static final String TABLES = "public.customers,sales.customers,public.all_types,\"Odd Schema\".\"Select\",public.ledger";
    private static final Map<String, List<String>> COMPARED = Map.of("public", List.of("customers", "all_types", "ledger"),
            "sales", List.of("customers"), "Odd Schema", List.of("Select"));

    /** Changes of every kind; the 20,000-row transaction exceeds logical_decoding_work_mem (64 kB here). */
    private static final String CHANGES = """
            INSERT INTO public.customers SELECT g, 'new ' || g, now() FROM generate_series(1001, 1100) g;
            UPDATE public.customers SET name = 'updated' WHERE id % 7 = 0;
            DELETE FROM public.customers WHERE id % 11 = 0;
            UPDATE public.customers SET id = id + 5000 WHERE id BETWEEN 20 AND 25;
            UPDATE sales.customers SET score = score * 2, region = NULL WHERE id < 50;
            TRUNCATE "Odd Schema"."Select";
            INSERT INTO "Odd Schema"."Select" VALUES (7, 'seven', '"', 'ß');
            INSERT INTO public.all_types (c_int2, c_numeric, c_text, c_jsonb, c_timestamptz, c_interval, c_int_array, c_hstore, c_mood)
              SELECT c_int2, c_numeric, c_text, c_jsonb, c_timestamptz, c_interval, c_int_array, c_hstore, c_mood FROM public.all_types;
            BEGIN;
            INSERT INTO public.ledger SELECT g, g * 0.01, repeat('x', 20) FROM generate_series(1, 20000) g;
            UPDATE public.ledger SET amount = -amount WHERE id % 3 = 0;
            DELETE FROM public.ledger WHERE id % 5 = 0;
            COMMIT;
            """;

    static Stream<Integer> otherVersions() {
        int tested = TestPostgres.server().majorVersion();
        return TestPostgres.majorVersions().stream().filter(v -> v != tested);
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @MethodSource("otherVersions")
    void logReplicationCopiesStreamsAndRestarts(int major) throws Exception {
        TestPostgres pg = TestPostgres.server(major);
        assertThat(pg.majorVersion()).isEqualTo(major);
        String source = SourceFixture.createSource(pg, "v" + major + "_log_src");
        String target = pg.createDatabase("v" + major + "_log_dst");
        // the walsender reads its database's settings: transactions over 64 kB are streamed in progress (14+), spilled on 13
        SourceFixture.execute(pg, source, "CREATE TABLE public.ledger (id bigint PRIMARY KEY, amount numeric(12,2), note text);"
                + "ALTER DATABASE " + source + " SET logical_decoding_work_mem = '64kB'");
        String slot = "versions_" + major;
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, SCHEMAS), target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", TABLES);
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");

        try (LogCapture log = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).as("the first run (copy)\n%s", log.text()).isZero();
            assertEqual(pg, source, target, "after the copy");
            SourceFixture.execute(pg, source, CHANGES);
            assertThat(PgSourceMain.run(env, new Properties())).as("the second run (stream)\n%s", log.text()).isZero();
            assertEqual(pg, source, target, "after the changes streamed");

            String streaming = log.text().lines().filter(l -> l.startsWith("Streaming slot " + slot)).findFirst().orElseThrow();
            assertThat(streaming).contains("pgoutput protocol " + (major >= 16 ? 4 : major - 12))
                    .contains(major >= 14 ? "binary mode" : "text mode; PostgreSQL 13 has no binary mode");
        }
        assertThat(slotFailover(pg, source, slot)).as("a failover slot from PostgreSQL 17").isEqualTo(major >= 17 ? "true" : null);
        if (major >= 14) {
            assertThat(streamedTransactions(pg, source, slot)).as("transactions streamed while in progress").isPositive();
        }
        SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot('" + slot + "')");
    }

    @ParameterizedTest(name = "PostgreSQL {0}")
    @MethodSource("otherVersions")
    void batchQueryCopiesAndFollowsIncrementalChanges(int major) throws Exception {
        TestPostgres pg = TestPostgres.server(major);
        String source = SourceFixture.createSource(pg, "v" + major + "_batch_src");
        String full = pg.createDatabase("v" + major + "_full_dst");
        String incremental = pg.createDatabase("v" + major + "_inc_dst");
        Map<String, String> fullEnv = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, SCHEMAS), full);
        fullEnv.put("SOURCE_TABLES", "public.customers,sales.customers,public.all_types,\"Odd Schema\".\"Select\"");
        fullEnv.put("SOURCE_BATCH_FETCH_LIMIT", "40");
        Map<String, String> incEnv = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public,sales"), incremental);
        incEnv.put("SOURCE_TABLES", "public.customers,sales.customers");
        incEnv.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        incEnv.put("SOURCE_REPLICATION_KEY", "updated_at");

        assertThat(PgSourceMain.run(fullEnv, new Properties())).isZero();
        assertThat(PgSourceMain.run(incEnv, new Properties())).isZero();
        SourceFixture.execute(pg, source, """
                UPDATE public.customers SET name = 'changed', updated_at = now() WHERE id % 10 = 0;
                INSERT INTO sales.customers (id, region, updated_at) SELECT g, 'late', now() FROM generate_series(500, 620) g;""");
        assertThat(PgSourceMain.run(fullEnv, new Properties())).isZero();
        assertThat(PgSourceMain.run(incEnv, new Properties())).isZero();

        try (Connection s = pg.connect(source); Connection f = pg.connect(full); Connection i = pg.connect(incremental)) {
            for (String schema : List.of("public", "sales", "Odd Schema")) {
                List<String> tables = COMPARED.get(schema).stream().filter(t -> !t.equals("ledger")).toList();
                TableCompare.assertEqual(s, schema, f, schema, tables, "FULL_TABLE on PostgreSQL " + major);
            }
            TableCompare.assertEqual(s, "public", i, "public", List.of("customers"), "INCREMENTAL on PostgreSQL " + major);
            TableCompare.assertEqual(s, "sales", i, "sales", List.of("customers"), "INCREMENTAL on PostgreSQL " + major);
        }
    }

    private static void assertEqual(TestPostgres pg, String source, String target, String when) throws SQLException {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            for (Map.Entry<String, List<String>> schema : COMPARED.entrySet()) {
                TableCompare.assertEqual(s, schema.getKey(), d, schema.getKey(), schema.getValue(),
                        "PostgreSQL " + pg.majorVersion() + ", " + when);
            }
        }
    }

    /** pg_replication_slots.failover (PostgreSQL 17+), null before. */
    private static String slotFailover(TestPostgres pg, String db, String slot) throws SQLException {
        try (Connection c = pg.connect(db);
             PreparedStatement ps = c.prepareStatement("SELECT to_jsonb(s) ->> 'failover' FROM pg_replication_slots s WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).as("slot " + slot + " exists").isTrue();
                return rs.getString(1);
            }
        }
    }

    /** pg_stat_replication_slots.stream_txns (PostgreSQL 14+), which the statistics system reports a moment late. */
    private static long streamedTransactions(TestPostgres pg, String db, String slot) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        try (Connection c = pg.connect(db);
             PreparedStatement ps = c.prepareStatement("SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            while (true) {
                try (ResultSet rs = ps.executeQuery()) {
                    long streamed = rs.next() ? rs.getLong(1) : 0;
                    if (streamed > 0 || System.nanoTime() > deadline) {
                        return streamed;
                    }
                }
                Thread.sleep(200);
            }
        }
    }
}
