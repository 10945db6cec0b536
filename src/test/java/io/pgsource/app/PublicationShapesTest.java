package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LOG_BASED on publications as users write them: pgsource's own publication over a two-level partitioned table,
 * Mage's setup (a slot and a FOR ALL TABLES publication made by hand) over a partitioned table and a keyless log table,
 * FOR TABLE of a partitioned root without publish_via_partition_root, FOR TABLES IN SCHEMA, a keyless table in a
 * publication pgsource creates, row filters and column lists, and a setup problem found before anything is copied.
 * Every run is a sync.once run; the destination must equal what the publications publish, row for row.
 */
class PublicationShapesTest {
    private static TestPostgres pg;
    private static int serverVersion;

    @BeforeAll
    static void server() throws Exception {
        pg = TestPostgres.server();
        try (Connection c = pg.connect("postgres")) {
            serverVersion = c.getMetaData().getDatabaseMajorVersion();
        }
    }

    /**
     * A partitioned table of two levels (by year, then 2024 by region), one leaf whose columns are in another order than
     * the root's, a leaf in another schema, a keyless log table and a keyed table.
     */
    private static final String SCHEMA = """
            CREATE SCHEMA app;
            CREATE SCHEMA archive;
            CREATE TABLE app.measurements (id int NOT NULL, region text NOT NULL, at date NOT NULL, v numeric, note text,
                PRIMARY KEY (id, region, at)) PARTITION BY RANGE (at);
            CREATE TABLE app.measurements_2024 PARTITION OF app.measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
                PARTITION BY LIST (region);
            CREATE TABLE app.measurements_2024_eu PARTITION OF app.measurements_2024 FOR VALUES IN ('eu');
            CREATE TABLE app.measurements_2024_other PARTITION OF app.measurements_2024 DEFAULT;
            CREATE TABLE app.measurements_2025 (note text, v numeric, at date NOT NULL, region text NOT NULL, id int NOT NULL);
            ALTER TABLE app.measurements ATTACH PARTITION app.measurements_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE TABLE archive.measurements_2023 PARTITION OF app.measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
            CREATE TABLE app.events_log (at timestamptz NOT NULL DEFAULT '2025-01-01 00:00Z', level text, msg text);
            CREATE TABLE app.accounts (id int PRIMARY KEY, balance int NOT NULL);
            INSERT INTO app.measurements SELECT g, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'us' END,
                DATE '2023-01-01' + (g * 7 % 1000), g * 1.5, 'n' || g FROM generate_series(1, 300) g;
            INSERT INTO app.events_log (level, msg) SELECT 'info', 'boot ' || g FROM generate_series(1, 50) g;
            INSERT INTO app.events_log (level, msg) SELECT 'info', 'boot ' || g FROM generate_series(1, 5) g;
            INSERT INTO app.accounts SELECT g, 100 FROM generate_series(1, 40) g;
            """;

    /** Changes in every leaf, a row moved across partitions, a partition created and one attached, log lines. */
    private static final String CHANGES = """
            INSERT INTO app.measurements SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END,
                DATE '2023-01-01' + (g * 5 % 1000), g, 'new' FROM generate_series(1001, 1200) g;
            UPDATE app.measurements SET v = v + 1000, note = 'updated' WHERE id % 7 = 0;
            DELETE FROM app.measurements WHERE id % 11 = 0;
            UPDATE app.measurements SET at = DATE '2025-06-01' WHERE id = 3 AND region = 'eu';
            CREATE TABLE app.measurements_2026 PARTITION OF app.measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            INSERT INTO app.measurements VALUES (5001, 'eu', '2026-02-01', 1, 'in a new partition');
            CREATE TABLE app.measurements_2027 (LIKE app.measurements);
            ALTER TABLE app.measurements ATTACH PARTITION app.measurements_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
            INSERT INTO app.measurements VALUES (5002, 'us', '2027-03-01', 2, 'in an attached partition');
            INSERT INTO app.events_log (level, msg) SELECT 'warn', 'line ' || g FROM generate_series(1, 30) g;
            INSERT INTO app.events_log (level, msg) VALUES ('warn', 'line 1');
            UPDATE app.accounts SET balance = balance - 10 WHERE id <= 10;
            DELETE FROM app.accounts WHERE id = 40;
            """;

