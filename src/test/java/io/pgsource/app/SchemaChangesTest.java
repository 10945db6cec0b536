package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgsource.testsupport.MySqlCompare;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestMariaDb;
import io.pgsource.testsupport.TestPostgres;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LOG_BASED through schema changes on the source: each change is followed exactly at the destination (a column added
 * with a constant default gets that value in the rows already there, a renamed column is renamed, a widened type is
 * widened), or, where the source rewrote the table without writing a change (a volatile default, a type change that
 * converted the values, VACUUM FULL), that one table is copied again while the others stream on. Every comparison is
 * exact ({@link TableCompare}).
 */
class SchemaChangesTest {
    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    private static final String TABLES = """
            CREATE SCHEMA app;
            CREATE TABLE app.items (id int PRIMARY KEY, name text, price numeric(10,2), note varchar(10));
            INSERT INTO app.items SELECT g, 'item ' || g, g * 1.25, 'n' || g FROM generate_series(1, 200) g;
            CREATE TABLE app.events (id int PRIMARY KEY, kind text, qty int);
            INSERT INTO app.events SELECT g, 'k' || (g % 3), g FROM generate_series(1, 200) g;
            CREATE TABLE app.amounts (id int PRIMARY KEY, amount int);
            INSERT INTO app.amounts SELECT g, g FROM generate_series(1, 100) g;
            CREATE TABLE app.counts (id int PRIMARY KEY, n int);
            INSERT INTO app.counts SELECT g, g FROM generate_series(1, 100) g;
            CREATE TABLE app.other (id int PRIMARY KEY, v text);
            INSERT INTO app.other SELECT g, 'v' || g FROM generate_series(1, 50) g;
            """;

    /**
     * Changes PostgreSQL makes without a WAL record for the rows they affect, each followed by a change so the stream
     * carries the new shape. items: a constant default (kept in attmissingval), a column without one, a rename, a drop, a
     * binary-compatible widening. events: a volatile default, dropped right after (so the catalog shows no default when
     * pgsource looks). amounts: a type change whose USING clause converts every value. counts: a constant default that
     * VACUUM FULL writes into the rows (and clears from the catalog) before the default is dropped. other: a column
     * without a default, the table's first change in the stream coming before it (the catalog then has it already).
     */
    private static final String CHANGES = """
            UPDATE app.other SET v = 'first' WHERE id = 3;
            ALTER TABLE app.items ADD COLUMN qty int NOT NULL DEFAULT 42;
            UPDATE app.items SET price = price + 1 WHERE id = 1;
            ALTER TABLE app.items ADD COLUMN tag text;
            UPDATE app.items SET tag = 'tagged' WHERE id = 2;
            ALTER TABLE app.items RENAME COLUMN name TO title;
            UPDATE app.items SET title = 'renamed' WHERE id = 3;
            ALTER TABLE app.items DROP COLUMN note;
            INSERT INTO app.items (id, title, price) VALUES (1001, 'new', 9.99);
            ALTER TABLE app.items ALTER COLUMN price TYPE numeric(12,2);
            UPDATE app.items SET price = 1234567891.25 WHERE id = 4;
            ALTER TABLE app.items ALTER COLUMN qty DROP DEFAULT;
            INSERT INTO app.items (id, title, price, qty) VALUES (1002, 'newer', 1, 7);
            ALTER TABLE app.events ADD COLUMN ref uuid NOT NULL DEFAULT gen_random_uuid();
            ALTER TABLE app.events ALTER COLUMN ref DROP DEFAULT;
            UPDATE app.events SET kind = 'changed' WHERE id = 1;
            ALTER TABLE app.amounts ALTER COLUMN amount TYPE bigint USING amount * 10;
            UPDATE app.amounts SET amount = amount + 1 WHERE id = 1;
            ALTER TABLE app.counts ADD COLUMN flag boolean DEFAULT true;
            ALTER TABLE app.other ADD COLUMN extra text;
            UPDATE app.other SET extra = 'e' WHERE id = 2;
            """;

    private static final List<String> ALL = List.of("items", "events", "amounts", "counts", "other");

