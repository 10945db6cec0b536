package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.backfill.BackfillCommand;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Chunked backfills while streaming ({@code pgsource backfill}), end to end on the embedded PostgreSQL: the command
 * writes the request into the WAL, the running instance copies the table in small chunks between watermarks while a
 * workload changes the very rows being chunked, and the destination ends exactly equal; the other tables' destination
 * rows are not written again.
 */
class BackfillTest {
    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    /** The backfills need 14+ (pgoutput's logical decoding messages); on 13 the tests below say so instead (the last two). */
    private static void backfillsNeed14() {
        Assumptions.assumeTrue(pg.majorVersion() >= 14, "backfills need PostgreSQL 14 or newer; PGSOURCE_TEST_PG_VERSION is "
                + pg.majorVersion() + " (onPostgresql13* test that version's refusal)");
    }

    /** A TOASTed value: 3,200 characters of hex digits, too random to compress below the TOAST threshold. */
    private static final String DOC = "(SELECT string_agg(md5(random()::text || x), '') FROM generate_series(1, 100) x)";

    private static final String TABLES = """
            CREATE SCHEMA app;
            CREATE TABLE app.big (id int PRIMARY KEY, v int NOT NULL, doc text);
            INSERT INTO app.big SELECT g, g, (SELECT string_agg(md5(g::text || x), '') FROM generate_series(1, 100) x)
              FROM generate_series(1, 3000) g;
            CREATE TABLE app.other (id int PRIMARY KEY, v text);
            INSERT INTO app.other SELECT g, 'o' || g FROM generate_series(1, 200) g;
            """;

