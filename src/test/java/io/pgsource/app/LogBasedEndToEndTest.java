package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LOG_BASED end to end, run the way users run it (sync.once: copy if needed, stream until everything committed
 * before the start is applied and acknowledged): the initial copy, then inserts, updates, deletes, truncates and
 * key changes from the WAL, every type through the WAL, and the seed's manual slot and publication setup.
 */
class LogBasedEndToEndTest {
    private static final String TABLES = "public.customers,sales.customers,public.all_types,\"Odd Schema\".\"Select\"";
    private static final List<String[]> COMPARED = List.of(new String[] {"public", "customers"}, new String[] {"sales", "customers"},
            new String[] {"public", "all_types"}, new String[] {"Odd Schema", "Select"});

    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    private static Map<String, String> env(String source, String target, String slot) {
        Map<String, String> env = SourceFixture.env(pg, source, "public,sales,Odd Schema");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", TABLES);
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "33");
        return SourceFixture.postgresDestination(pg, env, target);
    }

    private static final String CHANGES = """
            INSERT INTO public.customers SELECT g, 'new ' || g, now() FROM generate_series(1001, 1100) g;
            UPDATE public.customers SET name = 'updated' WHERE id % 7 = 0;
            DELETE FROM public.customers WHERE id % 11 = 0;
            UPDATE public.customers SET id = id + 5000 WHERE id BETWEEN 20 AND 25;
            UPDATE sales.customers SET score = score * 2, region = NULL WHERE id < 50;
            TRUNCATE "Odd Schema"."Select";
            INSERT INTO "Odd Schema"."Select" VALUES (7, 'seven', '"', 'ß');
            INSERT INTO public.all_types (c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric, c_numeric_scaled, c_money, c_bool,
                c_text, c_varchar, c_char, c_name, c_citext, c_bytea, c_uuid, c_json, c_jsonb, c_xml, c_date, c_time, c_timetz,
                c_timestamp, c_timestamptz, c_interval, c_inet, c_cidr, c_macaddr, c_bit, c_varbit, c_mood, c_amount, c_int_array,
                c_text_array2, c_ts_array, c_int4range, c_tstzrange, c_hstore, c_tsvector, c_point, c_box, c_circle, c_oid)
              SELECT c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric, c_numeric_scaled, c_money, c_bool,
                c_text, c_varchar, c_char, c_name, c_citext, c_bytea, c_uuid, c_json, c_jsonb, c_xml, c_date, c_time, c_timetz,
                c_timestamp, c_timestamptz, c_interval, c_inet, c_cidr, c_macaddr, c_bit, c_varbit, c_mood, c_amount, c_int_array,
                c_text_array2, c_ts_array, c_int4range, c_tstzrange, c_hstore, c_tsvector, c_point, c_box, c_circle, c_oid
              FROM public.all_types ORDER BY id;
            """;

    @Test
    void createdSlotCopiesInsideItsSnapshotThenStreamsEveryKindOfChange() throws Exception {
        String source = SourceFixture.createSource(pg, "log_src");
        String target = pg.createDatabase("log_dst");
        Map<String, String> env = env(source, target, "e2e_created");

        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);

        SourceFixture.execute(pg, source, CHANGES);
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);
        assertThat(count(target, "public.all_types")).as("every type also through the WAL").isEqualTo(6);
    }

    @Test
    void theSeedsManualSlotAndPublicationAreUsedAsTheyAre() throws Exception {
        String source = SourceFixture.createSource(pg, "log_manual_src");
        String target = pg.createDatabase("log_manual_dst");
        SourceFixture.execute(pg, source, """
                SELECT pg_create_logical_replication_slot('manual_slot', 'pgoutput');
                CREATE PUBLICATION manual_slot_pub FOR ALL TABLES;""");
        Map<String, String> env = env(source, target, "manual_slot");
        env.put("SOURCE_CREATE_SLOT", "false");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        // changes after the slot's position but before the first run: the copy sees them, the stream replays them
        SourceFixture.execute(pg, source, CHANGES);

        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);
        SourceFixture.execute(pg, source, "UPDATE public.customers SET name = 'again' WHERE id < 100; DELETE FROM sales.customers WHERE id > 150");
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);
    }

    private static void assertSame(String source, String target) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            for (String[] t : COMPARED) {
                List<String> columns = SourceFixture.columns(s, t[0], t[1]);
                String q = SourceFixture.qualified(t[0], t[1]);
                assertThat(SourceFixture.rows(d, q, columns)).as(t[0] + "." + t[1]).isEqualTo(SourceFixture.rows(s, q, columns));
            }
        }
    }

    private static long count(String db, String table) throws Exception {
        try (Connection c = pg.connect(db); var s = c.createStatement(); var rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