    private static Map<String, String> env(String source, String slot) {
        Map<String, String> env = SourceFixture.env(pg, source, "app");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        return env;
    }

    /** A slot name unique on the server (a server given by environment outlives the run). */
    private static String slot(String prefix) {
        return prefix + "_" + ProcessHandle.current().pid();
    }

    private static void sync(Map<String, String> env) {
        assertThat(PgSourceMain.run(env, new Properties())).as("sync.once exit code").isZero();
    }

    /** The changes, each statement in a transaction of its own (as psql runs a script). */
    private static void change(String source) throws Exception {
        statements(source, CHANGES + """
                VACUUM FULL app.counts;
                ALTER TABLE app.counts ALTER COLUMN flag DROP DEFAULT;
                UPDATE app.counts SET n = -1 WHERE id = 1;
                UPDATE app.other SET v = 'changed' WHERE id = 1;
                """);
    }

    /** Runs each statement of the script (one per line's end in ';') in a transaction of its own. */
    private static void statements(String db, String script) throws Exception {
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            for (String statement : script.split(";\n")) {
                if (!statement.isBlank()) {
                    s.execute(statement);
                }
            }
        }
    }

    /**
     * A destination that cannot rename or fill columns in place: a column added with a default, renames (one copy holds
     * them all), a volatile default, a rewrite each take one copy; a column added without a default none.
     */
    private static void assertCopiedOnlyWhatCannotBeFollowed(LogCapture logs) {
        assertThat(copies(logs, "\"app\".\"items\"")).as("a column added with a default, renames: one copy holds them all")
                .isEqualTo(1);
        assertThat(copies(logs, "\"app\".\"events\"")).isEqualTo(1);
        assertThat(copies(logs, "\"app\".\"amounts\"")).isEqualTo(1);
        assertThat(copies(logs, "\"app\".\"counts\"")).isEqualTo(1);
        assertThat(copies(logs, "\"app\".\"other\"")).as("a column added without a default: no copy").isZero();
    }

    private static long copies(LogCapture logs, String table) {
        return logs.lines(ch.qos.logback.classic.Level.INFO).stream().filter(l -> l.startsWith("Copying " + table + " inside")
                || l.startsWith("Copying " + table + " in chunks")).count();
    }

    @Test
    void columnChangesReachAPostgresDestinationExactlyAndRewrittenTablesAreCopiedAlone() throws Exception {
        String source = pg.createDatabase("schema_pg_src");
        String target = pg.createDatabase("schema_pg_dst");
        SourceFixture.execute(pg, source, TABLES);
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot("schema_pg")), target);
        sync(env);

        change(source);
        try (LogCapture logs = new LogCapture()) {
            sync(env);
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                TableCompare.assertEqual(s, "app", d, "app", ALL, String.join("\n", logs.lines(ch.qos.logback.classic.Level.INFO)));
            }
            assertThat(copies(logs, "\"app\".\"items\"")).as("items follows its changes without a copy").isZero();
            assertThat(copies(logs, "\"app\".\"other\"")).as("a column added without a default: no copy").isZero();
            assertThat(copies(logs, "\"app\".\"events\"")).as("a volatile default: copied once").isEqualTo(1);
            assertThat(copies(logs, "\"app\".\"amounts\"")).as("a type change converting the values: copied once").isEqualTo(1);
            assertThat(copies(logs, "\"app\".\"counts\"")).as("a default VACUUM FULL wrote into the rows: copied once").isEqualTo(1);
        }
        assertThat(SourceFixture.query(pg, target, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
                + " WHERE attrelid = 'app.items'::regclass AND attnum > 0 AND NOT attisdropped"))
                .as("the column is renamed, not added empty; the dropped column stays").containsExactly("id,title,price,note,qty,tag");
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM app.items WHERE qty = 42"))
                .as("rows older than the column hold its default, as at the source").containsExactly("201");
        assertThat(SourceFixture.query(pg, target, "SELECT column_default IS NULL FROM information_schema.columns"
                + " WHERE table_schema = 'app' AND table_name = 'items' AND column_name = 'qty'")).as("no default left").containsExactly("t");
    }

    /**
     * The jsonl destination cannot change lines it wrote: a column added with a default its older rows show, a rename
     * and a rewrite each make it copy the table again (a truncate event, then a read event per row); a column added
     * without a default only shows in the lines from then on. Replayed in order, each file equals its table.
     */
    @Test
    void jsonlFilesGetACopyOfEachTableTheirLinesCannotFollow(@TempDir Path out) throws Exception {
        String source = pg.createDatabase("schema_jsonl_src");
        SourceFixture.execute(pg, source, TABLES);
        Map<String, String> env = env(source, slot("schema_jsonl"));
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", out.toString());
        sync(env);

        change(source);
        try (LogCapture logs = new LogCapture()) {
            sync(env);
            assertCopiedOnlyWhatCannotBeFollowed(logs);
        }
        for (String table : ALL) {
            assertReplayed(out.resolve("app." + table + ".jsonl"), source, table);
        }
        assertThat(Files.readAllLines(out.resolve("app.items.jsonl")).stream().filter(l -> l.startsWith("{\"op\":\"t\"")))
                .as("the initial copy and the copy after the changes each start with a truncate event").hasSize(2);
    }

    /**
     * The mysql destination (MariaDB; skipped without one) adds columns added without a value for older rows, and takes
     * a copy of each table whose change MySQL's DDL cannot follow inside the batch's transaction: a rename, a column
     * added with a default its older rows show, a rewrite. Every table then equals the source ({@link MySqlCompare}).
     */
    @Test
    void mysqlTablesAddColumnsAndAreCopiedForWhatTheyCannotFollow() throws Exception {
        TestMariaDb mysql = TestMariaDb.server();
        String source = pg.createDatabase("schema_mysql_src");
        String target = mysql.createDatabase("pgsource_schema_changes");
        try {
            SourceFixture.execute(pg, source, TABLES);
            Map<String, String> env = env(source, slot("schema_mysql"));
            env.put("DESTINATION", "mysql");
            env.put("DESTINATION_URL", mysql.url(target));
            env.put("DESTINATION_USERNAME", mysql.user);
            env.put("DESTINATION_PASSWORD", mysql.password);
            sync(env);

            change(source);
            try (LogCapture logs = new LogCapture()) {
                sync(env);
                assertCopiedOnlyWhatCannotBeFollowed(logs);
            }
            try (Connection s = pg.connect(source); Connection d = mysql.connect(target)) {
                for (String table : ALL) {
                    assertThat(MySqlCompare.difference(s, "app", d, table)).as(table).isEmpty();
                }
            }
        } finally {
            mysql.dropDatabase(target);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .setNodeFactory(JsonNodeFactory.withExactBigDecimals(true));

    /**
     * Replays the file in order (keyed by id; a column a line lacks is NULL) and compares the rows with the source's,
     * value by value over the source's columns (columns the source dropped since may stay in older lines).
     */
    private static void assertReplayed(Path file, String source, String table) throws Exception {
        Map<String, JsonNode> rows = new TreeMap<>();
        for (String line : Files.readAllLines(file)) {
            JsonNode e = JSON.readTree(line);
            switch (e.get("op").textValue()) {
                case "t" -> rows.clear();
                case "d" -> rows.remove(e.get("before").get("id").asText());
                default -> {
                    if (e.hasNonNull("before")) {
                        rows.remove(e.get("before").get("id").asText());
                    }
                    rows.put(e.get("after").get("id").asText(), e.get("after"));
                }
            }
        }
        Map<String, JsonNode> expected = new TreeMap<>();
        for (String json : SourceFixture.query(pg, source, "SELECT row_to_json(t) FROM app." + table + " t")) {
            JsonNode row = JSON.readTree(json);
            expected.put(row.get("id").asText(), row);
        }
        assertThat(rows.keySet()).as(table + ": the ids").isEqualTo(expected.keySet());
        expected.forEach((id, row) -> row.fieldNames().forEachRemaining(column -> assertThat(text(rows.get(id).get(column)))
                .as(table + " id " + id + " column " + column).isEqualTo(text(row.get(column)))));
    }

    private static String text(JsonNode value) {
        return value == null || value.isNull() ? null : value.asText();
    }

    private static final String LIVE = """
            CREATE SCHEMA live;
            CREATE SCHEMA elsewhere;
            CREATE TABLE live.base (id int PRIMARY KEY, v text);
            INSERT INTO live.base SELECT g, 'b' || g FROM generate_series(1, 100) g;
            CREATE TABLE live.doomed (id int PRIMARY KEY, v text);
            INSERT INTO live.doomed SELECT g, 'd' || g FROM generate_series(1, 20) g;
            """;

    /**
     * Tables created while streaming in a schema the publication covers as a whole, with rows, updates and deletes right
     * away: one with a key, one without (duplicate rows included), a partitioned one; and one in another schema.
     */
    private static final String CREATED = """
            CREATE TABLE live.fresh (id int PRIMARY KEY, v text);
            INSERT INTO live.fresh SELECT g, 'f' || g FROM generate_series(1, 100) g;
            UPDATE live.fresh SET v = 'updated' WHERE id <= 10;
            DELETE FROM live.fresh WHERE id > 95;
            CREATE TABLE live.log_lines (at int, msg text);
            INSERT INTO live.log_lines SELECT g, 'line ' || g FROM generate_series(1, 50) g;
            INSERT INTO live.log_lines VALUES (1, 'line 1');
            CREATE TABLE live.parted (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
            CREATE TABLE live.parted_eu PARTITION OF live.parted FOR VALUES IN ('eu');
            CREATE TABLE live.parted_us PARTITION OF live.parted FOR VALUES IN ('us');
            INSERT INTO live.parted SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 60) g;
            UPDATE live.parted SET v = -v WHERE id % 3 = 0;
            CREATE TABLE elsewhere.ignored (id int PRIMARY KEY);
            INSERT INTO elsewhere.ignored VALUES (1);
            """;

    /** Waits until each table of the destination equals the source's (at most a minute), then compares once more. */
    private static void awaitEqual(String source, String target, String schema, List<String> tables) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            while (!TableCompare.differences(s, schema, d, schema, tables).isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            TableCompare.assertEqual(s, schema, d, schema, tables, "");
        }
    }

    /** Waits until a query of the destination returns what one of the source does (at most a minute). */
    private static void awaitRows(String source, String expected, String target, String actual) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!SourceFixture.query(pg, target, actual).equals(SourceFixture.query(pg, source, expected)) && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertThat(SourceFixture.query(pg, target, actual)).isEqualTo(SourceFixture.query(pg, source, expected));
    }

    /** Waits until a line of the level satisfies the condition (at most 30 s). */
    private static void awaitLog(LogCapture logs, ch.qos.logback.classic.Level level, java.util.function.Predicate<String> line) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            try {
                if (logs.lines(level).stream().anyMatch(line)) {
                    return;
                }
            } catch (java.util.ConcurrentModificationException e) {
                // a line was being added: look again
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no such " + level + " line in time");
    }

    /** The tables pgsource created at the destination, besides its own. */
    private static List<String> destinationTables(String target) throws Exception {
        return SourceFixture.query(pg, target, "SELECT schemaname || '.' || tablename FROM pg_tables"
                + " WHERE schemaname NOT IN ('pg_catalog', 'information_schema', '_pgsource') AND schemaname !~ '^pg_temp' ORDER BY 1");
    }

    /**
     * Mage's shape: a FOR ALL TABLES publication. Tables created while streaming in the selected schema are copied on
     * their first change and streamed on (a keyed, a keyless and a partitioned one); one in another schema is not
     * captured; a table dropped while streaming keeps its destination table, with one warning, and the others stream on.
     */
    @Test
    void tablesCreatedOrDroppedWhileStreamingUnderAForAllTablesPublication() throws Exception {
        String source = pg.createDatabase("schema_all_src");
        String target = pg.createDatabase("schema_all_dst");
        SourceFixture.execute(pg, source, LIVE + "CREATE PUBLICATION schema_all FOR ALL TABLES;");
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot("schema_all")), target);
        env.put("SOURCE_SCHEMA", "live");
        env.put("SOURCE_PUBLICATION_NAME", "schema_all");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        try (LogCapture logs = new LogCapture(); StreamingRun run = new StreamingRun(env)) {
            awaitEqual(source, target, "live", List.of("base", "doomed"));
            statements(source, CREATED + """
                    DROP TABLE live.doomed;
                    INSERT INTO live.base VALUES (1001, 'after the drop');
                    """);
            awaitEqual(source, target, "live", List.of("base", "fresh", "log_lines", "parted"));
            awaitLog(logs, ch.qos.logback.classic.Level.WARN, l -> l.contains("\"live\".\"doomed\" no longer exists"));
            statements(source, "INSERT INTO live.fresh VALUES (2001, 'streamed after its copy');");
            awaitEqual(source, target, "live", List.of("base", "fresh", "log_lines", "parted"));
            assertThat(run.stop()).as("a clean stop").isZero();
            assertThat(logs.lines(ch.qos.logback.classic.Level.WARN).stream().filter(l -> l.contains("\"live\".\"doomed\"")))
                    .as("one warning for the dropped table").hasSize(1);
            assertThat(copies(logs, "\"live\".\"base\"")).as("the other tables are not copied again").isZero();
        }
        assertThat(destinationTables(target)).as("the dropped table's copy stays; no partition, nothing of another schema")
                .containsExactly("live.base", "live.doomed", "live.fresh", "live.log_lines", "live.parted");
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM live.doomed")).containsExactly("20");
    }

    /** The same with a FOR TABLES IN SCHEMA publication (PostgreSQL 15+), with a keyless and a partitioned new table. */
    @Test
    void tablesCreatedWhileStreamingUnderAForTablesInSchemaPublication() throws Exception {
        assumeTrue(pg.majorVersion() >= 15, "FOR TABLES IN SCHEMA came with PostgreSQL 15");
        String source = pg.createDatabase("schema_in_src");
        String target = pg.createDatabase("schema_in_dst");
        SourceFixture.execute(pg, source, LIVE + "CREATE PUBLICATION schema_in FOR TABLES IN SCHEMA live;");
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot("schema_in")), target);
        env.put("SOURCE_SCHEMA", "live");
        env.put("SOURCE_PUBLICATION_NAME", "schema_in");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        try (StreamingRun run = new StreamingRun(env)) {
            awaitEqual(source, target, "live", List.of("base", "doomed"));
            statements(source, CREATED);
            awaitEqual(source, target, "live", List.of("base", "doomed", "fresh", "log_lines", "parted"));
            assertThat(run.stop()).isZero();
        }
        assertThat(destinationTables(target)).containsExactly("live.base", "live.doomed", "live.fresh", "live.log_lines", "live.parted");
    }

    /**
     * A publication the user made FOR TABLE: a table added to it while streaming is copied on its first change (what the
     * publication publishes of it: its row filter and column list on PostgreSQL 15+), one added while pgsource was stopped
     * is copied at the next start; the other tables are not copied again and the slot stays.
     */
    @Test
    void tablesAddedToAUsersPublicationAreCopiedAloneWhileStreamingOrAtTheNextStart() throws Exception {
        String source = pg.createDatabase("schema_add_src");
        String target = pg.createDatabase("schema_add_dst");
        SourceFixture.execute(pg, source, LIVE + "CREATE PUBLICATION schema_add FOR TABLE live.base, live.doomed;");
        String slot = slot("schema_add");
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot), target);
        env.put("SOURCE_SCHEMA", "live");
        env.put("SOURCE_PUBLICATION_NAME", "schema_add");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        // what the publication publishes of the added table (PostgreSQL 15+: a column list and a row filter) is what is copied
        boolean filters = pg.majorVersion() >= 15;
        String published = "SELECT id, v FROM live.added" + (filters ? " WHERE id <= 60" : "") + " ORDER BY id";
        try (LogCapture logs = new LogCapture()) {
            try (StreamingRun run = new StreamingRun(env)) {
                awaitEqual(source, target, "live", List.of("base", "doomed"));
                statements(source, """
                        CREATE TABLE live.added (id int PRIMARY KEY, v text, secret text);
                        INSERT INTO live.added SELECT g, 'a' || g, 'not for the destination' FROM generate_series(1, 80) g;
                        ALTER PUBLICATION schema_add ADD TABLE live.added%s;
                        UPDATE live.added SET v = 'published' WHERE id <= 5 OR id > 75;
                        INSERT INTO live.base VALUES (1001, 'meanwhile');
                        """.formatted(filters ? " (id, v) WHERE (id <= 60)" : ""));
                awaitEqual(source, target, "live", List.of("base", "doomed"));
                awaitRows(source, published, target, "SELECT id, v FROM live.added ORDER BY id");
                assertThat(run.stop()).isZero();
            }
            try (Connection d = pg.connect(target)) {
                assertThat(TableCompare.columns(d, "live", "added")).as("the column list holds")
                        .containsExactlyElementsOf(filters ? List.of("id", "v") : List.of("id", "v", "secret"));
            }
            statements(source, """
                    CREATE TABLE live.later (id int PRIMARY KEY, v text);
                    INSERT INTO live.later SELECT g, 'l' || g FROM generate_series(1, 30) g;
                    ALTER PUBLICATION schema_add ADD TABLE live.later;
                    UPDATE live.base SET v = 'while stopped' WHERE id = 1;
                    """);
            sync(env);
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                TableCompare.assertEqual(s, "live", d, "live", List.of("base", "doomed", "later"), "");
            }
            assertThat(SourceFixture.query(pg, target, "SELECT id, v FROM live.added ORDER BY id"))
                    .isEqualTo(SourceFixture.query(pg, source, published));
            assertThat(copies(logs, "\"live\".\"added\"")).isEqualTo(1);
            assertThat(copies(logs, "\"live\".\"later\"")).as("copied at the start").isEqualTo(1);
            assertThat(copies(logs, "\"live\".\"base\"") + copies(logs, "\"live\".\"doomed\"")).isZero();
            assertThat(logs.lines(ch.qos.logback.classic.Level.INFO).stream().filter(l -> l.startsWith("Created replication slot")))
                    .as("the slot stays").hasSize(1);
        }
    }

    /**
     * Publications pgsource manages (source.create_publication): a table selected since the last run is added to them
     * (a keyless one to the insert-only companion, so the application's UPDATE on it keeps working) and copied at the
     * start; so is a table created in a selected schema while pgsource was stopped.
     */
    @Test
    void tablesSelectedLaterAreAddedToPgsourcesPublicationsAndCopied() throws Exception {
        String source = pg.createDatabase("schema_own_src");
        String target = pg.createDatabase("schema_own_dst");
        SourceFixture.execute(pg, source, LIVE + """
                CREATE TABLE live.nokey (at int, msg text);
                INSERT INTO live.nokey SELECT g, 'm' || g FROM generate_series(1, 40) g;
                CREATE TABLE live.extra (id int PRIMARY KEY, v text);
                INSERT INTO live.extra SELECT g, 'e' || g FROM generate_series(1, 40) g;
                """);
        String slot = slot("schema_own");
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot), target);
        env.put("SOURCE_SCHEMA", "live");
        env.put("SOURCE_TABLES", "live.base");
        sync(env);

        env.put("SOURCE_TABLES", "live.base,live.extra,live.nokey");
        statements(source, "UPDATE live.extra SET v = 'before' WHERE id = 1;");
        try (LogCapture logs = new LogCapture()) {
            sync(env);
            assertThat(logs.text()).contains("ALTER PUBLICATION \"" + slot + "_pub\" ADD TABLE \"live\".\"extra\"");
            assertThat(copies(logs, "\"live\".\"base\"")).isZero();
        }
        statements(source, """
                UPDATE live.nokey SET msg = 'the application may update it' WHERE at = 1;
                CREATE TABLE live.nokey2 (at int, msg text);
                INSERT INTO live.nokey2 SELECT g, 'n' || g FROM generate_series(1, 10) g;
                CREATE TABLE live.newer (id int PRIMARY KEY, v text);
                INSERT INTO live.newer SELECT g, 'w' || g FROM generate_series(1, 10) g;
                """);
        env.remove("SOURCE_TABLES");
        sync(env);
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "live", d, "live", List.of("base", "doomed", "extra", "newer", "nokey2"), "");
        }
        // in the insert-only publication only: PostgreSQL accepts the application's UPDATE (which is not streamed)
        statements(source, "UPDATE live.nokey2 SET msg = 'still updatable' WHERE at = 2;");
        assertThat(SourceFixture.query(pg, source, "SELECT pubname, string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables"
                + " WHERE pubname LIKE '" + slot + "%' GROUP BY 1 ORDER BY 1")).containsExactly(
                slot + "_pub|base,doomed,extra,newer", slot + "_pub_keyless|nokey,nokey2");
    }

    /**
     * "Copied at C" is durable: a run copies a new keyless table, then stops on another table's change the destination
     * refuses (in the same source transaction as the new table's rows); the next run, after the fix, replays that
     * transaction from the slot and leaves out again what the copy holds, so no row of the keyless table is doubled.
     */
    @Test
    void changesACopyHoldsAreLeftOutAfterARestartToo() throws Exception {
        String source = pg.createDatabase("schema_mark_src");
        String target = pg.createDatabase("schema_mark_dst");
        SourceFixture.execute(pg, source, LIVE + "CREATE PUBLICATION schema_mark FOR ALL TABLES;");
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot("schema_mark")), target);
        env.put("SOURCE_SCHEMA", "live");
        env.put("SOURCE_PUBLICATION_NAME", "schema_mark");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        sync(env);

        SourceFixture.execute(pg, target, "ALTER TABLE live.base ADD CONSTRAINT not_poison CHECK (v <> 'poison')");
        SourceFixture.execute(pg, source, """
                CREATE TABLE live.log_lines (at int, msg text);
                INSERT INTO live.log_lines SELECT g, 'line ' || g FROM generate_series(1, 30) g;
                INSERT INTO live.base VALUES (2000, 'poison');""");
        assertThat(PgSourceMain.run(env, new Properties())).as("the destination refuses the change of base").isEqualTo(1);
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM live.log_lines")).as("copied before the refusal")
                .containsExactly("30");

        SourceFixture.execute(pg, target, "ALTER TABLE live.base DROP CONSTRAINT not_poison");
        statements(source, "INSERT INTO live.log_lines VALUES (31, 'after the copy');");
        sync(env);
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "live", d, "live", List.of("base", "doomed", "log_lines"), "");
        }
    }

    /**
     * Tables of every type of the fixture (enums, domains, arrays, ranges, generated and dropped columns, partitions)
     * rewritten without a schema change (TRUNCATE, VACUUM FULL): no copy, the stream goes on. Then a type change the
     * destination column cannot hold stops pgsource with the fix (exit code 1); after the fix the table is copied and
     * equal.
     */
    @Test
    void rewritesWithoutSchemaChangesNeedNoCopyAndATypeTheDestinationCannotHoldStopsWithTheFix() throws Exception {
        String source = SourceFixture.createSource(pg, "schema_types_src");
        String target = pg.createDatabase("schema_types_dst");
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot("schema_types")), target);
        env.put("SOURCE_SCHEMA", "public,sales");
        env.put("SOURCE_TABLES", "public.all_types,public.customers,public.measurements,public.shaped");
        List<String> tables = List.of("all_types", "customers", "measurements", "shaped");
        sync(env);

        statements(source, """
                CREATE TABLE public.keep_all AS SELECT * FROM public.all_types;
                TRUNCATE public.all_types;
                INSERT INTO public.all_types SELECT * FROM public.keep_all;
                UPDATE public.all_types SET c_text = 'after' WHERE id = 1;
                TRUNCATE public.measurements;
                INSERT INTO public.measurements SELECT g, DATE '2024-03-01' + g, g FROM generate_series(1, 50) g;
                VACUUM FULL public.shaped;
                UPDATE public.shaped SET qty = qty + 1 WHERE id <= 5;
                """);
        try (LogCapture logs = new LogCapture()) {
            sync(env);
            assertThat(logs.lines(ch.qos.logback.classic.Level.INFO).stream().filter(l -> l.startsWith("Copying"))).isEmpty();
        }
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "public", d, "public", tables, "");
        }

        statements(source, """
                ALTER TABLE public.customers ALTER COLUMN name TYPE integer USING length(name);
                UPDATE public.customers SET name = 0 WHERE id = 1;
                """);
        try (LogCapture logs = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).isEqualTo(1);
            assertThat(logs.lines(ch.qos.logback.classic.Level.ERROR)).last().asString()
                    .contains("from text to integer").contains("ALTER TABLE \"public\".\"customers\" ALTER COLUMN \"name\" TYPE integer USING");
        }
        SourceFixture.execute(pg, target, "ALTER TABLE public.customers ALTER COLUMN name TYPE integer USING length(name)");
        sync(env);
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "public", d, "public", tables, "");
        }
    }

    /**
     * A destination that streamed before pgsource created its insert-only publication with the first one (an older
     * version, or the publication dropped since): a keyless table selected later needs it created now, which PostgreSQL
     * 18 streams from the slot's position, and earlier versions cannot ("publication ... does not exist" while decoding
     * the slot's older changes): there the start stops with the fix, before anything is copied.
     */
    @Test
    void anInsertOnlyPublicationCreatedAfterTheSlotStopsTheStartBeforePostgresql18() throws Exception {
        String source = pg.createDatabase("schema_late_src");
        String target = pg.createDatabase("schema_late_dst");
        SourceFixture.execute(pg, source, LIVE + """
                CREATE TABLE live.nokey (at int, msg text);
                INSERT INTO live.nokey SELECT g, 'm' || g FROM generate_series(1, 10) g;
                """);
        String slot = slot("schema_late");
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot), target);
        env.put("SOURCE_SCHEMA", "live");
        env.put("SOURCE_TABLES", "live.base");
        sync(env);
        statements(source, "DROP PUBLICATION " + slot + "_pub_keyless;\nUPDATE live.base SET v = 'pending' WHERE id = 1;\n");

        env.put("SOURCE_TABLES", "live.base,live.nokey");
        try (LogCapture logs = new LogCapture()) {
            int exit = PgSourceMain.run(env, new Properties());
            if (pg.majorVersion() >= 18) {
                assertThat(exit).isZero();
                try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                    TableCompare.assertEqual(s, "live", d, "live", List.of("base", "nokey"), "");
                }
            } else {
                assertThat(exit).isEqualTo(2);
                assertThat(logs.lines(ch.qos.logback.classic.Level.ERROR)).last().asString()
                        .contains("\"live\".\"nokey\" (no primary key or replica identity) would go into publication")
                        .contains("PostgreSQL before 18 cannot decode them").contains("sync.resnapshot=true");
                assertThat(copies(logs, "\"live\".\"nokey\"")).as("nothing copied").isZero();
            }
        }
    }

    /**
     * PostgreSQL tells a stream of a schema change only with the table's next change: a rewrite that converted values,
     * and no change after it, is found at the next start, which copies the table; so is a destination table dropped at
     * the destination (to have it copied again).
     */
    @Test
    void aRewriteNoChangeFollowedAndADroppedDestinationTableAreCopiedAtTheNextStart() throws Exception {
        String source = pg.createDatabase("schema_start_src");
        String target = pg.createDatabase("schema_start_dst");
        SourceFixture.execute(pg, source, TABLES);
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, slot("schema_start")), target);
        sync(env);

        statements(source, "ALTER TABLE app.amounts ALTER COLUMN amount TYPE bigint USING amount * 10;\n");
        SourceFixture.execute(pg, target, "DROP TABLE app.other");
        try (LogCapture logs = new LogCapture()) {
            sync(env);
            assertThat(copies(logs, "\"app\".\"amounts\"")).isEqualTo(1);
            assertThat(copies(logs, "\"app\".\"other\"")).isEqualTo(1);
            assertThat(copies(logs, "\"app\".\"items\"")).isZero();
        }
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "app", d, "app", ALL, "");
        }
    }
}
