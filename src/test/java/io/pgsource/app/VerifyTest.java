package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.MySqlCompare;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestMariaDb;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.verify.VerifyCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code pgsource verify} and {@code pgsource repair} end to end on the embedded PostgreSQL, against a running pgsource
 * streaming into a postgres destination while a workload changes the source all along: verify finds exactly the rows
 * damaged by hand at the destination (changed, deleted, and one the source never had) and nothing the stream is still
 * bringing, repair makes them equal through the running instance, and verify is then clean.
 */
class VerifyTest {
    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    private record Outcome(int code, String out, String err) {
    }

    private static Outcome command(boolean repair, Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = VerifyCommand.run(repair, List.of(args), env, new Properties(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8).strip(), err.toString(StandardCharsets.UTF_8).strip());
    }

    private static Map<String, String> env(String source, String target, String slot) {
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "app"), target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        return env;
    }

    @Test
    void verifyFindsTheRowsDamagedAtTheDestinationAndRepairFixesThemWhileAWorkloadRuns() throws Exception {
        String source = pg.createDatabase("verify_src");
        String target = pg.createDatabase("verify_dst");
        SourceFixture.execute(pg, source, """
                CREATE SCHEMA app;
                CREATE TABLE app.orders (id int PRIMARY KEY, v int NOT NULL, note text, amount numeric(12,2), at timestamptz,
                  tags text[], doc jsonb, ratio double precision);
                INSERT INTO app.orders SELECT g, g, 'note ' || g, g * 1.25, timestamptz '2024-01-01 00:00+02' + g * interval '1 minute',
                  ARRAY['a' || g, NULL], jsonb_build_object('g', g), g / 3.0 FROM generate_series(1, 3000) g;
                CREATE TABLE app.lines (region text, n int, qty int, PRIMARY KEY (region, n));
                INSERT INTO app.lines SELECT CASE WHEN g % 3 = 0 THEN 'Ünter' WHEN g % 3 = 1 THEN 'east' ELSE 'West' END, g, g
                  FROM generate_series(1, 900) g;
                CREATE TABLE app.events (at int, msg text);
                INSERT INTO app.events SELECT g, 'event ' || g FROM generate_series(1, 50) g;
                """);
        String slot = "verify_" + ProcessHandle.current().pid();
        Map<String, String> env = env(source, target, slot);
        try (StreamingRun run = new StreamingRun(env)) {
            awaitEqual(source, target, List.of("orders", "lines", "events"));
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong changes = new AtomicLong();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread workload = new Thread(() -> workload(source, stop, changes), "verify-workload");
            workload.setUncaughtExceptionHandler((t, e) -> failed.set(e));
            workload.start();
            try {
                await("the workload runs", () -> changes.get() > 20);
                Outcome clean = command(false, env);
                assertThat(clean.code()).as(clean.out() + clean.err()).isZero();
                assertThat(clean.out()).contains("app.orders: equal (").contains("app.lines: equal (900 rows)")
                        .contains("app.events: equal (50 rows; no primary key: compared by the count and checksum of all rows");

                SourceFixture.execute(pg, target, """
                        UPDATE app.orders SET note = 'damaged' WHERE id = 7;
                        DELETE FROM app.orders WHERE id = 9;
                        INSERT INTO app.orders (id, v) VALUES (-5, 0);
                        UPDATE app.lines SET qty = -1 WHERE region = 'Ünter' AND n = 3;
                        """);
                long before = changes.get();
                Outcome differs = command(false, env);
                assertThat(differs.code()).as(differs.out() + differs.err()).isEqualTo(3);
                assertThat(differs.out()).contains("app.orders: differs: 3 keys: ").contains("(id)=(7) changed")
                        .contains("(id)=(9) missing at the destination").contains("(id)=(-5) not at the source")
                        .contains("app.lines: differs: 1 key: (region, n)=(Ünter, 3) changed")
                        .contains("app.events: equal");

                Outcome repaired = command(true, env);
                assertThat(repaired.code()).as(repaired.out() + repaired.err()).isZero();
                assertThat(repaired.out()).contains("app.orders: repair requested at LSN ").contains("Repair applied; verifying again:")
                        .contains("app.lines: equal (900 rows)");
                Outcome after = command(false, env);
                assertThat(after.code()).as(after.out() + after.err()).isZero();
                assertThat(changes.get() - before).as("changes made while verify and repair ran").isGreaterThan(50);
            } finally {
                stop.set(true);
                workload.join();
            }
            assertThat(failed.get()).as("the workload").isNull();
            awaitEqual(source, target, List.of("orders", "lines", "events"));
            assertThat(run.stop()).isZero();
        }
        // no instance streams the slot: verify does not wait for one, and repair leaves its request to the next run
        SourceFixture.execute(pg, target, "DELETE FROM app.orders WHERE id = 20");
        long started = System.nanoTime();
        Outcome idle = command(true, env, "app.orders");
        assertThat(idle.code()).as(idle.out() + idle.err()).isEqualTo(3);
        assertThat(idle.out()).contains("app.orders: differs: 1 key: (id)=(20) missing at the destination")
                .contains("No pgsource instance streams slot " + slot + " now: the repair waits in the slot, and the next run applies it");
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started)).as("seconds, no waiting for the stream").isLessThan(50);
        try (StreamingRun again = new StreamingRun(env)) {
            awaitEqual(source, target, List.of("orders"));
            assertThat(again.stop()).isZero();
        }
    }

    /**
     * The same into MySQL/MariaDB (skipped without one): each type compared by the canonical text both servers print
     * (the destination's type mapping), a text key ranged in byte order on both sides, and repair deleting a row only
     * the destination has, while the source keeps changing.
     */
    @Test
    void verifyAndRepairAMysqlDestination() throws Exception {
        TestMariaDb mysql = TestMariaDb.server();
        String source = pg.createDatabase("verify_my_src");
        String target = mysql.createDatabase("verify_my_dst");
        SourceFixture.execute(pg, source, """
                CREATE SCHEMA app;
                CREATE TABLE app.items (id bigint PRIMARY KEY, ok boolean, note text, price numeric(12,2), big numeric,
                  at timestamptz, day date, t time, raw bytea, doc jsonb, tags text[], ratio double precision, u uuid, c char(4));
                INSERT INTO app.items SELECT g, g % 2 = 0, 'n' || g, g * 1.5, g * 10000000000000000000.123, '2024-03-01 12:00:00.123456+02'::timestamptz
                  + g * interval '1 second', date '2024-01-01' + g, time '10:00' + g * interval '1 ms', decode(lpad(to_hex(g), 8, '0'), 'hex'),
                  jsonb_build_object('g', g), ARRAY['x', g::text], g / 7.0, md5(g::text)::uuid, 'c' || (g % 10)
                  FROM generate_series(1, 2000) g;
                CREATE TABLE app.words (w text PRIMARY KEY, n int);
                INSERT INTO app.words SELECT w, length(w) FROM unnest(ARRAY['a', 'B', 'b', 'Z', 'é', 'a b', 'zz', 'Ä', 'ab']) w;
                INSERT INTO app.words SELECT 'w' || g, g FROM generate_series(1, 600) g;
                CREATE TABLE app.ticks (at timestamptz PRIMARY KEY, v int);
                INSERT INTO app.ticks SELECT timestamptz '2024-06-01 10:00:00.5+02' + g * interval '1 hour', g FROM generate_series(1, 10) g;
                """);
        String slot = "verify_my_" + ProcessHandle.current().pid();
        Map<String, String> env = SourceFixture.env(pg, source, "app");
        env.put("DESTINATION", "mysql");
        env.put("DESTINATION_URL", mysql.url(target));
        env.put("DESTINATION_USERNAME", mysql.user);
        env.put("DESTINATION_PASSWORD", mysql.password);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        try (StreamingRun run = new StreamingRun(env); Connection my = mysql.connect(target)) {
            await("the copy reached mysql", () -> {
                try (var s = my.createStatement(); var rs = s.executeQuery("SELECT SUM(TABLE_ROWS) >= 0 AND COUNT(*) = 3"
                        + " FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('items', 'words', 'ticks')")) {
                    if (!rs.next() || !rs.getBoolean(1)) {
                        return false;
                    }
                }
                try (var s = my.createStatement(); var rs = s.executeQuery("SELECT (SELECT COUNT(*) FROM items) + (SELECT COUNT(*) FROM words)"
                        + " + (SELECT COUNT(*) FROM ticks)")) {
                    return rs.next() && rs.getLong(1) == 2619;
                } catch (java.sql.SQLException e) {
                    return false;
                }
            });
            SourceFixture.execute(pg, source, "UPDATE app.items SET note = 'changed', at = now() WHERE id % 100 = 0");
            Outcome clean = command(false, env);
            assertThat(clean.code()).as(clean.out() + clean.err()).isZero();
            assertThat(clean.out()).contains("app.items: equal (2,000 rows)").contains("app.words: equal (609 rows)");
            try (var s = my.createStatement()) {
                s.execute("UPDATE items SET price = price + 0.01 WHERE id = 11");
                s.execute("UPDATE items SET at = '2024-01-01 00:00:00' WHERE id = 12");
                s.execute("DELETE FROM items WHERE id = 13");
                s.execute("INSERT INTO items (id) VALUES (5000)");
                s.execute("UPDATE words SET n = -1 WHERE w = 'é'");
                s.execute("DELETE FROM words WHERE w = 'B'");
                s.execute("DELETE FROM ticks WHERE v = 3");
            }
            Outcome differs = command(false, env);
            assertThat(differs.code()).as(differs.out() + differs.err()).isEqualTo(3);
            assertThat(differs.out()).contains("app.items: differs: 4 keys: (id)=(11) changed; (id)=(12) changed; (id)=(13) missing at the"
                    + " destination; (id)=(5000) not at the source").contains("app.words: differs: 2 keys: ").contains("(w)=(é) changed")
                    .contains("(w)=(B) missing at the destination")
                    .contains("app.ticks: differs: 1 key: (at)=(2024-06-01 11:00:00.500000) missing at the destination");
            Outcome repaired = command(true, env);
            assertThat(repaired.code()).as(repaired.out() + repaired.err()).isZero();
            Outcome after = command(false, env);
            assertThat(after.code()).as(after.out()).isZero();
            for (String table : List.of("items", "words", "ticks")) {
                assertThat(MySqlCompare.difference(pg.connect(source), "app", my, table)).isEmpty();
            }
            assertThat(run.stop()).isZero();
        }
    }

    /** An event destination holds no rows to compare: one line, exit 2; so do an unknown table and an unknown option. */
    @Test
    void eventDestinationsAndBadInputAreRefusedWithOneLine() throws Exception {
        String source = pg.createDatabase("verify_bad_src");
        SourceFixture.execute(pg, source, "CREATE SCHEMA app; CREATE TABLE app.t (id int PRIMARY KEY);");
        Map<String, String> env = SourceFixture.env(pg, source, "app");
        env.put("DESTINATION", "kafka");
        env.put("DESTINATION_KAFKA_BROKERS", "127.0.0.1:1");
        Outcome kafka = command(false, env);
        assertThat(kafka.code()).isEqualTo(2);
        assertThat(kafka.err()).startsWith("destination=kafka cannot be verified: it is an event destination").doesNotContain("\n");
        env.put("DESTINATION", "jsonl");
        assertThat(command(true, env).err()).startsWith("destination=jsonl cannot be verified");

        String target = pg.createDatabase("verify_bad_dst");
        Map<String, String> pgEnv = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "app"), target);
        Outcome unknown = command(false, pgEnv, "app.nope");
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).startsWith("\"app\".\"nope\" is not a captured table").doesNotContain("\n");
        Outcome option = command(false, pgEnv, "--fast");
        assertThat(option.code()).isEqualTo(2);
        assertThat(option.err()).startsWith("unknown option --fast");
        // nothing copied yet: the destination has no table, which is a difference (exit 3), not bad input
        Outcome missing = command(false, pgEnv);
        assertThat(missing.code()).as(missing.err()).isEqualTo(3);
        assertThat(missing.out()).startsWith("app.t: differs: the destination has no table");
    }

    private static void await(String what, java.util.concurrent.Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.call()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(100);
        }
    }

    private static void awaitEqual(String source, String target, List<String> tables) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!TableCompare.differences(s, "app", d, "app", tables).isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            TableCompare.assertEqual(s, "app", d, "app", tables, "");
        }
    }

    /**
     * Updates, deletes, inserts and key changes of app.orders rows above id 100 and of app.lines rows of region east,
     * one to three per transaction, until stopped: never the rows damaged by hand, which only repair may fix.
     */
    private static void workload(String source, AtomicBoolean stop, AtomicLong changes) {
        Random random = new Random(7);
        AtomicLong moved = new AtomicLong(100_000);
        try (Connection c = pg.connect(source)) {
            c.setAutoCommit(false);
            while (!stop.get()) {
                int n = 1 + random.nextInt(3);
                for (int i = 0; i < n; i++) {
                    int id = 101 + random.nextInt(3000);
                    String sql = switch (random.nextInt(6)) {
                        case 0, 1 -> "UPDATE app.orders SET v = v + 1, note = md5(random()::text), ratio = random() WHERE id = " + id;
                        case 2 -> "DELETE FROM app.orders WHERE id = " + id;
                        case 3 -> "INSERT INTO app.orders (id, v, at) VALUES (" + id + ", 0, now()) ON CONFLICT (id) DO NOTHING";
                        case 4 -> "UPDATE app.lines SET qty = qty + 1 WHERE region = 'east' AND n = " + (1 + 3 * random.nextInt(300));
                        default -> "UPDATE app.orders SET id = " + moved.incrementAndGet() + " WHERE id = " + id;
                    };
                    try (PreparedStatement ps = c.prepareStatement(sql)) {
                        ps.executeUpdate();
                    }
                }
                c.commit();
                changes.addAndGet(n);
                Thread.sleep(5);
            }
        } catch (Exception e) {
            throw new IllegalStateException("the workload failed", e);
        }
    }
}
