package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code source.notify=true} (issue 9, item 6): INCREMENTAL woken by the source's NOTIFY through Camel's pgevent
 * component, end to end into a postgres destination. The timer's period is ten minutes, and every wait here ends long
 * before it: a change that arrives was brought by a notification. Many notifications while a run goes make one run.
 */
class NotifyWakeupTest {
    private static final String PASSWORD = "Notify-Role-Secret-7";
    /** Far longer than any wait here: only a notification can wake a run in time. */
    private static final String TIMER = "10m";
    private static final long WAIT_MS = 30_000;
    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    private static String source(String prefix) throws Exception {
        String db = pg.createDatabase(prefix);
        SourceFixture.execute(pg, db, """
                CREATE SCHEMA shop;
                CREATE TABLE shop.orders (id bigint PRIMARY KEY, note text, updated_at timestamptz NOT NULL DEFAULT now());
                CREATE INDEX ON shop.orders (updated_at, id);
                INSERT INTO shop.orders (id, note) SELECT g, 'before the start' FROM generate_series(1, 10) g;""");
        return db;
    }

    private static Map<String, String> env(String source, String target, boolean notify) {
        Map<String, String> env = SourceFixture.env(pg, source, "shop");
        env.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        env.put("SOURCE_REPLICATION_KEY", "updated_at");
        env.put("SYNC_ONCE", "false");
        env.put("SYNC_INTERVAL", TIMER);
        if (notify) {
            env.put("SOURCE_NOTIFY", "true");
        }
        return SourceFixture.postgresDestination(pg, env, target);
    }

    private static List<String> rows(String db) throws Exception {
        return SourceFixture.query(pg, db, "SELECT id || ' ' || note FROM shop.orders ORDER BY id");
    }

    private static void await(String what, BooleanSupplier condition) throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (!condition.getAsBoolean()) {
            assertThat(System.currentTimeMillis()).as("waited %d ms for %s", WAIT_MS, what).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private static BooleanSupplier sameRows(String source, String target) {
        return () -> {
            try {
                return rows(target).equals(rows(source));
            } catch (Exception e) {
                return false; // the destination table is not created yet
            }
        };
    }

    private static long runsFinished(LogCapture logs) {
        return logs.lines(Level.INFO).stream().filter(l -> l.startsWith("Batch run finished")).count();
    }

    @Test
    void aCommitArrivesWithinASecondThoughTheTimerWaitsTenMinutes() throws Exception {
        String source = source("notify_fast");
        String target = pg.createDatabase("notify_fast_dst");
        try (LogCapture logs = new LogCapture(); StreamingRun running = new StreamingRun(env(source, target, true))) {
            await("the first run", sameRows(source, target));
            long[] latencies = new long[5];
            for (int i = 0; i < latencies.length; i++) {
                long committed = System.nanoTime();
                SourceFixture.execute(pg, source, i % 2 == 0
                        ? "INSERT INTO shop.orders (id, note) VALUES (" + (100 + i) + ", 'inserted')"
                        : "UPDATE shop.orders SET note = 'updated " + i + "', updated_at = now() WHERE id = " + i);
                await("the change of step " + i, sameRows(source, target));
                latencies[i] = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - committed);
            }
            System.out.println("NotifyWakeupTest: commit to destination (ms): " + java.util.Arrays.toString(latencies));
            assertThat(java.util.Arrays.stream(latencies).max().getAsLong()).as("commit to destination, ms (the timer would take ten minutes)").isLessThan(5_000);
            assertThat(running.stop()).isZero();
        }
    }

    @Test
    void notificationsWhileARunGoesMakeOneMoreRun() throws Exception {
        String source = source("notify_coalesce");
        String target = pg.createDatabase("notify_coalesce_dst");
        try (LogCapture logs = new LogCapture(); StreamingRun running = new StreamingRun(env(source, target, true))) {
            await("the first run", sameRows(source, target));
            assertThat(runsFinished(logs)).isEqualTo(1);
            try (Connection blocker = pg.connect(target)) {
                // the destination's table is locked: the next run stops at its write, and stays running
                blocker.setAutoCommit(false);
                try (Statement s = blocker.createStatement()) {
                    s.execute("LOCK TABLE shop.orders IN ACCESS EXCLUSIVE MODE");
                }
                SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (100, 'wakes the held run')");
                await("the run to wait for the lock", () -> {
                    try {
                        return !SourceFixture.query(pg, target, "SELECT 1 FROM pg_catalog.pg_stat_activity WHERE datname = '"
                                + target + "' AND wait_event_type = 'Lock'").isEmpty();
                    } catch (Exception e) {
                        return false;
                    }
                });
                for (int i = 101; i <= 150; i++) {
                    SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (" + i + ", 'notified during the run')");
                }
                blocker.rollback();
            }
            await("every row", sameRows(source, target));
            assertThat(rows(target)).hasSize(61);
            assertThat(running.stop()).isZero();
            // the first run, the held one, one for the fifty notifications that came while it was held, and at most one more
            // where the upper bound was held by a writer still reporting its commit (each second until it is not)
            assertThat(runsFinished(logs)).as("runs for fifty notifications during a run").isBetween(3L, 4L);
        }
    }

