package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.backfill.BackfillCommand;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The packaged jar backfills a 300,000-row table in chunks of 5,000 and is killed with SIGKILL in the middle: the next
 * run resumes after the last chunk the destination applied, so the table is read about once in total (rows read at the
 * source, from {@code pg_stat_user_tables}, at most 1.2 times its rows), and the destination ends equal.
 */
class BackfillKillIT {
    private static final int ROWS = 300_000;
    private final TestPostgres pg = TestPostgres.server();
    private final BackfillProbe probe = new BackfillProbe(pg);

    @Test
    void aBackfillKilledMidTableResumesAtTheNextChunk() throws Exception {
        String source = pg.createDatabase("bfkill_src");
        String target = pg.createDatabase("bfkill_dst");
        String slot = "bfkill_" + ProcessHandle.current().pid();
        SourceFixture.execute(pg, source, "CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text);"
                + " INSERT INTO big SELECT g, g, md5(g::text) FROM generate_series(1, " + ROWS + ") g;"
                + " CREATE TABLE small (id int PRIMARY KEY, v text); INSERT INTO small VALUES (1, 'a');");
        Map<String, String> env = SourceFixture.postgresDestination(pg, PgSourceProcess.logReplicationEnv(pg.host(), pg.port(), source,
                pg.user(), pg.password(), List.of("public.big", "public.small"), slot), target);
        env.put("SOURCE_BACKFILL_CHUNK_SIZE", "5000");
        Path work = Files.createDirectories(Path.of("target", "it-work", "backfill-kill-" + System.nanoTime()).toAbsolutePath());
        try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
            pgsource.start();
            pgsource.await("the initial copy", Duration.ofSeconds(120), () -> probe.equal(source, target, List.of("big", "small")));
            SourceFixture.execute(pg, target, "UPDATE big SET v = -1");
            Thread.sleep(1500); // the statistics of the initial copy's reads reach pg_stat_user_tables
            long readBefore = probe.rowsRead(source, "big");

            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int code = BackfillCommand.run(List.of("public.big"), env, new Properties(), new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(out, true, StandardCharsets.UTF_8));
            assertThat(code).as(out.toString(StandardCharsets.UTF_8)).isZero();
            pgsource.await("a third of the table backfilled", Duration.ofSeconds(60), () -> probe.lastKey(target, "big") >= ROWS / 3);
            pgsource.kill("during the backfill");
            String stored = probe.progress(target, "big");
            assertThat(stored).as("killed before the backfill ended").contains("\"done\":false");

            pgsource.start();
            pgsource.await("the backfill's end", Duration.ofSeconds(120), () -> probe.progress(target, "big").contains("\"done\":true"));
            pgsource.awaitLog("resumes after key", Duration.ofSeconds(5));
            Thread.sleep(1500);
            // before any comparison, which reads the whole table too
            long read = probe.rowsRead(source, "big") - readBefore;
            System.out.printf("BackfillKillIT: %d rows of big read for a backfill of %d rows killed after %s (%.3f x)%n", read, ROWS,
                    stored, read / (double) ROWS);
            assertThat(read).as("rows of big read at the source by the backfill (killed after %s)", stored)
                    .isBetween((long) ROWS, (long) (ROWS * 1.2));
            pgsource.await("the destination equal to the source", Duration.ofSeconds(60), () -> probe.equal(source, target, List.of("big", "small")));
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                TableCompare.assertEqual(s, "public", d, "public", List.of("big", "small"), pgsource.story());
            }
            pgsource.stop(Duration.ofSeconds(30));
        }
    }
}
