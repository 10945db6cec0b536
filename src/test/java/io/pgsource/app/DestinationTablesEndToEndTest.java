package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.change.TableId;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What an ordinary schema holds reaches a table destination exactly, through the batch query (FULL_TABLE) and log
 * replication (LOG_BASED, copy then stream), and the settings that would mix tables up are refused at start:
 * generated columns, a table keyed by its replica identity index, user-defined composite, range and domain types, two
 * source tables mapped onto one destination table, and the source database itself as destination.
 */
class DestinationTablesEndToEndTest {
    /** Tables of every shape this test is about; {@code unique_only} (no key for the WAL) is captured by FULL_TABLE only. */
    private static final String SCHEMA = """
            CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TYPE addr AS (street text, zip int);
            CREATE TYPE tagged AS (label text, feeling mood, at addr);
            CREATE TYPE floatrange AS RANGE (subtype = float8);
            CREATE DOMAIN home AS addr;
            CREATE FUNCTION only_here(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 3';

            CREATE TABLE rect (id int PRIMARY KEY, w int, h int, area int GENERATED ALWAYS AS (w * h) STORED, note text,
                label text GENERATED ALWAYS AS ('rect ' || id::text) STORED);
            INSERT INTO rect (id, w, h, note) SELECT g, g, g + 1, 'n' || g FROM generate_series(1, 40) g;
            INSERT INTO rect (id, w, h) VALUES (41, NULL, 2);

            CREATE TABLE priced (id int PRIMARY KEY, p int, tripled int GENERATED ALWAYS AS (only_here(p)) STORED);
            INSERT INTO priced (id, p) VALUES (1, 10), (2, 20);

            CREATE TABLE coded (id int, region text NOT NULL, code text NOT NULL, v int);
            CREATE UNIQUE INDEX coded_key ON coded (region, code);
            ALTER TABLE coded REPLICA IDENTITY USING INDEX coded_key;
            INSERT INTO coded SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, chr(96 + g), g * 10 FROM generate_series(1, 20) g;

            CREATE TABLE unique_only (code text NOT NULL UNIQUE, v int);
            INSERT INTO unique_only VALUES ('a', 1), ('b', 2), ('c', 3);

            CREATE TABLE typed (id int PRIMARY KEY, home addr, homes addr[], span floatrange, spans floatrange[], domained home,
                t tagged, ts tagged[]);
            INSERT INTO typed VALUES
              (1, ROW('Main St', 12345), ARRAY[ROW('a b', 1), ROW('x', NULL)]::addr[], '[1.5,2.5)', ARRAY['empty', '(,5]']::floatrange[],
               ROW('home, "sweet" \\ home', 7), ROW('t1', 'happy', ROW('in', 1)), ARRAY[ROW('t2', 'sad', NULL)::tagged, NULL]),
              (2, ROW('', NULL), '{}', 'empty', NULL, NULL, ROW(NULL, NULL, NULL), '{}'),
              (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
            """;

    private static final List<String> COMPARED = List.of("rect", "coded", "typed");

    private static final String CHANGES = """
            UPDATE rect SET w = w + 100 WHERE id % 2 = 0;
            INSERT INTO rect (id, w, h, note) VALUES (100, 7, 8, 'new');
                        UPDATE priced SET p = p + 1 WHERE id = 1;
            INSERT INTO priced (id, p) VALUES (100, 5);
            UPDATE coded SET v = v + 1 WHERE code = 'a';
            INSERT INTO coded VALUES (99, 'eu', 'new', 1);
            UPDATE typed SET home = ROW('moved, "x"', 2), ts = ts || ROW('n', 'ok', ROW('s', 1))::tagged,
                span = '[3,4]' WHERE id = 1;
            INSERT INTO typed (id, home, homes, span, spans, domained, t, ts) VALUES (4, ROW('(paren)', 4), ARRAY[ROW('{brace}', 4)]::addr[],
                '(,)', NULL, ROW('d', 4), ROW('t4', 'ok', ROW('in', 4)), NULL);
            """;