    @Test
    void aRowHeldBackByATransactionThatWritesNoSelectedTableArrivesSoonAfterItEnds() throws Exception {
        String source = source("notify_held");
        String target = pg.createDatabase("notify_held_dst");
        try (LogCapture logs = new LogCapture(); StreamingRun running = new StreamingRun(env(source, target, true))) {
            await("the first run", sameRows(source, target));
            long runs = runsFinished(logs);
            try (Connection report = pg.connect(source)) {
                // a long report: its transaction is open, so INCREMENTAL reads only rows older than its start
                report.setAutoCommit(false);
                try (Statement s = report.createStatement()) {
                    s.execute("SELECT count(*) FROM shop.orders");
                }
                SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (500, 'newer than the report')");
                await("a run woken by the insert", () -> runsFinished(logs) > runs);
                assertThat(rows(target)).as("held back while the report's transaction is open").hasSize(10);
                // it ends without a notification: it wrote nothing
                report.commit();
            }
            await("the row held back, after the report ended", sameRows(source, target));
            assertThat(running.stop()).isZero();
        }
    }

    @Test
    void aSecondStartFindsTheTriggerInstalledAndIsWokenAgain() throws Exception {
        String source = source("notify_twice");
        String target = pg.createDatabase("notify_twice_dst");
        Map<String, String> env = env(source, target, true);
        try (StreamingRun first = new StreamingRun(env)) {
            await("the first run", sameRows(source, target));
            assertThat(first.stop()).isZero();
        }
        try (LogCapture logs = new LogCapture(); StreamingRun second = new StreamingRun(env)) {
            await("the first run of the second start", sameRows(source, target));
            SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (200, 'after the second start')");
            await("the row inserted after the second start", sameRows(source, target));
            assertThat(second.stop()).isZero();
            assertThat(logs.lines(Level.INFO)).noneMatch(l -> l.contains("installed trigger"));
        }
        assertThat(SourceFixture.query(pg, source, "SELECT tgname FROM pg_catalog.pg_trigger WHERE tgrelid = 'shop.orders'::regclass"))
                .containsExactly("pgsource_notify");
        assertThat(SourceFixture.query(pg, source, "SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p WHERE p.proname = 'pgsource_notify'"))
                .containsExactly("shop.pgsource_notify()");
    }

    @Test
    void withoutNotifyNoTriggerIsInstalledNobodyListensAndTheTimerStillRuns() throws Exception {
        String source = source("notify_off");
        String target = pg.createDatabase("notify_off_dst");
        Map<String, String> env = env(source, target, false);
        env.put("SYNC_INTERVAL", "500ms");
        try (StreamingRun running = new StreamingRun(env)) {
            await("the first run", sameRows(source, target));
            SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (300, 'read by a timer run')");
            await("the timer's next run", sameRows(source, target));
            assertThat(SourceFixture.query(pg, source, "SELECT 1 FROM pg_catalog.pg_stat_activity WHERE application_name = 'pgsource notify'"))
                    .isEmpty();
            assertThat(running.stop()).isZero();
        }
        assertThat(SourceFixture.query(pg, source, "SELECT tgname FROM pg_catalog.pg_trigger WHERE tgrelid = 'shop.orders'::regclass")).isEmpty();
    }

    @Test
    void aSyncOnceRunNeitherInstallsNorListens() throws Exception {
        String source = source("notify_once");
        String target = pg.createDatabase("notify_once_dst");
        Map<String, String> env = env(source, target, true);
        env.put("SYNC_ONCE", "true");
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertThat(rows(target)).isEqualTo(rows(source));
        assertThat(SourceFixture.query(pg, source, "SELECT tgname FROM pg_catalog.pg_trigger WHERE tgrelid = 'shop.orders'::regclass")).isEmpty();
    }

    @Test
    void aRoleThatMayNotCreateTheTriggerIsToldTheGrantAndStartsOnceTheOwnerInstalledIt() throws Exception {
        String source = source("notify_grant");
        String target = pg.createDatabase("notify_grant_dst");
        String role = source + "_role";
        SourceFixture.execute(pg, source, "CREATE ROLE " + role + " LOGIN PASSWORD '" + PASSWORD + "';"
                + " GRANT USAGE ON SCHEMA shop TO " + role + "; GRANT SELECT ON shop.orders TO " + role + ";"
                + " GRANT pg_read_all_stats TO " + role);
        Map<String, String> env = env(source, target, true);
        env.put("SOURCE_USERNAME", role);
        env.put("SOURCE_PASSWORD", PASSWORD);
        String log;
        int exit;
        try (LogCapture logs = new LogCapture()) {
            exit = PgSourceMain.run(env, new Properties());
            log = logs.text();
        }
        assertThat(exit).isEqualTo(2);
        assertThat(log).contains("source.notify=true: pgsource cannot create its NOTIFY trigger function in schema \"shop\""
                + " (permission denied for schema shop): run GRANT CREATE ON SCHEMA \"shop\" TO \"" + role + "\";")
                .doesNotContain("unset source.notify: ").doesNotContain(PASSWORD);

        // the owner installs them with the README's SQL; the role needs no more privileges then
        SourceFixture.execute(pg, source, readmeSql());
        try (LogCapture logs = new LogCapture(); StreamingRun running = new StreamingRun(env)) {
            await("the first run", sameRows(source, target));
            SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (400, 'woken for a least-privilege role')");
            await("the notified row", sameRows(source, target));
            assertThat(running.stop()).isZero();
            assertThat(logs.text()).doesNotContain(PASSWORD);
        }
    }

    /** The README's SQL for installing the trigger by hand (on shop.orders, the channel pgsource_notify). */
    static String readmeSql() throws Exception {
        String readme = java.nio.file.Files.readString(java.nio.file.Path.of("src/main/docs/replication-methods.md"));
        int at = readme.indexOf("CREATE FUNCTION shop.pgsource_notify()");
        assertThat(at).as("the trigger SQL of replication-methods.md").isPositive();
        return readme.substring(at, readme.indexOf("```", at));
    }
}