    /** More of the same, while streaming: a partition created in another schema, one attached, rows in them. */
    private static final String MORE_CHANGES = """
            INSERT INTO app.measurements SELECT g, 'eu', DATE '2024-01-01' + (g % 700), g, 'more' FROM generate_series(2001, 2100) g;
            UPDATE app.measurements SET note = 'again' WHERE id % 5 = 0;
            DELETE FROM app.measurements WHERE id % 13 = 0;
            CREATE TABLE archive.measurements_2028 PARTITION OF app.measurements FOR VALUES FROM ('2028-01-01') TO ('2029-01-01');
            INSERT INTO app.measurements VALUES (6001, 'eu', '2028-02-01', 1, 'in a new partition elsewhere');
            CREATE TABLE app.measurements_2029 (LIKE app.measurements);
            ALTER TABLE app.measurements ATTACH PARTITION app.measurements_2029 FOR VALUES FROM ('2029-01-01') TO ('2030-01-01');
            INSERT INTO app.measurements VALUES (6002, 'us', '2029-03-01', 2, 'in an attached partition');
            INSERT INTO app.events_log (level, msg) SELECT 'error', 'more ' || g FROM generate_series(1, 10) g;
            UPDATE app.accounts SET balance = balance + 1;
            """;

    private static final List<String> ALL = List.of("accounts", "events_log", "measurements");

    private static Map<String, String> env(String source, String target, String slot, String publication) {
        Map<String, String> env = SourceFixture.env(pg, source, "app");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", publication);
        env.put("SOURCE_BATCH_FETCH_LIMIT", "70");
        return SourceFixture.postgresDestination(pg, env, target);
    }

    /** A slot name unique on the server (slots are per cluster, a server given by environment outlives the run). */
    private static String slot(String prefix) {
        return prefix + "_" + ProcessHandle.current().pid();
    }

    private static void sync(Map<String, String> env) {
        assertThat(PgSourceMain.run(env, new Properties())).as("sync.once exit code").isZero();
    }

