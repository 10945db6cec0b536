package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.pgsource.testsupport.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The packaged jar streaming LOG_BASED into PostgreSQL is killed with SIGKILL (no shutdown hook, no flush) at random
 * moments, first during its initial copy, then mid-stream, and restarted each time, while a writer keeps changing the
 * source: inserts, updates, deletes, primary-key changes, updates that leave 200 kB TOASTed values unchanged, a truncate
 * and refill, transactions of 1 to 5,000 rows (arriving in parts of 1,000). A last {@code sync.once} run must then
 * end with every destination table equal to its source table, row for row: nothing lost, nothing doubled.
 */
class CrashRecoveryIT {
    private static final Logger LOG = LoggerFactory.getLogger(CrashRecoveryIT.class);
    private static final long WRITE_MILLIS = 40_000;
    private static final List<String> TABLES = List.of("accounts", "docs", "scratch", "events");

    private final TestPostgres pg = TestPostgres.server();
    private final long seed = System.nanoTime();
    private final Random random = new Random(seed);
    private final List<Path> logs = new ArrayList<>();
    private final List<String> story = new ArrayList<>();

    @Test
    void killedAtRandomMomentsTheDestinationStillEndsEqualToTheSource(@TempDir Path work) throws Exception {
        Path jar = Path.of("target", "pgsource.jar").toAbsolutePath();
        assertThat(jar).exists();
        String source = pg.createDatabase("crash_src");
        String target = pg.createDatabase("crash_dst");
        String slot = "crash_" + ProcessHandle.current().pid();
        SourceFixture.execute(pg, source, SCHEMA);
        Map<String, String> env = childEnv(source, target, slot);

        Writer writer = new Writer(source, new Random(seed + 1));
        Thread writerThread = new Thread(writer, "crash-writer");
        Process child = null;
        try {
            long writeUntil = System.currentTimeMillis() + WRITE_MILLIS;
            writer.until = writeUntil;
            child = start(jar, work, env);
            writerThread.start();

            // kill 1: inside the initial copy (the slot exists, some tables are partly copied)
            Path log = logs.get(0);
            awaitLog(log, "copying", 60_000);
            Thread.sleep(random.nextInt(400));
            String before = Files.readString(log);
            kill(child, before.contains("Initial copy finished") ? "after the initial copy" : "during the initial copy");

            // kills 2 and 3: mid-stream, at random moments while the writer runs
            for (int i = 0; i < 2; i++) {
                child = start(jar, work, env);
                Thread.sleep(3_000 + random.nextInt(8_000));
                kill(child, "mid-stream");
            }
            child = start(jar, work, env);
            writerThread.join(WRITE_MILLIS + 60_000);
            assertThat(writerThread.isAlive()).as("writer ended").isFalse();
            if (writer.failure.get() != null) {
                throw new AssertionError("the writer failed (seed " + seed + ")", writer.failure.get());
            }
            Thread.sleep(random.nextInt(2_000));
            kill(child, "after the writer stopped, maybe mid catch-up");
            child = null;

            // the last run syncs once: everything committed before it started is applied and acknowledged
            Map<String, String> once = new HashMap<>(env);
            once.put("SYNC_ONCE", "true");
            Process last = start(jar, work, once);
            boolean ended = last.waitFor(90, TimeUnit.SECONDS);
            if (!ended) {
                last.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            assertThat(ended).as("the sync.once run ended%n%s", context()).isTrue();
            assertThat(last.exitValue()).as("the sync.once run's exit code%n%s", context()).isZero();

            assertThat(writer.transactions.get()).as("the writer committed transactions").isGreaterThan(50);
            compare(source, target);
            LOG.info("Crash recovery passed after {} writer transactions: {}", writer.transactions.get(), String.join(" -> ", story));
        } finally {
            writer.stop.set(true);
            if (child != null) {
                child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            writerThread.join(30_000);
            dropSlot(source, slot);
        }
    }

    private static final String SCHEMA = """
            CREATE SEQUENCE account_ids START 1000001;
            CREATE SEQUENCE doc_ids START 1001;
            CREATE TABLE accounts (id bigint PRIMARY KEY, balance int NOT NULL, note text, updated timestamptz DEFAULT now());
            CREATE TABLE docs (id int PRIMARY KEY, version int NOT NULL, title text, body text);
            CREATE TABLE scratch (id int PRIMARY KEY, v text);
            CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, payload jsonb, amount numeric);
            INSERT INTO accounts (id, balance, note) SELECT g, g % 1000, 'seed ' || g FROM generate_series(1, 200000) g;
            -- about 200 kB of barely compressible text per row: stored out of line (TOAST)
            INSERT INTO docs SELECT d, 0, 'doc ' || d, (SELECT string_agg(md5(d || ':' || g), '') FROM generate_series(1, 6400) g)
              FROM generate_series(1, 40) d;
            INSERT INTO scratch SELECT g, md5(g::text) FROM generate_series(1, 2000) g;
            INSERT INTO events (kind, payload, amount) SELECT 'seed', jsonb_build_object('n', g), g / 7.0 FROM generate_series(1, 20000) g;
            """;

    private Map<String, String> childEnv(String source, String target, String slot) {
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), target);
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", String.join(",", TABLES.stream().map(t -> "public." + t).toList()));
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        // small pages and parts: more commits to be killed between, and 5,000-row transactions arrive in parts
        env.put("SOURCE_BATCH_FETCH_LIMIT", "1000");
        env.put("SOURCE_MAX_BATCH_SIZE", "1000");
        return env;
    }

