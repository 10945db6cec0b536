package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole application (configuration, Camel Main, the YAML routes, the processors, the destinations) against
 * a real PostgreSQL, run the way users run it with sync.once=true.
 */
class BatchSyncEndToEndTest {
    private static final String SCHEMAS = "public,sales,Odd Schema";
    /** Every table of the fixture, as schema/table pairs (partitions excluded: the root stands for them). */
    private static final List<String[]> TABLES = List.of(
            new String[] {"public", "customers"}, new String[] {"sales", "customers"}, new String[] {"public", "all_types"},
            new String[] {"Odd Schema", "Select"}, new String[] {"public", "keyless"}, new String[] {"public", "empty_table"},
            new String[] {"public", "measurements"}, new String[] {"public", "shaped"});

    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    private static int run(Map<String, String> env) {
        return PgSourceMain.run(env, new Properties());
    }

    @Test
    void fullTableSyncToPostgresCopiesEveryRowAndValueExactly() throws Exception {
        String source = SourceFixture.createSource(pg, "e2e_full_src");
        String target = pg.createDatabase("e2e_full_dst");
        Map<String, String> env = postgresDestination(SourceFixture.env(pg, source, SCHEMAS), target);
        env.put("SOURCE_BATCH_FETCH_LIMIT", "7");

        assertThat(run(env)).isZero();
        assertSameRows(source, target);

        // a second full run converges again after changes (upserts, no duplicates; keyless table re-copied)
        SourceFixture.execute(pg, source, """
                UPDATE public.customers SET name = 'renamed' WHERE id <= 10;
                INSERT INTO sales.customers (id, region) VALUES (1000, 'new');
                INSERT INTO public.keyless VALUES (3, 'three');""");
        assertThat(run(env)).isZero();
        assertSameRows(source, target);
        try (Connection c = pg.connect(target)) {
            assertThat(TableCompare.columns(c, "public", "shaped")).as("generated columns are copied")
                    .containsExactly("id", "price", "qty", "total", "note");
            assertThat(SourceFixture.query(c, "SELECT attname FROM pg_attribute WHERE attrelid = 'public.shaped'::regclass"
                    + " AND attgenerated = 's'")).as("and computed at the destination").containsExactly("total");
        }
    }

    @Test
    void incrementalSyncReadsOnlyWhatIsNewAndConverges() throws Exception {
        String source = SourceFixture.createSource(pg, "e2e_inc_src");
        String target = pg.createDatabase("e2e_inc_dst");
        Map<String, String> env = postgresDestination(SourceFixture.env(pg, source, "public,sales"), target);
        env.put("SOURCE_TABLES", "public.customers,sales.customers");
        env.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        env.put("SOURCE_REPLICATION_KEY", "updated_at");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "50");

