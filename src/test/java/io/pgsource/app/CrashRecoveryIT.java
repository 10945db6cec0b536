package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.DestinationSessions;
import io.pgsource.testsupport.JsonlEvents;
import io.pgsource.testsupport.MixedWorkload;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import io.pgsource.state.FilePositionStore;
import io.pgsource.state.Positions;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The packaged jar streaming LOG_BASED is killed with SIGKILL (no shutdown hook, no flush) at chosen and random
 * moments while the {@link MixedWorkload} keeps changing its twelve tables, and restarted each time: during the
 * initial copy, mid-stream, during a destination COMMIT (once completing without pgsource, once lost with its session),
 * between the parts of a 20,000-row transaction, and during the catch-up after the writer stopped. A last
 * {@code sync.once} run must leave the {@code postgres} destination equal to the source, EXCEPT ALL both ways, table by
 * table; the {@code jsonl} destination must keep its at-least-once contract line by line and, replayed, equal the
 * source, with every transaction committed after the copy present.
 */
class CrashRecoveryIT {
    private static final Logger LOG = LoggerFactory.getLogger(CrashRecoveryIT.class);
    private static final int SCALE = 30_000;
    /** source.max_batch_size: big transactions arrive in parts of this many changes. */
    private static final int MAX_BATCH_SIZE = 1000;
    private static final Duration START = Duration.ofSeconds(120);
    /** The first run copies in small pages: the copy lasts seconds instead of one, and is killed inside it. */
    private static final Map<String, String> SLOW_COPY = Map.of("SOURCE_BATCH_FETCH_LIMIT", "50");
    private static final Pattern COPY_POINT = Pattern.compile(
            "(?:temporary slot \\S+ at|Initial copy finished in \\d+ ms; streaming from) ([0-9A-F]+/[0-9A-F]+)");

    private final TestPostgres pg = TestPostgres.server();
    private final long seed = System.nanoTime();
    private final Random random = new Random(seed);

    @Test
    void killedAtRandomMomentsThePostgresDestinationStillEndsEqualToTheSource() throws Exception {
        Path work = workDirectory("crash-postgres");
        String source = pg.createDatabase("crash_src");
        String target = pg.createDatabase("crash_dst");
        String slot = "crash_pg_" + ProcessHandle.current().pid();
        MixedWorkload workload = MixedWorkload.builder(() -> pg.connect(source)).scale(SCALE).maxPauseMillis(40).seed(seed).build();
        workload.create();
        Map<String, String> env = SourceFixture.postgresDestination(pg, childEnv(source, slot, workload), target);
        // every copy of this run (the initial one killed midway, the one after it) with 4 readers in one snapshot: a kill
        // must not leave a table marked copied before all its ranges are applied (the jsonl run below copies with one)
        env.put("SOURCE_SNAPSHOT_WORKERS", "4");
        DestinationSessions destination = new DestinationSessions(() -> pg.connect(target));
        try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
            pgsource.start(SLOW_COPY);
            workload.start();

            // 1: inside the initial copy: some pages are committed at the destination, not all
            pgsource.awaitLog("copying", START);
            pgsource.await("the first copied page", Duration.ofSeconds(90), () -> destination.positionsTableExists());
            Thread.sleep(random.nextInt(500));
            assertThat(pgsource.logText()).as("the copy is still running").doesNotContain("Initial copy finished")
                    .contains("with 4 readers");
            pgsource.kill("during the initial copy");

            // 2: the next run copies again, inside a temporary slot's snapshot; killed mid-stream at a random moment
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);
            Thread.sleep(1_000 + random.nextInt(4_000));
            pgsource.kill("mid-stream");

