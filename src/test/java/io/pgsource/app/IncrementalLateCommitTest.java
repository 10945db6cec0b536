package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * INCREMENTAL against transactions that commit after a run read newer rows (issue 12), end to end: pgsource runs with
 * {@code sync.once} into a postgres destination, a second connection holds a transaction open between runs, and the
 * destination ends equal to the source. No sleeps decide an outcome: the late transactions are held open explicitly.
 */
class IncrementalLateCommitTest {
    private static final List<String> COLUMNS = List.of("id", "note", "updated_at");
    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    /** A source with shop.orders, keyed by updated_at DEFAULT now() as the README's INCREMENTAL example. */
    private static String source(String prefix) throws Exception {
        String db = pg.createDatabase(prefix);
        SourceFixture.execute(pg, db, """
                CREATE SCHEMA shop;
                CREATE TABLE shop.orders (id bigint PRIMARY KEY, note text, updated_at timestamptz NOT NULL DEFAULT now());
                CREATE INDEX ON shop.orders (updated_at, id);""");
        return db;
    }

    private static Map<String, String> env(String source, String target) {
        Map<String, String> env = SourceFixture.env(pg, source, "shop");
        env.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        env.put("SOURCE_REPLICATION_KEY", "updated_at");
        return SourceFixture.postgresDestination(pg, env, target);
    }

    /** One sync run (sync.once), which must succeed. */
    private static void sync(Map<String, String> env) {
        assertThat(PgSourceMain.run(env, new Properties())).as("the sync run's exit code").isZero();
    }

    /** A session of an application that holds its transaction open: autocommit off. */
    private static Connection application(String db, String name) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", pg.user());
        p.setProperty("password", pg.password());
        p.setProperty("ApplicationName", name);
        Connection c = DriverManager.getConnection(pg.jdbcUrl(db), p);
        c.setAutoCommit(false);
        return c;
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static List<String> ids(String db) throws SQLException {
        return SourceFixture.query(pg, db, "SELECT id FROM shop.orders ORDER BY id");
    }

    private static void assertSameRows(String source, String target) throws SQLException {
        try (Connection s = pg.connect(source); Connection t = pg.connect(target)) {
            assertThat(SourceFixture.rows(t, "shop.orders", COLUMNS)).isEqualTo(SourceFixture.rows(s, "shop.orders", COLUMNS));
        }
    }

    @Test
    void theFiveStepsOfTheIssueEndWithTheDestinationEqualToTheSource() throws Exception {
        String source = source("late_five");
        String target = pg.createDatabase("late_five_dst");
        Map<String, String> env = env(source, target);
        SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (0, 'committed before')");
        try (Connection slow = application(source, "slow request")) {
            // 1. a transaction begins, inserts row 1 (updated_at: its start) and stays open
            execute(slow, "INSERT INTO shop.orders (id, note) VALUES (1, 'long transaction')");
            // 2. row 2 is inserted and committed after it
            SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (2, 'short transaction')");
            // 3. a sync runs: row 2 is newer than the open transaction's start, so it waits
            sync(env);
            assertThat(ids(target)).as("after step 3 (row 2 waits for the transaction that began before it)").containsExactly("0");
            // 4. the first transaction commits
            slow.commit();
        }
        // 5. the next sync copies rows 1 and 2
        sync(env);
        assertThat(ids(target)).as("after step 5").containsExactly("0", "1", "2");
        assertSameRows(source, target);
    }

    @Test
    void aTransactionHeldOpenAcrossThreeRunsHoldsBackEveryNewerRowUntilItCommits() throws Exception {
        String source = source("late_three");
        String target = pg.createDatabase("late_three_dst");
        Map<String, String> env = env(source, target);
        SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) SELECT g, 'old' FROM generate_series(1, 20) g");
        sync(env);
        try (Connection batch = application(source, "batch job")) {
            execute(batch, "INSERT INTO shop.orders (id, note) VALUES (100, 'written early, committed last')");
            for (int run = 1; run <= 3; run++) {
                SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) VALUES (" + (100 + run) + ", 'committed before run " + run + "');"
                        + " UPDATE shop.orders SET note = 'updated before run " + run + "', updated_at = now() WHERE id = " + run);
                sync(env);
                assertThat(SourceFixture.query(pg, target, "SELECT id || ' ' || note FROM shop.orders ORDER BY id"))
                        .as("after run %d: inserts and updates newer than the open transaction wait", run).hasSize(20)
                        .allSatisfy(row -> assertThat(row).endsWith(" old"));
            }
            execute(batch, "UPDATE shop.orders SET note = 'updated by the batch job', updated_at = now() WHERE id = 20");
            batch.commit();
        }
        sync(env);
        assertThat(ids(target)).hasSize(24);
        assertSameRows(source, target);
    }

    @Test
    void manyShortTransactionsRacingTheSyncRunsEndEqual() throws Exception {
        String source = source("late_race");
        String target = pg.createDatabase("late_race_dst");
        Map<String, String> env = env(source, target);
        SourceFixture.execute(pg, source, "INSERT INTO shop.orders (id, note) SELECT g, 'seed' FROM generate_series(1, 500) g");
        AtomicLong nextId = new AtomicLong(501);
        AtomicInteger updates = new AtomicInteger();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> writers = new ArrayList<>();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int w = 0; w < 4; w++) {
            Thread t = new Thread(() -> {
                try (Connection c = application(source, "writer")) {
                    writeUntil(stop, c, nextId, updates);
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "writer-" + w);
            t.start();
            writers.add(t);
        }
        int runs = 0;
        try {
            // every run races the writers; a few thousand rows in all
            while (runs < 4 || nextId.get() < 2500) {
                sync(env);
                runs++;
                assertThat(runs).as("sync runs before the writers wrote 2000 rows").isLessThan(30);
            }
        } finally {
            stop.set(true);
            for (Thread t : writers) {
                t.join();
            }
        }
        assertThat(failures).isEmpty();
        sync(env);

        assertThat(updates.get()).as("updates raced the runs too").isGreaterThan(100);
        assertThat(ids(target)).hasSizeGreaterThanOrEqualTo(2500);
        assertSameRows(source, target);
    }

    /**
     * Short transactions until told to stop: inserts of a few new rows, or updates of a few existing ones (each setting
     * updated_at), some waiting a moment before they commit so that runs start while they are open.
     */
    private static void writeUntil(AtomicBoolean stop, Connection c, AtomicLong nextId, AtomicInteger updates) throws SQLException {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        try (PreparedStatement insert = c.prepareStatement("INSERT INTO shop.orders (id, note) VALUES (?, 'inserted')");
             PreparedStatement update = c.prepareStatement(
                     "UPDATE shop.orders SET note = 'updated ' || clock_timestamp(), updated_at = now() WHERE id = ?");
             Statement pause = c.createStatement()) {
            while (!stop.get()) {
                try {
                    if (nextId.get() < 5000 && random.nextBoolean()) {
                        for (int i = random.nextInt(1, 6); i > 0; i--) {
                            insert.setLong(1, nextId.getAndIncrement());
                            insert.executeUpdate();
                        }
                    } else {
                        // one row per transaction: no deadlock between writers
                        update.setLong(1, random.nextLong(1, nextId.get()));
                        updates.addAndGet(update.executeUpdate());
                    }
                    if (random.nextInt(4) == 0) {
                        pause.execute("SELECT pg_sleep(0.02)");
                    }
                    c.commit();
                } catch (SQLException e) {
                    c.rollback();
                    throw e;
                }
            }
        }
    }
}