    private Process start(Path jar, Path work, Map<String, String> env) throws IOException {
        Path log = work.resolve("run-" + (logs.size() + 1) + ".log");
        logs.add(log);
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", jar.toString())
                .directory(work.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().remove("SYNC_ONCE");
        pb.environment().putAll(env);
        story.add("start run-" + logs.size() + (env.containsKey("SYNC_ONCE") ? " (sync.once)" : ""));
        return pb.start();
    }

    private void kill(Process child, String when) throws InterruptedException {
        child.destroyForcibly();
        assertThat(child.waitFor(10, TimeUnit.SECONDS)).as("killed").isTrue();
        story.add("SIGKILL run-" + logs.size() + " " + when);
    }

    private static void awaitLog(Path log, String text, long millis) throws Exception {
        long end = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < end) {
            if (Files.exists(log) && Files.readString(log).contains(text)) {
                return;
            }
            Thread.sleep(20);
        }
        fail("'" + text + "' did not appear in " + log + ":\n" + tail(log, 40));
    }

    private void compare(String source, String target) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            for (String table : TABLES) {
                List<String> columns = SourceFixture.columns(s, "public", table);
                String q = SourceFixture.qualified("public", table);
                List<String> expected = SourceFixture.rows(s, q, columns);
                List<String> actual = SourceFixture.rows(d, q, columns);
                if (!expected.equals(actual)) {
                    fail(table + ": the destination differs from the source (" + expected.size() + " vs " + actual.size() + " rows)\n"
                            + difference(expected, actual) + "\n" + context());
                }
            }
        }
    }

    /** A few rows only one side has (with their counts), not two lists of 200,000 rows. */
    private static String difference(List<String> expected, List<String> actual) {
        Map<String, Integer> counts = new HashMap<>();
        expected.forEach(r -> counts.merge(r, 1, Integer::sum));
        actual.forEach(r -> counts.merge(r, -1, Integer::sum));
        StringBuilder out = new StringBuilder();
        int shown = 0;
        for (var e : counts.entrySet()) {
            if (e.getValue() != 0 && shown++ < 10) {
                String row = e.getKey().length() > 200 ? e.getKey().substring(0, 200) + "..." : e.getKey();
                out.append(e.getValue() > 0 ? "  missing x" + e.getValue() : "  extra x" + -e.getValue()).append(": ").append(row).append('\n');
            }
        }
        long differing = counts.values().stream().filter(v -> v != 0).count();
        return differing + " differing row(s), e.g.:\n" + out;
    }

    private String context() {
        StringBuilder out = new StringBuilder("seed " + seed + "; " + String.join(" -> ", story) + "\n");
        for (Path log : logs) {
            out.append("---- ").append(log.getFileName()).append(" (tail) ----\n").append(tail(log, 25));
        }
        return out.toString();
    }

    private static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())) + "\n";
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")\n";
        }
    }

    private void dropSlot(String source, String slot) {
        try (Connection c = pg.connect(source); var ps = c.prepareStatement(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ? AND NOT active")) {
            ps.setString(1, slot);
            ps.execute();
        } catch (SQLException e) {
            // only tidiness: the server is the test JVM's and goes away with it
        }
    }

    /** The mixed workload: one transaction after another until the deadline, each of 1 to 5,000 changed rows. */
    private final class Writer implements Runnable {
        private final String db;
        private final Random rnd;
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final AtomicInteger transactions = new AtomicInteger();
        private volatile long until;

        Writer(String db, Random rnd) {
            this.db = db;
            this.rnd = rnd;
        }

        @Override
        public void run() {
            try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                while (!stop.get() && System.currentTimeMillis() < until) {
                    int statements = rnd.nextInt(10) == 0 ? 2 + rnd.nextInt(4) : 1;
                    for (int i = 0; i < statements; i++) {
                        s.execute(change());
                    }
                    c.commit();
                    transactions.incrementAndGet();
                    Thread.sleep(rnd.nextInt(30));
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        }

        /** Rows per statement: mostly a few, sometimes hundreds, now and then thousands. */
        private int size() {
            int r = rnd.nextInt(20);
            return r < 14 ? 1 + rnd.nextInt(20) : r < 19 ? 1 + rnd.nextInt(500) : 1000 + rnd.nextInt(4001);
        }

        private long someAccount() {
            return 1 + rnd.nextInt(220_000);
        }

        private String change() {
            int n = size();
            long at = someAccount();
            return switch (rnd.nextInt(12)) {
                case 0, 1 -> "INSERT INTO accounts (id, balance, note) SELECT nextval('account_ids'), g, 'ins' FROM generate_series(1, " + n + ") g";
                case 2, 3 -> "UPDATE accounts SET balance = balance + 1, note = 'upd ' || txid_current(), updated = clock_timestamp() "
                        + "WHERE id IN (SELECT id FROM accounts WHERE id >= " + at + " ORDER BY id LIMIT " + n + ")";
                case 4 -> "DELETE FROM accounts WHERE id IN (SELECT id FROM accounts WHERE id >= " + at + " ORDER BY id LIMIT " + Math.min(n, 300) + ")";
                // primary-key changes: the old key must disappear, the new one appear
                case 5 -> "UPDATE accounts SET id = nextval('account_ids'), note = 'moved' "
                        + "WHERE id IN (SELECT id FROM accounts WHERE id >= " + at + " ORDER BY id LIMIT " + Math.min(n, 50) + ")";
                // the 200 kB body is not in the WAL of these updates (unchanged TOAST): the destination must keep it
                case 6 -> "UPDATE docs SET version = version + 1, title = 'v' || (version + 1) WHERE id IN (SELECT id FROM docs ORDER BY random() LIMIT 3)";
                case 7 -> switch (rnd.nextInt(4)) {
                    case 0 -> "UPDATE docs SET id = nextval('doc_ids'), version = version + 1 WHERE id = (SELECT min(id) FROM docs)";
                    case 1 -> "UPDATE docs SET body = (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 6400)) "
                            + "WHERE id = (SELECT id FROM docs ORDER BY random() LIMIT 1)";
                    case 2 -> "INSERT INTO docs SELECT nextval('doc_ids'), 0, 'new', (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 6400))";
                    default -> "DELETE FROM docs WHERE id = (SELECT max(id) FROM docs) AND (SELECT count(*) FROM docs) > 20";
                };
                case 8 -> rnd.nextInt(4) == 0
                        ? "TRUNCATE scratch; INSERT INTO scratch SELECT g, md5(random()::text) FROM generate_series(1, " + n + ") g"
                        : "UPDATE scratch SET v = md5(v) WHERE id % 10 = " + rnd.nextInt(10);
                case 9 -> "INSERT INTO events (kind, payload, amount) SELECT 'w', jsonb_build_object('g', g, 'r', random()), round((random() * 1000)::numeric, 3) "
                        + "FROM generate_series(1, " + n + ") g";
                case 10 -> "UPDATE events SET payload = payload || '{\"touched\": true}', amount = amount + 0.001 "
                        + "WHERE id IN (SELECT id FROM events WHERE id >= " + (1 + rnd.nextInt(30_000)) + " ORDER BY id LIMIT " + n + ")";
                default -> "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id >= " + (1 + rnd.nextInt(30_000)) + " ORDER BY id LIMIT "
                        + Math.min(n, 200) + ")";
            };
        }
    }
}