    private static Map<String, String> env(String source, String target, String slot) {
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "app"), target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        // many chunks of a small table: every chunk meets the workload's changes
        env.put("SOURCE_BACKFILL_CHUNK_SIZE", "100");
        return env;
    }

    private static String slot(String prefix) {
        return prefix + "_" + ProcessHandle.current().pid();
    }

    /** The command's exit code and its one line. */
    private record Outcome(int code, String out, String err) {
    }

    private static Outcome command(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = BackfillCommand.run(List.of(args), env, new Properties(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8).strip(), err.toString(StandardCharsets.UTF_8).strip());
    }

    /** The destination's rows of a table with their physical version: a row written again gets another xmin. */
    private static List<String> versions(String target, String table) throws SQLException {
        return SourceFixture.query(pg, target, "SELECT id || ':' || xmin || ':' || ctid FROM " + table + " ORDER BY id");
    }

    private static boolean backfillDone(String target, String table) {
        try {
            return SourceFixture.query(pg, target, "SELECT position FROM _pgsource.positions WHERE stream = 'backfill:" + table + "'")
                    .stream().anyMatch(p -> p.contains("\"done\":true"));
        } catch (SQLException e) {
            return false; // pgsource has not created its state table yet
        }
    }

    private static void awaitLine(LogCapture logs, String start) throws Exception {
        await("a line starting " + start, () -> logs.lines(ch.qos.logback.classic.Level.INFO).stream().anyMatch(l -> l.startsWith(start)));
    }

    private static void await(String what, java.util.concurrent.Callable<Boolean> condition) throws Exception {
        Await.until(what, condition);
    }

    private static void awaitEqual(String source, String target, List<String> tables) throws Exception {
        Await.equal(pg, source, target, "app", tables);
    }

    /**
     * The destination's copy of app.big is damaged by hand (rows deleted, values changed), then a backfill is requested
     * while a workload updates (with and without the TOASTed column), deletes, inserts and moves (primary-key changes)
     * rows of app.big all over its key range, in chunks of 100 rows: at the end the destination equals the source
     * exactly, the damage repaired, and app.other's destination rows are the very same row versions as before.
     */
    @Test
    void aBackfillUnderChangesToTheChunkedRowsEndsExactlyEqual() throws Exception {
        backfillsNeed14();
        String source = pg.createDatabase("backfill_src");
        String target = pg.createDatabase("backfill_dst");
        SourceFixture.execute(pg, source, TABLES);
        Map<String, String> env = env(source, target, slot("backfill"));
        try (StreamingRun run = new StreamingRun(env)) {
            awaitEqual(source, target, List.of("big", "other"));
            SourceFixture.execute(pg, target, """
                    DELETE FROM app.big WHERE id % 7 = 0;
                    UPDATE app.big SET v = -1, doc = 'stale' WHERE id % 5 = 0;
                    """);
            List<String> other = versions(target, "app.other");

            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong changes = new AtomicLong();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread workload = new Thread(() -> workload(source, stop, changes), "backfill-workload");
            workload.setUncaughtExceptionHandler((t, e) -> failed.set(e));
            workload.start();
            try {
                await("the workload runs", () -> changes.get() > 20);
                Outcome requested = command(env, "app.big");
                assertThat(requested.code()).as(requested.err()).isZero();
                assertThat(requested.out()).startsWith("Backfill requested at LSN ").contains("\"app\".\"big\"");
                await("the backfill of app.big is done", () -> backfillDone(target, "app.big"));
            } finally {
                stop.set(true);
                workload.join();
            }
            assertThat(failed.get()).as("the workload").isNull();
            assertThat(changes.get()).as("changes made during the backfill").isGreaterThan(100);
            awaitEqual(source, target, List.of("big", "other"));
            assertThat(versions(target, "app.other")).as("app.other's rows are not written again").isEqualTo(other);
            assertThat(run.stop()).isZero();
        }
    }

    /**
     * The command checks before it requests: an unknown table, one pgsource does not capture and a condition PostgreSQL
     * refuses (a second statement included) each end it with exit code 2 and one line; with --where only the rows that
     * meet the condition are copied again, and the other rows and tables are not written.
     */
    @Test
    void theCommandRefusesWhatItCannotRequestAndAConditionLimitsTheRows() throws Exception {
        backfillsNeed14();
        String source = pg.createDatabase("backfill_where_src");
        String target = pg.createDatabase("backfill_where_dst");
        SourceFixture.execute(pg, source, """
                CREATE SCHEMA app;
                CREATE TABLE app.big (id int PRIMARY KEY, v int NOT NULL, doc text);
                INSERT INTO app.big SELECT g, g, 'd' || g FROM generate_series(1, 500) g;
                CREATE TABLE app.other (id int PRIMARY KEY, v text);
                INSERT INTO app.other SELECT g, 'o' || g FROM generate_series(1, 50) g;
                CREATE TABLE app.log_lines (at int, msg text);
                INSERT INTO app.log_lines SELECT g, 'line ' || g FROM generate_series(1, 30) g;
                CREATE SCHEMA elsewhere;
                CREATE TABLE elsewhere.t (id int PRIMARY KEY);
                """);
        Map<String, String> env = env(source, target, slot("backfill_where"));
        try (LogCapture logs = new LogCapture(); StreamingRun run = new StreamingRun(env)) {
            awaitEqual(source, target, List.of("big", "other", "log_lines"));
            // each copy's final progress line (CopyProgress): the initial copy's tables
            // the size is the values as read, in binary here: sum(4 + 4 + octet_length(doc)) = 5,892 bytes
            awaitLine(logs, "Copied app.big: 500 rows, 5.8 kB ");
            awaitLine(logs, "Copied app.log_lines: 30 rows, ");
            Outcome unknown = command(env, "app.nope");
            assertThat(unknown.code()).isEqualTo(2);
            assertThat(unknown.err()).startsWith("\"app\".\"nope\" is not a table of source database").doesNotContain("\n");
            assertThat(command(env, "elsewhere.t").err()).contains("is not captured");
            Outcome column = command(env, "app.big", "--where", "nonsense > 1");
            assertThat(column.code()).isEqualTo(2);
            assertThat(column.err()).startsWith("--where \"nonsense > 1\" is not a condition on \"app\".\"big\": ")
                    .contains("nonsense").doesNotContain("\n");
            assertThat(command(env, "app.big", "--where", "true); DROP TABLE app.other; SELECT (1").code()).isEqualTo(2);
            assertThat(command(env).err()).contains("backfill schema.table");
            assertThat(command(env, "app.log_lines", "--where", "at > 1").err()).contains("has no primary key");

            // a keyless table is copied whole inside a temporary slot's snapshot, as a table added while streaming
            SourceFixture.execute(pg, target, "DELETE FROM app.log_lines WHERE at > 10");
            assertThat(command(env, "app.log_lines").code()).isZero();
            await("app.log_lines copied again", () -> logs.lines(ch.qos.logback.classic.Level.INFO).stream()
                    .anyMatch(l -> l.startsWith("Copying \"app\".\"log_lines\" inside")));
            awaitEqual(source, target, List.of("log_lines"));
            await("the copy while streaming says it is done", () -> logs.lines(ch.qos.logback.classic.Level.INFO).stream()
                    .filter(l -> l.startsWith("Copied app.log_lines: 30 rows, ")).count() == 2);

            SourceFixture.execute(pg, target, "UPDATE app.big SET v = -1");
            List<String> other = versions(target, "app.other");
            // any role may write a logical message: one not signed with pgsource's credentials is ignored
            SourceFixture.execute(pg, source, "SELECT pg_logical_emit_message(true, 'pgsource-backfill-request',"
                    + " '{\"tables\":[{\"schema\":\"app\",\"name\":\"other\"}],\"where\":null,\"signature\":\"00\"}')");
            Outcome requested = command(env, "app.big", "--where", "id <= 100");
            assertThat(requested.code()).as(requested.err()).isZero();
            assertThat(requested.out()).contains("(rows where id <= 100)");
            await("the backfill of app.big is done", () -> backfillDone(target, "app.big"));
            assertThat(SourceFixture.query(pg, target, "SELECT count(*) FILTER (WHERE v = id) || ':' || count(*) FILTER (WHERE v = -1)"
                    + " FROM app.big")).as("rows where id <= 100 copied again, the others not").containsExactly("100:400");
            assertThat(versions(target, "app.other")).as("app.other's rows are not written again").isEqualTo(other);
            // the backfill read the rows of its condition only, their values 1,092 bytes as read (binary: 4 + 4 + doc's)
            awaitLine(logs, "Copied app.big: 100 rows, 1.1 kB ");
            assertThat(logs.lines(ch.qos.logback.classic.Level.WARN)).as("the forged request")
                    .anyMatch(l -> l.contains("its signature does not match) was ignored"));
            assertThat(run.stop()).isZero();
        }
    }

    /**
     * source.initial_copy=chunked: the stream starts at once and the tables with a key are backfilled in chunks while a
     * workload changes them (the keyless one is copied inside the slot's snapshot); then a table created while streaming
     * in a FOR ALL TABLES publication is backfilled too, and app.other's destination rows stay the very same row versions.
     */
    @Test
    void aChunkedInitialCopyAndATableAddedWhileStreamingAreBackfilledWhileTheOthersStream() throws Exception {
        backfillsNeed14();
        String source = pg.createDatabase("chunked_src");
        String target = pg.createDatabase("chunked_dst");
        String slot = slot("chunked");
        SourceFixture.execute(pg, source, TABLES + """
                CREATE TABLE app.log_lines (at int, msg text);
                INSERT INTO app.log_lines SELECT g, 'line ' || g FROM generate_series(1, 30) g;
                CREATE PUBLICATION %s_pub FOR ALL TABLES;
                """.formatted(slot));
        Map<String, String> env = env(source, target, slot);
        env.put("SOURCE_INITIAL_COPY", "chunked");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong changes = new AtomicLong();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread workload = new Thread(() -> workload(source, stop, changes), "chunked-workload");
        workload.setUncaughtExceptionHandler((t, e) -> failed.set(e));
        try (LogCapture logs = new LogCapture(); StreamingRun run = new StreamingRun(env)) {
            workload.start();
            try {
                await("the initial backfill of app.big is done", () -> backfillDone(target, "app.big"));
            } finally {
                stop.set(true);
                workload.join();
            }
            assertThat(failed.get()).as("the workload").isNull();
            awaitLine(logs, "Slot " + slot + " created at ");
            assertThat(logs.lines(ch.qos.logback.classic.Level.INFO)).as("streaming at once, keyed tables in chunks")
                    .anyMatch(l -> l.contains("streaming at once and copying 2 table(s) in chunks meanwhile"));
            await("the initial backfill of app.other is done", () -> backfillDone(target, "app.other"));
            awaitEqual(source, target, List.of("big", "other", "log_lines"));
            List<String> other = versions(target, "app.other");

            SourceFixture.execute(pg, source, """
                    CREATE TABLE app.added (id int PRIMARY KEY, v text);
                    INSERT INTO app.added SELECT g, 'a' || g FROM generate_series(1, 1000) g;
                    UPDATE app.added SET v = 'changed' WHERE id % 10 = 0;
                    DELETE FROM app.added WHERE id > 990;
                    UPDATE app.big SET v = -v WHERE id <= 5;
                    """);
            await("the backfill of app.added is done", () -> backfillDone(target, "app.added"));
            awaitEqual(source, target, List.of("big", "other", "log_lines", "added"));
            assertThat(versions(target, "app.other")).as("app.other's rows are not written again").isEqualTo(other);
            assertThat(logs.lines(ch.qos.logback.classic.Level.INFO)).as("no temporary slot's snapshot for a table with a key")
                    .noneMatch(l -> l.startsWith("Copying \"app\".\"added\" inside"))
                    .anyMatch(l -> l.startsWith("Copying \"app\".\"added\" in chunks of 100 rows while streaming"));
            assertThat(run.stop()).isZero();
        }
    }

    /**
     * A table taken out of the publication while streaming stops pgsource (its changes since are lost) with the way out;
     * once added back, the next start backfills that table while the other streams, and it ends equal; the other table's
     * destination rows are the very same row versions as before.
     */
    @Test
    void aTableTakenOutOfThePublicationIsBackfilledOnceAddedBack() throws Exception {
        backfillsNeed14();
        String source = pg.createDatabase("readded_src");
        String target = pg.createDatabase("readded_dst");
        SourceFixture.execute(pg, source, TABLES);
        String slot = slot("readded");
        Map<String, String> env = env(source, target, slot);
        String pub = slot + "_pub";
        try (LogCapture logs = new LogCapture()) {
            try (StreamingRun run = new StreamingRun(env)) {
                awaitEqual(source, target, List.of("big", "other"));
                SourceFixture.execute(pg, source, "ALTER PUBLICATION " + pub + " DROP TABLE app.big;"
                        + " UPDATE app.big SET v = -v WHERE id % 3 = 0; DELETE FROM app.big WHERE id % 11 = 0;"
                        + " INSERT INTO app.big SELECT g, g, 'new' FROM generate_series(5001, 5100) g;"
                        + " INSERT INTO app.other VALUES (1001, 'streamed');");
                assertThat(run.awaitExit(60)).as("pgsource stops: changes of app.big are lost").isEqualTo(2);
            }
            assertThat(logs.lines(ch.qos.logback.classic.Level.ERROR)).anyMatch(l -> l.contains("was taken out of publication")
                    && l.contains("add the table back to the publication and start pgsource again"));
            SourceFixture.execute(pg, source, "ALTER PUBLICATION " + pub + " ADD TABLE app.big;");
            // the rows of app.other copied before (the one inserted at the end may be applied by either run)
            List<String> other = versions(target, "app.other").stream().filter(v -> !v.startsWith("1001:")).toList();
            try (StreamingRun run = new StreamingRun(env)) {
                await("the backfill of app.big is done", () -> backfillDone(target, "app.big"));
                SourceFixture.execute(pg, source, "UPDATE app.big SET v = 7 WHERE id = 1");
                awaitEqual(source, target, List.of("big", "other"));
                assertThat(versions(target, "app.other").stream().filter(v -> !v.startsWith("1001:")))
                        .as("app.other's rows are not written again").isEqualTo(other);
                assertThat(run.stop()).isZero();
            }
            assertThat(logs.lines(ch.qos.logback.classic.Level.INFO)).as("app.big backfilled, not copied in a snapshot")
                    .anyMatch(l -> l.startsWith("Copying \"app\".\"big\" in chunks of 100 rows while streaming"))
                    .noneMatch(l -> l.startsWith("Copying \"app\".\"big\" inside"));
        }
    }

    /** PostgreSQL 13's pgoutput delivers no logical decoding messages: the command says so, with the way out, and exits 2. */
    @Test
    void onPostgresql13TheCommandSaysBackfillsNeed14() throws Exception {
        TestPostgres pg13 = TestPostgres.server(13);
        String source = pg13.createDatabase("backfill_13");
        SourceFixture.execute(pg13, source, "CREATE SCHEMA app; CREATE TABLE app.big (id int PRIMARY KEY);");
        Map<String, String> env = SourceFixture.env(pg13, source, "app");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        Outcome refused = command(env, "app.big");
        assertThat(refused.code()).isEqualTo(2);
        assertThat(refused.err()).startsWith("backfill needs PostgreSQL 14 or newer (the source is 13)").contains("sync.resnapshot=true")
                .doesNotContain("\n");
    }

    /** PostgreSQL 13 has no logical decoding messages in pgoutput: source.initial_copy=chunked copies inside the snapshot. */
    @Test
    void onPostgresql13AChunkedInitialCopyIsMadeInsideTheSnapshot() throws Exception {
        TestPostgres pg13 = TestPostgres.server(13);
        String source = pg13.createDatabase("chunked_13_src");
        String target = pg13.createDatabase("chunked_13_dst");
        SourceFixture.execute(pg13, source, "CREATE SCHEMA app; CREATE TABLE app.big (id int PRIMARY KEY, v text);"
                + " INSERT INTO app.big SELECT g, 'v' || g FROM generate_series(1, 300) g;");
        Map<String, String> env = SourceFixture.postgresDestination(pg13, SourceFixture.env(pg13, source, "app"), target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot("chunked_13"));
        env.put("SOURCE_INITIAL_COPY", "chunked");
        try (LogCapture logs = new LogCapture(); StreamingRun run = new StreamingRun(env)) {
            awaitLine(logs, "Initial copy finished in ");
            assertThat(logs.lines(ch.qos.logback.classic.Level.INFO).stream().filter(l -> l.startsWith("source.initial_copy=chunked needs"
                    + " PostgreSQL 14 or newer"))).as("one line says so").hasSize(1);
            try (Connection s = pg13.connect(source); Connection d = pg13.connect(target)) {
                TableCompare.assertEqual(s, "app", d, "app", List.of("big"), "");
            }
            assertThat(run.stop()).isZero();
        }
    }

    /** Random changes to app.big, one to three per transaction, until stopped. */
    private static void workload(String source, AtomicBoolean stop, AtomicLong changes) {
        Random random = new Random(42);
        AtomicLong moved = new AtomicLong(100_000);
        try (Connection c = pg.connect(source)) {
            c.setAutoCommit(false);
            while (!stop.get()) {
                int n = 1 + random.nextInt(3);
                for (int i = 0; i < n; i++) {
                    int id = 1 + random.nextInt(3200);
                    String sql = switch (random.nextInt(6)) {
                        case 0, 1 -> "UPDATE app.big SET v = v + 1 WHERE id = " + id; // the TOASTed doc is not sent
                        case 2 -> "UPDATE app.big SET doc = " + DOC + " WHERE id = " + id;
                        case 3 -> "DELETE FROM app.big WHERE id = " + id;
                        case 4 -> "INSERT INTO app.big VALUES (" + id + ", 0, " + DOC + ") ON CONFLICT (id) DO NOTHING";
                        default -> "UPDATE app.big SET id = " + moved.incrementAndGet() + ", v = v + 1000 WHERE id = " + id;
                    };
                    try (PreparedStatement ps = c.prepareStatement(sql)) {
                        ps.executeUpdate();
                    }
                }
                c.commit();
                changes.addAndGet(n);
                Thread.sleep(2);
            }
        } catch (Exception e) {
            throw new IllegalStateException("the workload failed", e);
        }
    }
}