    /** Deletes and a key change, which log replication delivers and the batch query (FULL_TABLE) cannot see. */
    private static final String DELETES = "DELETE FROM rect WHERE id = 3; DELETE FROM coded WHERE code = 'c';"
            + " UPDATE coded SET code = 'zz' WHERE code = 'b'; DELETE FROM typed WHERE id = 3;";

    private static TestPostgres pg;
    private static int major;

    @BeforeAll
    static void server() throws SQLException {
        pg = TestPostgres.server();
        try (Connection c = pg.connect("postgres")) {
            major = c.getMetaData().getDatabaseMajorVersion();
        }
    }

    private record Outcome(int exitCode, List<String> errors, List<String> warnings) {
    }

    private static Outcome run(Map<String, String> env) {
        try (LogCapture logs = new LogCapture()) {
            int code = PgSourceMain.run(env, new Properties());
            return new Outcome(code, logs.lines(Level.ERROR), logs.lines(Level.WARN));
        }
    }

    private static Map<String, String> env(String source, String target, String method, String tables) {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        if (target != null) {
            SourceFixture.postgresDestination(pg, env, target);
        }
        env.put("SOURCE_REPLICATION_METHOD", method);
        env.put("SOURCE_TABLES", tables);
        env.put("SOURCE_REPLICATION_SLOT", source);
        env.put("SOURCE_PUBLICATION_NAME", source + "_pub");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "7");
        return env;
    }

    private static String source(String prefix) throws SQLException {
        String db = pg.createDatabase(prefix);
        SourceFixture.execute(pg, db, SCHEMA);
        if (major >= 14) {
            // the multirange type PostgreSQL made for floatrange
            SourceFixture.execute(pg, db, "ALTER TABLE typed ADD COLUMN spanset floatmultirange;"
                    + " UPDATE typed SET spanset = '{[1,2), [3,4]}' WHERE id = 1; UPDATE typed SET spanset = '{}' WHERE id = 2");
        }
        return db;
    }

    /**
     * On PostgreSQL 18 the publication (which pgsource then uses as it is) publishes stored generated columns, so the
     * stream carries their values; before 18 pgsource creates its own, and the stream lacks them.
     */
    private static void publishGeneratedColumnsOn18(String source, String tables) throws SQLException {
        if (major >= 18) {
            SourceFixture.execute(pg, source, "CREATE PUBLICATION " + source + "_pub FOR TABLE " + tables
                    + " WITH (publish_generated_columns = stored)");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"FULL_TABLE", "LOG_BASED"})
    void generatedColumnsReplicaIdentityKeysAndUserDefinedTypesArriveExactly(String method) throws Exception {
        String source = source("dt_" + method.toLowerCase());
        String target = pg.createDatabase("dt_" + method.toLowerCase() + "_dst");
        boolean batch = method.equals("FULL_TABLE");
        Map<String, String> env = env(source, target, method, "public.rect,public.priced,public.coded,public.typed"
                + (batch ? ",public.unique_only" : ""));
        if (!batch) {
            publishGeneratedColumnsOn18(source, "rect, priced, coded, typed");
        }

        Outcome first = run(env);
        assertThat(first.exitCode()).as(first.errors().toString()).isZero();
        assertEqual(source, target, batch);
        assertThat(first.warnings()).as("the expression of priced.tripled needs a function the destination lacks")
                .anySatisfy(w -> assertThat(w).contains("\"public\".\"priced\"").contains("\"tripled\"")
                        .contains("public.only_here(integer) does not exist").contains("plain column"));
        assertThat(SourceFixture.query(pg, target, "SELECT attrelid::regclass || '.' || attname || ' ' || attgenerated::text FROM pg_attribute"
                + " WHERE attrelid IN ('public.rect'::regclass, 'public.priced'::regclass) AND attname IN ('area', 'label', 'tripled')"
                + " ORDER BY 1")).as("computed at the destination from the same expression where it can be")
                .containsExactly("priced.tripled ", "rect.area s", "rect.label s");
        assertThat(SourceFixture.query(pg, target, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                + " AND a.attnum = ANY (i.indkey) WHERE i.indrelid = 'public.coded'::regclass AND i.indisprimary"
                + " ORDER BY array_position(i.indkey::int2[], a.attnum)")).as("keyed by the replica identity index")
                .containsExactly("region", "code");
        assertThat(SourceFixture.query(pg, target, "SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute"
                + " WHERE attrelid = 'public.typed'::regclass AND attnum > 1 ORDER BY attnum")).as("user-defined types as their text form")
                .containsExactlyElementsOf(major >= 14
                        ? List.of("home text", "homes text[]", "span text", "spans text[]", "domained text", "t text", "ts text[]", "spanset text")
                        : List.of("home text", "homes text[]", "span text", "spans text[]", "domained text", "t text", "ts text[]"));

        // a table without key is copied whole on every FULL_TABLE run, so its deletes arrive too
        SourceFixture.execute(pg, source, CHANGES + (batch ? "UPDATE unique_only SET v = 20 WHERE code = 'b'; DELETE FROM unique_only"
                + " WHERE code = 'c'; INSERT INTO unique_only VALUES ('d', 4);" : DELETES));
        Outcome second = run(env);
        assertThat(second.exitCode()).as(second.errors().toString()).isZero();
        assertEqual(source, target, batch);
        if (batch || streamCarriesGeneratedColumns(source)) {
            assertPricedEqual(source, target);
        } else {
            // the documented limit of a generated column the destination cannot compute: the WAL before PostgreSQL 18 lacks
            // its values, so a streamed insert leaves it NULL and a streamed update keeps the old value
            assertThat(SourceFixture.query(pg, target, "SELECT id || ' ' || p || ' ' || coalesce(tripled::text, 'null') FROM priced ORDER BY id"))
                    .containsExactly("1 11 30", "2 20 60", "100 5 null");
        }
    }

    private static void assertEqual(String source, String target, boolean withUniqueOnly) throws SQLException {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            List<String> tables = new ArrayList<>(COMPARED);
            if (withUniqueOnly) {
                tables.add("unique_only");
            }
            TableCompare.assertEqual(s, "public", d, "public", tables, "");
        }
    }

    private static void assertPricedEqual(String source, String target) throws SQLException {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "public", d, "public", List.of("priced"), "");
        }
    }

    /** Whether log replication carries stored generated columns: PostgreSQL 18 and a publication that publishes them. */
    private static boolean streamCarriesGeneratedColumns(String source) throws SQLException {
        return major >= 18 && SourceFixture.query(pg, source, "SELECT pubgencols::text FROM pg_publication WHERE pubname = '"
                + source + "_pub'").equals(List.of("s"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"FULL_TABLE", "LOG_BASED"})
    void jsonlEventsCarryGeneratedColumnsWheneverTheSourceSendsThem(String method, @TempDir Path dir) throws Exception {
        String source = source("dt_jsonl_" + method.toLowerCase());
        Map<String, String> env = env(source, null, method, "public.rect");
        if (method.equals("LOG_BASED")) {
            publishGeneratedColumnsOn18(source, "rect");
        }
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", dir.toString());
        assertThat(run(env).exitCode()).isZero();
        SourceFixture.execute(pg, source, "UPDATE rect SET w = 1000 WHERE id = 2; INSERT INTO rect (id, w, h) VALUES (200, 2, 3)");
        assertThat(run(env).exitCode()).isZero();

        List<JsonNode> lines = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(dir.resolve("public.rect.jsonl"))) {
            lines.add(json.readTree(line));
        }
        List<JsonNode> read = lines.stream().filter(l -> l.get("op").asText().equals("r")).toList();
        // FULL_TABLE reads every row on each run, LOG_BASED copies once
        assertThat(read).hasSize(method.equals("FULL_TABLE") ? 41 + 42 : 41).allSatisfy(l -> {
            JsonNode row = l.get("after");
            assertThat(row.get("area").isNull() ? null : row.get("area").asLong())
                    .isEqualTo(row.get("w").isNull() ? null : row.get("w").asLong() * row.get("h").asLong());
            assertThat(row.get("label").asText()).isEqualTo("rect " + row.get("id").asText());
        });
        List<JsonNode> changed = lines.stream().filter(l -> !l.get("op").asText().equals("r") && !l.get("op").asText().equals("t")).toList();
        if (method.equals("FULL_TABLE")) {
            assertThat(changed).isEmpty();
            assertThat(read).anySatisfy(l -> assertThat(l.get("after").get("area").asLong()).isEqualTo(3000));
        } else if (streamCarriesGeneratedColumns(source)) {
            assertThat(changed).extracting(l -> l.get("after").get("area").asLong()).containsExactly(3000L, 6L);
        } else {
            // log replication before PostgreSQL 18 (or without publish_generated_columns = stored): the events lack them
            assertThat(changed).hasSize(2).allSatisfy(l -> assertThat(l.get("after").has("area")).isFalse());
        }
    }

    @Test
    void virtualGeneratedColumnsAreReadByTheBatchQuery(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(major >= 18, "VIRTUAL generated columns exist from PostgreSQL 18 on; this server is " + major);
        String source = pg.createDatabase("dt_virtual");
        SourceFixture.execute(pg, source, """
                CREATE TABLE v (id int PRIMARY KEY, w int, twice int GENERATED ALWAYS AS (w * 2) VIRTUAL);
                INSERT INTO v (id, w) SELECT g, g FROM generate_series(1, 10) g;""");
        String target = pg.createDatabase("dt_virtual_dst");
        assertThat(run(env(source, target, "FULL_TABLE", "public.v")).exitCode()).isZero();
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "public", d, "public", List.of("v"), "");
        }
        Map<String, String> jsonl = env(source, null, "FULL_TABLE", "public.v");
        jsonl.put("DESTINATION", "jsonl");
        jsonl.put("DESTINATION_DIRECTORY", dir.toString());
        assertThat(run(jsonl).exitCode()).isZero();
        assertThat(Files.readAllLines(dir.resolve("public.v.jsonl"))).hasSize(10).allSatisfy(l -> assertThat(l).contains("\"twice\":"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"FULL_TABLE", "LOG_BASED"})
    void twoSourceTablesNeverShareADestinationTable(String method) throws Exception {
        String source = pg.createDatabase("dt_names_" + method.toLowerCase());
        SourceFixture.execute(pg, source, """
                CREATE SCHEMA sales;
                CREATE TABLE public.orders (id int PRIMARY KEY, who text);
                CREATE TABLE sales.orders (id int PRIMARY KEY, amount numeric);
                INSERT INTO public.orders VALUES (1, 'public one'), (2, 'public two');
                INSERT INTO sales.orders VALUES (1, 10.50), (3, 30);""");
        String target = pg.createDatabase("dt_names_" + method.toLowerCase() + "_dst");
        Map<String, String> env = env(source, target, method, "public.orders,sales.orders");
        env.put("SOURCE_SCHEMA", "public,sales");
        env.put("DESTINATION_SCHEMA", "analytics");

        Outcome refused = run(env);
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.errors()).filteredOn(e -> e.contains("\"sales\".\"orders\"")).singleElement().satisfies(e -> assertThat(e)
                .contains("destination.schema=analytics maps both \"public\".\"orders\" and \"sales\".\"orders\" onto the destination"
                        + " table \"analytics\".\"orders\"")
                .contains("destination.table_name=${schema}_${table}"));
        assertThat(SourceFixture.query(pg, target, "SELECT 1 FROM pg_namespace WHERE nspname = 'analytics'")).as("nothing written").isEmpty();
        assertThat(SourceFixture.query(pg, source, "SELECT 1 FROM pg_replication_slots WHERE slot_name = '" + source + "'"))
                .as("refused before any slot is made").isEmpty();

        env.put("DESTINATION_TABLE_NAME", "${schema}_${table}");
        assertThat(run(env).exitCode()).isZero();
        SourceFixture.execute(pg, source, "UPDATE public.orders SET who = 'changed' WHERE id = 1; INSERT INTO sales.orders VALUES (4, 4);"
                + (method.equals("LOG_BASED") ? " DELETE FROM sales.orders WHERE id = 1;" : ""));
        assertThat(run(env).exitCode()).isZero();
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, new TableId("public", "orders"), d, new TableId("analytics", "public_orders"));
            TableCompare.assertEqual(s, new TableId("sales", "orders"), d, new TableId("analytics", "sales_orders"));
        }
        assertThat(SourceFixture.query(pg, target, "SELECT relname FROM pg_class WHERE relnamespace = 'analytics'::regnamespace"
                + " AND relkind = 'r' ORDER BY 1")).containsExactly("public_orders", "sales_orders");
    }

    @Test
    void aTableNamePatternThatIsNotOneIsRefused() throws Exception {
        String source = pg.createDatabase("dt_patterns");
        SourceFixture.execute(pg, source, "CREATE TABLE a_rather_long_table_name_that_fills_most_of_the_limit (id int PRIMARY KEY)");
        String target = pg.createDatabase("dt_patterns_dst");
        Map<String, String> env = env(source, target, "FULL_TABLE", "");

        env.put("DESTINATION_TABLE_NAME", "${schema}_${name}");
        Outcome unknown = run(env);
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.errors()).anySatisfy(e -> assertThat(e).contains("destination.table_name=${schema}_${name} uses ${name}")
                .contains("${schema} and ${table}"));

        env.put("DESTINATION_TABLE_NAME", "${schema}_${table");
        assertThat(run(env).errors()).anySatisfy(e -> assertThat(e).contains("without its closing }"));

        env.put("DESTINATION_TABLE_NAME", "copy_of_${schema}_${table}");
        Outcome tooLong = run(env);
        assertThat(tooLong.exitCode()).isEqualTo(2);
        assertThat(tooLong.errors()).anySatisfy(e -> assertThat(e).contains("longer than the 63 bytes PostgreSQL keeps")
                .contains("\"public\".\"a_rather_long_table_name_that_fills_most_of_the_limit\""));
    }

    @ParameterizedTest
    @ValueSource(strings = {"FULL_TABLE", "LOG_BASED"})
    void theSourceDatabaseItselfIsRefusedAsDestinationUnlessTheCopiesGoElsewhere(String method) throws Exception {
        String source = pg.createDatabase("dt_self_" + method.toLowerCase());
        SourceFixture.execute(pg, source, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 30) g;");
        Map<String, String> env = env(source, source, method, "public.t");
        // the same server under another name than the source's, and the same database
        String otherHost = pg.host().equals("localhost") ? "127.0.0.1" : "localhost";
        env.put("DESTINATION_URL", pg.jdbcUrl(source).replace("//" + pg.host() + ":", "//" + otherHost + ":"));

        Outcome refused = run(env);
        assertThat(refused.exitCode()).isEqualTo(2);
        assertThat(refused.errors()).filteredOn(e -> e.contains("source database")).singleElement().satisfies(e -> assertThat(e)
                .contains("destination.url points at the source database \"" + source + "\" itself")
                .contains("the destination table of \"public\".\"t\" is the captured table \"public\".\"t\"")
                .contains("Point destination.url at another database, or set destination.schema"));
        assertThat(SourceFixture.query(pg, source, "SELECT 1 FROM pg_replication_slots WHERE slot_name = '" + source + "'"))
                .as("refused before any slot is made").isEmpty();

        env.put("DESTINATION_SCHEMA", "public");
        env.put("DESTINATION_TABLE_NAME", "${table}_copy");
        env.put("SOURCE_TABLES", "");
        Outcome captured = run(env);
        assertThat(captured.exitCode()).isEqualTo(2);
        assertThat(captured.errors()).anySatisfy(e -> assertThat(e).contains("would be \"public\".\"t_copy\", in a schema pgsource captures"));

        // into a schema pgsource does not capture, the source database may hold the copies
        env.put("DESTINATION_SCHEMA", "copies");
        env.put("DESTINATION_TABLE_NAME", "");
        env.put("SOURCE_TABLES", "public.t");
        assertThat(run(env).exitCode()).isZero();
        SourceFixture.execute(pg, source, "UPDATE t SET v = 'changed' WHERE id < 5; INSERT INTO t VALUES (31, 'new')"
                + (method.equals("LOG_BASED") ? "; DELETE FROM t WHERE id > 25" : ""));
        assertThat(run(env).exitCode()).isZero();
        try (Connection s = pg.connect(source); Connection d = pg.connect(source)) {
            TableCompare.assertEqual(s, new TableId("public", "t"), d, new TableId("copies", "t"));
        }
    }
}
