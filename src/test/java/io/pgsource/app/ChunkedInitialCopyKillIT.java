package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The packaged jar makes the initial copy of a 2,000,000-row table in chunks (source.initial_copy=chunked, chunks of
 * 50,000 rows) while a workload updates, deletes and inserts its rows, and is killed with SIGKILL twice during
 * it: each run resumes after the last chunk the destination applied, so the table is read about once in total (rows
 * read at the source, from {@code pg_stat_user_tables}, at most 1.2 times its rows), and the destination ends equal.
 * The longest transaction open on the source meanwhile is printed (a chunk's read, not the copy's length).
 */
class ChunkedInitialCopyKillIT {
    private static final int ROWS = 2_000_000;
    private final TestPostgres pg = TestPostgres.server();
    private final BackfillProbe probe = new BackfillProbe(pg);

    @Test
    void aChunkedInitialCopyKilledTwiceResumesAtTheNextChunkEachTime() throws Exception {
        String source = pg.createDatabase("chunked_kill_src");
        String target = pg.createDatabase("chunked_kill_dst");
        String slot = "chunked_kill_" + ProcessHandle.current().pid();
        SourceFixture.execute(pg, source, "CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text);"
                + " INSERT INTO big SELECT g, g, md5(g::text) FROM generate_series(1, " + ROWS + ") g;"
                + " CREATE TABLE small (id int PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a');");
        Map<String, String> env = SourceFixture.postgresDestination(pg, PgSourceProcess.logReplicationEnv(pg.host(), pg.port(), source,
                pg.user(), pg.password(), List.of("public.big", "public.small"), slot), target);
        env.put("SOURCE_INITIAL_COPY", "chunked");
        // 40 chunks: fewer watermark round trips keep the test short; each kill loses at most the chunks in flight
        env.put("SOURCE_BACKFILL_CHUNK_SIZE", "50000");
        Thread.sleep(1500); // the statistics of the load reach pg_stat_user_tables
        long readBefore = probe.rowsRead(source, "big");
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong changes = new AtomicLong();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread workload = new Thread(() -> workload(source, stop, changes), "chunked-kill-workload");
        workload.setUncaughtExceptionHandler((t, e) -> failed.set(e));
        Path work = Files.createDirectories(Path.of("target", "it-work", "chunked-kill-" + System.nanoTime()).toAbsolutePath());
        long started = System.nanoTime();
        String killedAt;
        String killedAgainAt;
        long longest;
        String longestWhat;
        try (PgSourceProcess pgsource = new PgSourceProcess(work, env);
             BackfillProbe.LongestTransaction transactions = probe.new LongestTransaction(source)) {
            pgsource.start();
            workload.start();
            try {
                pgsource.await("a third of big copied", Duration.ofSeconds(180), () -> probe.lastKey(target, "big") >= ROWS / 3);
                pgsource.kill("during the chunked initial copy");
                killedAt = probe.progress(target, "big");
                pgsource.start();
                pgsource.await("two thirds of big copied", Duration.ofSeconds(180), () -> probe.lastKey(target, "big") >= 2 * ROWS / 3);
                pgsource.kill("again during the chunked initial copy");
                killedAgainAt = probe.progress(target, "big");
                pgsource.start();
                pgsource.await("the copy's end", Duration.ofSeconds(180), () -> probe.progress(target, "big").contains("\"done\":true"));
            } finally {
                stop.set(true);
                workload.join();
            }
            longest = transactions.millis();
            longestWhat = transactions.what();
            double seconds = (System.nanoTime() - started) / 1e9;
            assertThat(failed.get()).as("the workload").isNull();
            assertThat(killedAt).as("killed before the copy ended").contains("\"done\":false");
            assertThat(killedAgainAt).as("killed again before the copy ended").contains("\"done\":false");
            pgsource.awaitLog("resumes after key", Duration.ofSeconds(5));
            Thread.sleep(1500);
            // before any comparison, which reads the whole table too; the workload's changes read a row each
            long read = probe.rowsRead(source, "big") - readBefore;
            System.out.printf("ChunkedInitialCopyKillIT: %d rows of big read for a chunked copy of %d rows killed twice (%.3f x), %d"
                    + " changes meanwhile; longest transaction on the source %.2f s (%s) during %.1f s of copying%n", read, ROWS,
                    read / (double) ROWS, changes.get(), longest / 1000.0, longestWhat, seconds);
            assertThat(changes.get()).as("changes made during the copy").isGreaterThan(100);
            assertThat(read).as("rows of big read at the source (killed after %s, then %s)", killedAt, killedAgainAt)
                    .isBetween((long) ROWS, (long) (ROWS * 1.2));
            // each comparison reads 2M rows on both sides: compare again only while the stream applies the last changes
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                while (!TableCompare.differences(s, "public", d, "public", List.of("big", "small")).isEmpty()) {
                    if (System.nanoTime() > deadline) {
                        TableCompare.assertEqual(s, "public", d, "public", List.of("big", "small"), pgsource.story());
                    }
                    Thread.sleep(500);
                }
            }
            assertThat(pgsource.stop(Duration.ofSeconds(30))).isZero();
        }
    }

    /** Random single-row updates, deletes and inserts all over big's key range, until stopped. */
    private void workload(String source, AtomicBoolean stop, AtomicLong changes) {
        Random random = new Random(7);
        try (Connection c = pg.connect(source)) {
            while (!stop.get()) {
                int id = 1 + random.nextInt(ROWS + 1000);
                String sql = switch (random.nextInt(4)) {
                    case 0, 1 -> "UPDATE big SET v = v + 1 WHERE id = " + id;
                    case 2 -> "DELETE FROM big WHERE id = " + id;
                    default -> "INSERT INTO big VALUES (" + id + ", -1, 'new') ON CONFLICT (id) DO UPDATE SET pad = 'again'";
                };
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    ps.executeUpdate();
                }
                changes.incrementAndGet();
                Thread.sleep(5);
            }
        } catch (Exception e) {
            throw new IllegalStateException("the workload failed", e);
        }
    }
}