    private static void assertEqual(String source, String target, List<String> tables) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "app", d, "app", tables, "");
        }
    }

    /** The tables pgsource created at the destination, besides its own positions table. */
    private static List<String> destinationTables(String target) throws Exception {
        return SourceFixture.query(pg, target, "SELECT schemaname || '.' || tablename FROM pg_tables"
                + " WHERE schemaname NOT IN ('pg_catalog', 'information_schema', '_pgsource') AND schemaname !~ '^pg_temp' ORDER BY 1");
    }

    @Test
    void pgsourcesOwnPublicationPublishesAPartitionedTableThroughItsRoot() throws Exception {
        String source = pg.createDatabase("pub_own_src");
        String target = pg.createDatabase("pub_own_dst");
        SourceFixture.execute(pg, source, SCHEMA + "ALTER TABLE app.events_log REPLICA IDENTITY FULL;");
        Map<String, String> env = env(source, target, slot("pub_own"), "pub_own");

        sync(env);
        assertThat(SourceFixture.query(pg, source, "SELECT pubviaroot FROM pg_publication WHERE pubname = 'pub_own'"))
                .as("a partitioned table is published through its root").containsExactly("t");
        assertEqual(source, target, ALL);

        SourceFixture.execute(pg, source, CHANGES);
        sync(env);
        assertEqual(source, target, ALL);
        assertThat(destinationTables(target)).containsExactly("app.accounts", "app.events_log", "app.measurements");
        assertThat(SourceFixture.query(pg, target, "SELECT note FROM app.measurements WHERE id IN (5001, 5002) ORDER BY id"))
                .containsExactly("in a new partition", "in an attached partition");
    }

    /**
     * Mage's documented setup: the slot first, then a FOR ALL TABLES publication (publish_via_partition_root false), so
     * partitions' changes arrive under the leaves' names, and a keyless log table is published with its updates.
     */
    @Test
    void magesSetupWithAPartitionedTableAndAKeylessLog() throws Exception {
        String source = pg.createDatabase("pub_mage_src");
        String target = pg.createDatabase("pub_mage_dst");
        SourceFixture.execute(pg, source, SCHEMA);
        String slot = slot("pub_mage_slot");
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        SourceFixture.execute(pg, source, "CREATE PUBLICATION pub_mage FOR ALL TABLES");
        Map<String, String> env = env(source, target, slot, "pub_mage");
        env.put("SOURCE_CREATE_SLOT", "false");
        env.put("SOURCE_SLOT_CHECK_INTERVAL", "1s");
        // changes after the slot's position but before the first run: the copy sees them, the stream replays them
        SourceFixture.execute(pg, source, CHANGES);

        try (LogCapture logs = new LogCapture()) {
            sync(env);
            assertEqual(source, target, ALL);
            SourceFixture.execute(pg, source, MORE_CHANGES);
            sync(env);
            assertEqual(source, target, ALL);
            assertThat(destinationTables(target)).as("no table for a partition").containsExactly("app.accounts", "app.events_log",
                    "app.measurements");
            List<String> warnings = logs.lines(Level.WARN);
            assertThat(warnings.stream().filter(w -> w.contains("\"app\".\"events_log\" has no primary key or replica identity")))
                    .as("the keyless log table: one warning per run, with the fix").hasSize(2)
                    .allSatisfy(w -> assertThat(w).contains("PostgreSQL rejects UPDATE and DELETE on it")
                            .contains("ALTER TABLE \"app\".\"events_log\" REPLICA IDENTITY FULL;"));
            assertThat(logs.text()).doesNotContain("taken out of publication").doesNotContain("ADD TABLE");
        }
        assertThat(SourceFixture.query(pg, source, "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'pub_mage%'"))
                .as("a FOR ALL TABLES publication covers the keyless table: no second publication").containsExactly("1");
    }

    @Test
    void magesSetupWithSourceTablesStreamsOnlyTheSelectedTablesAndFollowsPartitions() throws Exception {
        String source = pg.createDatabase("pub_sel_src");
        String target = pg.createDatabase("pub_sel_dst");
        SourceFixture.execute(pg, source, SCHEMA);
        String slot = slot("pub_sel_slot");
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        SourceFixture.execute(pg, source, "CREATE PUBLICATION pub_sel FOR ALL TABLES");
        Map<String, String> env = env(source, target, slot, "pub_sel");
        env.put("SOURCE_CREATE_SLOT", "false");
        env.put("SOURCE_TABLES", "app.measurements,app.events_log");
        sync(env);
        assertEqual(source, target, List.of("events_log", "measurements"));

        SourceFixture.execute(pg, source, CHANGES + """
                CREATE TABLE app.unselected (id int PRIMARY KEY);
                INSERT INTO app.unselected VALUES (1);
                DELETE FROM app.measurements WHERE at >= '2026-01-01' AND at < '2027-01-01';
                ALTER TABLE app.measurements DETACH PARTITION app.measurements_2026;
                INSERT INTO app.measurements_2026 VALUES (7001, 'eu', '2026-05-01', 1, 'after the detach');
                """);
        sync(env);
        assertEqual(source, target, List.of("events_log", "measurements"));
        assertThat(destinationTables(target)).as("no unselected table, no partition, nothing of the detached one")
                .containsExactly("app.events_log", "app.measurements");
    }

    @Test
    void forTableOfAPartitionedRootWithoutPublishViaPartitionRoot() throws Exception {
        String source = pg.createDatabase("pub_root_src");
        String target = pg.createDatabase("pub_root_dst");
        SourceFixture.execute(pg, source, SCHEMA + "CREATE PUBLICATION pub_root FOR TABLE app.measurements, app.accounts;");
        Map<String, String> env = env(source, target, slot("pub_root"), "pub_root");
        env.put("SOURCE_TABLES", "app.measurements,app.accounts");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        sync(env);
        assertEqual(source, target, List.of("accounts", "measurements"));
        SourceFixture.execute(pg, source, CHANGES);
        sync(env);
        assertEqual(source, target, List.of("accounts", "measurements"));
        assertThat(destinationTables(target)).containsExactly("app.accounts", "app.measurements");
    }

    @Test
    void forTablesInSchemaAlsoStreamsATableCreatedLaterInTheSchema() throws Exception {
        assumeThat(serverVersion).as("FOR TABLES IN SCHEMA needs PostgreSQL 15; skipped on " + serverVersion).isGreaterThanOrEqualTo(15);
        String source = pg.createDatabase("pub_schema_src");
        String target = pg.createDatabase("pub_schema_dst");
        SourceFixture.execute(pg, source, SCHEMA + "ALTER TABLE app.events_log REPLICA IDENTITY FULL;"
                + " CREATE PUBLICATION pub_schema FOR TABLES IN SCHEMA app;");
        Map<String, String> env = env(source, target, slot("pub_schema"), "pub_schema");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        sync(env);
        assertEqual(source, target, ALL);
        SourceFixture.execute(pg, source, CHANGES + """
                CREATE TABLE app.later (id int PRIMARY KEY, label text);
                INSERT INTO app.later SELECT g, 'row ' || g FROM generate_series(1, 20) g;
                UPDATE app.later SET label = 'changed' WHERE id < 5;""");
        sync(env);
        assertEqual(source, target, List.of("accounts", "events_log", "measurements", "later"));
    }

    /**
     * pgsource creates the publications: the keyless log table goes into a second one that publishes only inserts and
     * truncates, so the application's UPDATE and DELETE on it keep working (they are not streamed, and a warning says
     * so), while its inserts and truncates are streamed.
     */
    @Test
    void aKeylessTableInAPublicationPgsourceCreatesLeavesTheApplicationsUpdatesWorking() throws Exception {
        String source = pg.createDatabase("pub_keyless_src");
        String target = pg.createDatabase("pub_keyless_dst");
        SourceFixture.execute(pg, source, SCHEMA);
        Map<String, String> env = env(source, target, slot("pub_keyless"), "pub_keyless");
        try (LogCapture logs = new LogCapture()) {
            sync(env);
            assertThat(logs.lines(Level.WARN)).anySatisfy(w -> assertThat(w).contains("do not publish UPDATE, DELETE of \"app\".\"events_log\""));
        }
        assertThat(SourceFixture.query(pg, source, "SELECT pubname, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication ORDER BY 1"))
                .containsExactly("pub_keyless|t|t|t|t", "pub_keyless_keyless|t|f|f|t");
        assertThat(SourceFixture.query(pg, source, "SELECT pubname || ':' || tablename FROM pg_publication_tables ORDER BY 1"))
                .containsExactly("pub_keyless:accounts", "pub_keyless:measurements", "pub_keyless_keyless:events_log");
        assertEqual(source, target, ALL);

        // the application's writes: none fails
        SourceFixture.execute(pg, source, """
                UPDATE app.events_log SET level = 'debug' WHERE msg = 'boot 1';
                DELETE FROM app.events_log WHERE msg = 'boot 2';
                INSERT INTO app.events_log (level, msg) VALUES ('info', 'after'), ('info', 'after');
                UPDATE app.accounts SET balance = 0 WHERE id = 1;""");
        sync(env);
        assertEqual(source, target, List.of("accounts", "measurements"));
        // inserts streamed, the update and delete not: the destination holds the rows as they were, plus the new ones
        assertThat(SourceFixture.query(pg, target, "SELECT level, msg, count(*) FROM app.events_log"
                + " WHERE msg IN ('boot 1', 'boot 2', 'after') GROUP BY 1, 2 ORDER BY 2, 1"))
                .containsExactly("info|after|2", "info|boot 1|2", "info|boot 2|2");

        SourceFixture.execute(pg, source, "TRUNCATE app.events_log; INSERT INTO app.events_log (level, msg) VALUES ('info', 'fresh')");
        sync(env);
        assertEqual(source, target, ALL);
    }

    /**
     * Row filters and column lists (PostgreSQL 15+), per table and per partition (publish_via_partition_root false: each
     * leaf's own): the copy and the stream deliver exactly the published rows and columns; an update that moves a row
     * out of the filter arrives as a delete and removes it, one that moves a row in arrives as an insert.
     */
    @Test
    void rowFiltersAndColumnListsAreWhatTheCopyAndTheStreamDeliver() throws Exception {
        assumeThat(serverVersion).as("row filters and column lists need PostgreSQL 15; skipped on " + serverVersion).isGreaterThanOrEqualTo(15);
        String source = pg.createDatabase("pub_filter_src");
        String target = pg.createDatabase("pub_filter_dst");
        SourceFixture.execute(pg, source, SCHEMA + """
                CREATE TABLE app.customers (id int NOT NULL, region text NOT NULL, name text, secret text, PRIMARY KEY (id, region));
                INSERT INTO app.customers SELECT g, CASE WHEN g % 3 = 0 THEN 'eu' ELSE 'us' END, 'c' || g, 's3cr3t' || g
                    FROM generate_series(1, 900) g;
                CREATE PUBLICATION pub_filter FOR TABLE app.customers (id, region, name) WHERE (region = 'eu'),
                    app.measurements_2024_eu WHERE (id > 50), app.measurements_2025 (id, region, at, note), app.measurements_2024_other,
                    archive.measurements_2023;""");
        Map<String, String> env = env(source, target, slot("pub_filter"), "pub_filter");
        env.put("SOURCE_TABLES", "app.customers,app.measurements");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        String customers = "SELECT id, region, name FROM app.customers";
        String published = customers + " WHERE region = 'eu' ORDER BY id";
        String measurements = "SELECT id, region, at, v, note FROM app.measurements";
        String publishedMeasurements = "SELECT id, region, at, CASE WHEN tableoid = 'app.measurements_2025'::regclass THEN NULL ELSE v END, note"
                + " FROM app.measurements WHERE (tableoid = 'app.measurements_2024_eu'::regclass AND id > 50)"
                + " OR tableoid IN ('app.measurements_2025'::regclass, 'app.measurements_2024_other'::regclass,"
                + " 'archive.measurements_2023'::regclass) ORDER BY 1, 2, 3";

        sync(env);
        assertThat(SourceFixture.query(pg, target, customers + " ORDER BY id")).hasSize(300).isEqualTo(SourceFixture.query(pg, source, published));
        assertThat(SourceFixture.query(pg, target, "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'"
                + " ORDER BY ordinal_position")).as("the column left out never reaches the destination").containsExactly("id", "region", "name");
        assertThat(SourceFixture.query(pg, target, measurements + " ORDER BY 1, 2, 3")).isEqualTo(SourceFixture.query(pg, source, publishedMeasurements));

        SourceFixture.execute(pg, source, """
                INSERT INTO app.customers VALUES (1001, 'eu', 'new eu', 'x'), (1002, 'us', 'new us', 'x');
                UPDATE app.customers SET region = 'us' WHERE id IN (3, 6);
                UPDATE app.customers SET region = 'eu', name = 'moved in' WHERE id IN (1, 2);
                UPDATE app.customers SET name = 'renamed', secret = 'changed' WHERE id IN (9, 10);
                DELETE FROM app.customers WHERE id IN (12, 13);
                UPDATE app.measurements SET id = id - 50 WHERE region = 'eu' AND at < '2025-01-01' AND at >= '2024-01-01' AND id BETWEEN 51 AND 120;
                UPDATE app.measurements SET id = id + 100 WHERE region = 'eu' AND at < '2025-01-01' AND at >= '2024-01-01' AND id < 30;
                UPDATE app.measurements SET v = 7, note = 'seven' WHERE at >= '2025-01-01';
                INSERT INTO app.measurements VALUES (9001, 'eu', '2024-02-02', 1, 'passes the filter'), (9002, 'eu', '2025-02-02', 2, 'no v'), (3, 'eu', '2024-02-03', 3, 'filtered out');""");
        sync(env);
        assertThat(SourceFixture.query(pg, target, customers + " ORDER BY id")).isEqualTo(SourceFixture.query(pg, source, published));
        assertThat(SourceFixture.query(pg, target, customers + " WHERE id IN (3, 6)")).as("moved out of the filter: deleted").isEmpty();
        assertThat(SourceFixture.query(pg, target, measurements + " ORDER BY 1, 2, 3")).isEqualTo(SourceFixture.query(pg, source, publishedMeasurements));
    }

    /**
     * A setup problem the consumer finds (here: the named publication is missing and pgsource may not create it) stops
     * pgsource before anything is copied, although the slot exists and the destination holds no copy yet.
     */
    @Test
    void aPrerequisiteFailureStopsBeforeAnyCopy() throws Exception {
        String source = pg.createDatabase("pub_pre_src");
        String target = pg.createDatabase("pub_pre_dst");
        SourceFixture.execute(pg, source, SCHEMA);
        String slot = slot("pub_pre_slot");
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        Map<String, String> env = env(source, target, slot, "pub_pre");
        env.put("SOURCE_CREATE_SLOT", "false");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        String message;
        try (LogCapture logs = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).isEqualTo(2);
            message = logs.lines(Level.ERROR).get(0);
            assertThat(logs.text()).doesNotContain("copying");
        }
        assertThat(message).contains("publications \"pub_pre\", \"pub_pre_keyless\" do not exist: create them with"
                        + " CREATE PUBLICATION \"pub_pre\" FOR TABLE \"app\".\"accounts\", \"app\".\"measurements\" WITH (publish_via_partition_root = true")
                .contains("CREATE PUBLICATION \"pub_pre_keyless\" FOR TABLE \"app\".\"events_log\" WITH (publish = 'insert, truncate'")
                .contains("to the publication option (pub_pre,pub_pre_keyless)");
        assertThat(destinationTables(target)).as("nothing copied").isEmpty();
        assertThat(SourceFixture.query(pg, source, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgsource_copy_%'"))
                .containsExactly("0");

        // the SQL it names is what PostgreSQL accepts, and with it the sync works
        String statements = message.substring(message.indexOf("create them with ") + "create them with ".length(),
                message.indexOf("; and add"));
        SourceFixture.execute(pg, source, statements);
        env.put("SOURCE_PUBLICATION_NAME", "pub_pre,pub_pre_keyless");
        sync(env);
        SourceFixture.execute(pg, source, CHANGES);
        sync(env);
        assertEqual(source, target, ALL);
    }

    /**
     * Without publish_via_partition_root PostgreSQL publishes a TRUNCATE of the root as a truncate of each leaf (the
     * root's copy is emptied), and a TRUNCATE of one partition as that partition's: the root's copy cannot lose only those
     * rows, so it keeps them, and a warning says so and how to repair; the other partitions' rows are never touched.
     */
    @Test
    void truncatesOfAPartitionedTablePublishedThroughItsLeaves() throws Exception {
        String source = pg.createDatabase("pub_trunc_src");
        String target = pg.createDatabase("pub_trunc_dst");
        SourceFixture.execute(pg, source, SCHEMA + "CREATE PUBLICATION pub_trunc FOR TABLE app.measurements;");
        Map<String, String> env = env(source, target, slot("pub_trunc"), "pub_trunc");
        env.put("SOURCE_TABLES", "app.measurements");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        sync(env);
        List<String> before2025 = SourceFixture.query(pg, source, "SELECT id, region, at FROM app.measurements WHERE at < '2025-01-01' ORDER BY 1, 2, 3");
        try (LogCapture logs = new LogCapture()) {
            SourceFixture.execute(pg, source, "TRUNCATE app.measurements_2025");
            sync(env);
            assertThat(logs.lines(Level.WARN)).anySatisfy(w -> assertThat(w).contains("TRUNCATE of partition(s) [\"app\".\"measurements_2025\"]"
                    + " of \"app\".\"measurements\"").contains("sync.resnapshot=true"));
        }
        assertThat(SourceFixture.query(pg, target, "SELECT id, region, at FROM app.measurements WHERE at < '2025-01-01' ORDER BY 1, 2, 3"))
                .as("the other partitions' rows stay").isEqualTo(before2025);
        SourceFixture.execute(pg, source, "TRUNCATE app.measurements; INSERT INTO app.measurements VALUES (1, 'eu', '2024-01-05', 1, 'after')");
        sync(env);
        assertEqual(source, target, List.of("measurements"));
    }

    /** On PostgreSQL 18 the publication pgsource creates publishes stored generated columns, so the stream carries them. */
    @Test
    void onPostgres18ThePublicationPublishesStoredGeneratedColumns(@TempDir Path out) throws Exception {
        assumeThat(serverVersion).as("publish_generated_columns needs PostgreSQL 18; skipped on " + serverVersion).isGreaterThanOrEqualTo(18);
        String source = pg.createDatabase("pub_gen_src");
        SourceFixture.execute(pg, source, """
                CREATE SCHEMA app;
                CREATE TABLE app.boxes (id int PRIMARY KEY, w int, h int, area int GENERATED ALWAYS AS (w * h) STORED);""");
        Map<String, String> env = SourceFixture.env(pg, source, "app");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot("pub_gen"));
        env.put("SOURCE_PUBLICATION_NAME", "pub_gen");
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", out.toString());
        sync(env);
        SourceFixture.execute(pg, source, "INSERT INTO app.boxes VALUES (1, 3, 4)");
        sync(env);
        JsonNode insert = null;
        for (String line : Files.readAllLines(out.resolve("app.boxes.jsonl"))) {
            JsonNode node = new ObjectMapper().readTree(line);
            if ("c".equals(node.get("op").asText())) {
                insert = node;
            }
        }
        assertThat(insert).as("the streamed insert").isNotNull();
        assertThat(insert.at("/after/area").asInt()).isEqualTo(12);
    }
}