        assertThat(run(env)).isZero();
        SourceFixture.execute(pg, source, """
                UPDATE public.customers SET name = 'changed', updated_at = now() WHERE id % 10 = 0;
                INSERT INTO sales.customers (id, region, updated_at) SELECT g, 'late', now() FROM generate_series(500, 620) g;""");
        assertThat(run(env)).isZero();
        for (String[] t : List.of(new String[] {"public", "customers"}, new String[] {"sales", "customers"})) {
            assertSameTable(source, target, t[0], t[1]);
        }
    }

    @Test
    void aRunStoppedByTheDestinationResumesAfterTheLastCommittedPage() throws Exception {
        String source = SourceFixture.createSource(pg, "e2e_resume_src");
        String target = pg.createDatabase("e2e_resume_dst");
        // the destination rejects a row of the third page
        SourceFixture.execute(pg, target, """
                CREATE TABLE public.customers (id bigint PRIMARY KEY, name text, updated_at timestamptz NOT NULL,
                  CONSTRAINT no_120 CHECK (name <> 'public customer 120'))""");
        Map<String, String> env = postgresDestination(SourceFixture.env(pg, source, "public"), target);
        env.put("SOURCE_TABLES", "public.customers");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "50");

        assertThat(run(env)).isEqualTo(1);
        assertThat(count(target, "public.customers")).as("the two committed pages").isEqualTo(100);

        // mark a row of the committed pages: a resumed run does not read it again, a restarted run would
        SourceFixture.execute(pg, target, "ALTER TABLE public.customers DROP CONSTRAINT no_120; DELETE FROM public.customers WHERE id = 1");
        assertThat(run(env)).isZero();
        assertThat(count(target, "public.customers")).as("resumed at the bookmark: pages 3 to 5, nothing twice").isEqualTo(249);

        // the next run starts over and converges
        assertThat(run(env)).isZero();
        assertSameTable(source, target, "public", "customers");
    }

    @Test
    void incrementalSyncToJsonLinesAppendsOnlyNewVersions(@TempDir Path dir) throws Exception {
        String source = SourceFixture.createSource(pg, "e2e_incjsonl_src");
        Map<String, String> env = SourceFixture.env(pg, source, "public,sales");
        env.put("SOURCE_TABLES", "public.customers,sales.customers");
        env.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        env.put("SOURCE_REPLICATION_KEY", "updated_at");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "40");
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", dir.toString());

        assertThat(run(env)).isZero();
        assertThat(readEnvelopes(dir).get("public.customers")).hasSize(250);
        SourceFixture.execute(pg, source, "UPDATE public.customers SET name = 'v2', updated_at = now() WHERE id <= 30");
        assertThat(run(env)).isZero();

        Map<String, List<JsonNode>> byTable = readEnvelopes(dir);
        assertThat(byTable.get("sales.customers")).as("nothing new in sales.customers").hasSize(180);
        List<JsonNode> publicRows = byTable.get("public.customers");
        assertThat(publicRows).hasSize(280);
        assertThat(publicRows.subList(250, 280)).allSatisfy(e -> assertThat(e.get("after").get("name").asText()).isEqualTo("v2"));
    }

    private static long count(String db, String table) throws Exception {
        try (Connection c = pg.connect(db); var s = c.createStatement(); var rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void fullTableSyncToJsonLinesWritesOneExactEnvelopePerRow(@TempDir Path dir) throws Exception {
        String source = SourceFixture.createSource(pg, "e2e_jsonl_src");
        Map<String, String> env = SourceFixture.env(pg, source, SCHEMAS);
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", dir.toString());

        assertThat(run(env)).isZero();

        Map<String, List<JsonNode>> byTable = readEnvelopes(dir);
        assertThat(byTable.get("public.customers")).hasSize(250);
        assertThat(byTable.get("sales.customers")).hasSize(180);
        assertThat(byTable.get("Odd Schema.Select")).hasSize(2);
        assertThat(byTable.get("public.measurements")).hasSize(300);
        assertThat(byTable.get("public.keyless").stream().filter(e -> e.get("op").asText().equals("r"))).hasSize(4);
        JsonNode first = byTable.get("public.all_types").stream().filter(e -> e.get("op").asText().equals("r"))
                .filter(e -> e.get("after").get("id").asInt() == 1).findFirst().orElseThrow();
        JsonNode after = first.get("after");
        assertThat(after.get("c_int8").asText()).isEqualTo("9223372036854775807");
        assertThat(after.get("c_numeric").decimalValue().toPlainString())
                .isEqualTo("123456789012345678901234567890.123456789012345678901234567890");
        assertThat(after.get("c_numeric_scaled").decimalValue().toPlainString()).isEqualTo("1.500000");
        assertThat(after.get("c_bytea").asText()).isEqualTo("AP8Q");
        assertThat(java.time.OffsetDateTime.parse(after.get("c_timestamptz").asText()).toInstant())
                .isEqualTo(java.time.Instant.parse("2024-02-29T06:30:00.5Z"));
        assertThat(after.get("c_timestamptz").asText()).endsWith("Z");
        assertThat(after.get("c_jsonb").get("é").asText()).isEqualTo("ü");
        assertThat(after.get("c_text").asText()).isEqualTo("héllo \"wörld\" \\ back\\slash\ntab\tend");
        assertThat(after.get("c_int_array").toString()).isEqualTo("[1,null,3]");
        assertThat(first.get("source").get("schema").asText()).isEqualTo("public");
        assertThat(first.get("source").get("table").asText()).isEqualTo("all_types");
        JsonNode second = byTable.get("public.all_types").stream().filter(e -> e.get("op").asText().equals("r"))
                .filter(e -> e.get("after").get("id").asInt() == 2).findFirst().orElseThrow().get("after");
        assertThat(second.get("c_numeric").asText()).isEqualTo("NaN");
        assertThat(second.get("c_date").asText()).isEqualTo("Infinity");
    }

    private static Map<String, List<JsonNode>> readEnvelopes(Path dir) throws Exception {
        ObjectMapper mapper = new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .setNodeFactory(com.fasterxml.jackson.databind.node.JsonNodeFactory.withExactBigDecimals(true));
        Map<String, List<JsonNode>> byTable = new HashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".jsonl")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    JsonNode n = mapper.readTree(line);
                    String table = n.get("source").get("schema").asText() + "." + n.get("source").get("table").asText();
                    byTable.computeIfAbsent(table, k -> new ArrayList<>()).add(n);
                }
            }
        }
        return byTable;
    }

    static Map<String, String> postgresDestination(Map<String, String> env, String targetDb) {
        return SourceFixture.postgresDestination(pg, env, targetDb);
    }

    private static void assertSameRows(String source, String target) throws Exception {
        for (String[] t : TABLES) {
            assertSameTable(source, target, t[0], t[1]);
        }
    }

    private static void assertSameTable(String source, String target, String schema, String table) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            List<String> columns = TableCompare.columns(s, schema, table);
            String q = SourceFixture.qualified(schema, table);
            List<String> expected = SourceFixture.rows(s, q, columns);
            assertThat(SourceFixture.rows(d, q, columns)).as(schema + "." + table).isEqualTo(expected);
        }
    }
}