            // 3: while the destination commits a batch; the commit completes after pgsource is gone
            destination.install();
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);
            destination.arm(Duration.ofMillis(1_500));
            DestinationSessions.Committing committing = destination.awaitCommitting(Duration.ofSeconds(60));
            assertThat(committing).as("a destination COMMIT in progress\n%s", pgsource.context()).isNotNull();
            pgsource.kill("during a destination COMMIT, which then completes");
            destination.disarm();
            // before the next run: else the next step could find this session still sleeping in its COMMIT
            assertThat(destination.awaitEnded(committing.pid(), Duration.ofSeconds(30))).as("the orphaned COMMIT completed").isTrue();
            pgsource.note("its commit completed");

            // 4: while the destination commits, and that commit is lost with its session
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);
            destination.arm(Duration.ofSeconds(5));
            committing = destination.awaitCommitting(Duration.ofSeconds(60));
            assertThat(committing).as("a destination COMMIT in progress\n%s", pgsource.context()).isNotNull();
            pgsource.kill("during a destination COMMIT");
            assertThat(destination.terminate(committing.pid())).as("the committing session ended").isTrue();
            pgsource.note("its session terminated: the commit is lost");
            destination.disarm();

            // 5: between the parts of a 20,000-row transaction: the destination holds some of its parts
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);
            bigTransaction(source, workload);
            pgsource.await("a partly applied transaction", Duration.ofSeconds(90), () -> String.valueOf(destination.storedPosition(slot)).contains("#"));
            pgsource.kill("between the parts of a 20,000-row transaction (" + destination.storedPosition(slot) + " stored)");

            // 6: the writer stops; pgsource is killed somewhere in its catch-up
            killDuringCatchUp(pgsource, workload);

            // the last run syncs once: everything committed before it started is applied and acknowledged
            assertThat(pgsource.runOnce(Duration.ofSeconds(180))).as("the sync.once run's exit code\n%s", pgsource.context()).isZero();
            assertThat(workload.stats().transactions()).as("the writer committed transactions").isGreaterThan(100);
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                TableCompare.assertEqual(s, "public", d, "public", tableNames(workload), "seed " + seed + "; " + pgsource.context());
            }
            LOG.info("Crash recovery (postgres) passed: {}; {}", workload.stats(), pgsource.story());
            pgsource.deleteWorkDirectory();
        } finally {
            workload.stop();
            dropSlot(source, slot);
        }
    }

    @Test
    void killedAtRandomMomentsTheJsonlDestinationHoldsEveryChangeRepeatingOnlyTheUnacknowledgedBatch() throws Exception {
        Path work = workDirectory("crash-jsonl");
        String source = pg.createDatabase("crash_jsonl_src");
        String slot = "crash_jsonl_" + ProcessHandle.current().pid();
        Path out = work.resolve("out");
        MixedWorkload workload = MixedWorkload.builder(() -> pg.connect(source)).scale(SCALE).maxPauseMillis(40).seed(seed).build();
        workload.create();
        Map<String, String> env = childEnv(source, slot, workload);
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", out.toString());
        List<JsonlEvents.Kill> kills = new ArrayList<>();
        try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
            pgsource.start(SLOW_COPY);
            workload.start();

            // 1: inside the initial copy
            pgsource.awaitLog("copying", START);
            pgsource.await("the first copied page", Duration.ofSeconds(90), () -> Files.exists(out) && jsonlBytes(out) > 0);
            Thread.sleep(random.nextInt(500));
            assertThat(pgsource.logText()).as("the copy is still running").doesNotContain("Initial copy finished");
            pgsource.kill("during the initial copy");
            kills.add(JsonlEvents.afterKill(out, slot));

            // 2 and 3: mid-stream at random moments
            for (int i = 0; i < 2; i++) {
                pgsource.start();
                pgsource.awaitLog("Streaming slot", START);
                Thread.sleep(500 + random.nextInt(4_000));
                pgsource.kill("mid-stream");
                kills.add(JsonlEvents.afterKill(out, slot));
            }

            // 4: between the parts of a 20,000-row transaction
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);
            bigTransaction(source, workload);
            pgsource.await("a partly written transaction", Duration.ofSeconds(90), () -> String.valueOf(storedPosition(out, slot)).contains("#"));
            pgsource.kill("between the parts of a 20,000-row transaction (" + storedPosition(out, slot) + " stored)");
            kills.add(JsonlEvents.afterKill(out, slot));

            // 5: after the writer stopped, maybe mid catch-up
            killDuringCatchUp(pgsource, workload);
            kills.add(JsonlEvents.afterKill(out, slot));

            assertThat(pgsource.runOnce(Duration.ofSeconds(180))).as("the sync.once run's exit code\n%s", pgsource.context()).isZero();
            String context = "seed " + seed + "; " + pgsource.context();

            JsonlEvents events = JsonlEvents.read(out, "public", workload.tables(), kills, MAX_BATCH_SIZE);
            assertThat(events.violations()).as("the jsonl contract\n%s", context).isEmpty();
            assertThat(events.repeats().stream().map(JsonlEvents.Repeat::position).distinct().count())
                    .as("batches repeated (at most one per kill): %s", events.repeats()).isLessThanOrEqualTo(kills.size());
            long copyPoint = copyPoint(pgsource);
            assertThat(events.missing(workload.commits(), copyPoint)).as("transactions committed after the copy (%s) but in no file\n%s",
                    Positions.lsn(copyPoint), context).isEmpty();
            String check = pg.createDatabase("crash_jsonl_model");
            try (Connection s = pg.connect(source); Connection m = pg.connect(check)) {
                events.loadInto(m, "public");
                TableCompare.assertEqual(s, "public", m, "public", tableNames(workload), context);
            }
            LOG.info("Crash recovery (jsonl) passed: {}; {} events, {} batches repeated after kills, {} copies started again, {} tables "
                    + "truncated during the copy; {}", workload.stats(), events.events(), events.repeats().size(), events.recopies(),
                    events.truncatesDuringCopy(), pgsource.story());
            pgsource.deleteWorkDirectory();
        } finally {
            workload.stop();
            dropSlot(source, slot);
        }
    }

    /** Under target/, so the runs' logs and files stay for a look after a failure. */
    private Path workDirectory(String name) throws java.io.IOException {
        return Files.createDirectories(Path.of("target", "it-work", name + "-" + seed).toAbsolutePath());
    }

    private Map<String, String> childEnv(String source, String slot, MixedWorkload workload) {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", String.join(",", workload.qualifiedNames()));
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        // small pages and parts: more commits to be killed between, and big transactions arrive in parts
        env.put("SOURCE_BATCH_FETCH_LIMIT", "1000");
        env.put("SOURCE_MAX_BATCH_SIZE", Integer.toString(MAX_BATCH_SIZE));
        return env;
    }

    /** A run killed 0-2 s after the writer stopped (0-3 s after it started streaming): maybe mid catch-up. */
    private void killDuringCatchUp(PgSourceProcess pgsource, MixedWorkload workload) throws Exception {
        pgsource.start();
        pgsource.awaitLog("Streaming slot", START);
        Thread.sleep(random.nextInt(3_000));
        workload.stopAndJoin(Duration.ofSeconds(60));
        Thread.sleep(random.nextInt(2_000));
        pgsource.kill("after the writer stopped, maybe mid catch-up");
    }

    /** 20,000 accounts changed in one transaction (20 parts of 1,000), the writer held meanwhile so no lock waits on it. */
    private void bigTransaction(String source, MixedWorkload workload) throws Exception {
        workload.pause(Duration.ofSeconds(60));
        try (Connection c = pg.connect(source); Statement s = c.createStatement()) {
            s.execute("UPDATE accounts SET note = 'big ' || txid_current(), balance = balance + 1 "
                    + "WHERE id IN (SELECT id FROM accounts ORDER BY id LIMIT 20000)");
        } finally {
            workload.resume();
        }
    }

    private static List<String> tableNames(MixedWorkload workload) {
        return workload.tables().stream().map(MixedWorkload.Table::name).toList();
    }

    /** Where the last copy's snapshot stands: every transaction committed after it is streamed. */
    private static long copyPoint(PgSourceProcess pgsource) {
        String last = null;
        for (Path log : pgsource.logs()) {
            Matcher m = COPY_POINT.matcher(PgSourceProcess.tail(log, Integer.MAX_VALUE));
            while (m.find()) {
                last = m.group(1);
            }
        }
        assertThat(last).as("a copy's snapshot position in the logs").isNotNull();
        return Positions.parseLsn(last);
    }

    private static String storedPosition(Path out, String slot) {
        Path file = out.resolve(FilePositionStore.DEFAULT_FILE_NAME);
        try {
            return Files.exists(file) ? new FilePositionStore(file).load("slot:" + slot).orElse(null) : null;
        } catch (RuntimeException e) {
            return null; // being replaced this very moment
        }
    }

    private static long jsonlBytes(Path out) throws Exception {
        try (Stream<Path> files = Files.list(out)) {
            long total = 0;
            for (Path f : files.filter(p -> p.toString().endsWith(".jsonl")).toList()) {
                total += Files.size(f);
            }
            return total;
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
}
