package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.embedded.EmbeddedPostgres;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's run command ({@code java -jar target/pgsource.jar} with no configuration) as a user runs it: the
 * packaged jar as a child process, again and again in one directory, stopped by Ctrl-C or SIGTERM; and what a user
 * reads when a setting is wrong.
 */
class DemoRunIT {
    private static final Duration START = Duration.ofSeconds(120);

    @Test
    void theRunCommandWorksEveryTimeItIsRunAndStopsCleanlyOnSigtermAndSigint(@TempDir Path work) throws Exception {
        // the demo database is kept between runs; here in a directory of the test's own (the temporary directory itself:
        // the unprivileged user PostgreSQL runs as under root cannot enter a @TempDir)
        Path kept = Path.of(System.getProperty("java.io.tmpdir"), "pgsource-demo-it-" + ProcessHandle.current().pid());
        Path output = work.resolve("output");
        try (PgSourceProcess pgsource = new PgSourceProcess(work, Map.of("DEMO_DIRECTORY", kept.toString(),
                "SYNC_PROGRESS_INTERVAL", "1s"))) {
            // 1: a new demo database, copied, then streamed; a progress line; SIGTERM
            pgsource.start();
            pgsource.awaitLog("Streaming slot pgsource_slot", START);
            pgsource.awaitLog("Streamed ", Duration.ofSeconds(30));
            assertThat(pgsource.stop(Duration.ofSeconds(60))).as("exit code after SIGTERM\n%s", pgsource.context()).isZero();
            assertCleanStop(pgsource, "SIGTERM");
            assertThat(pgsource.logText()).contains("Demo database: created", "Output: 6 .jsonl file(s) in " + output.toRealPath());
            assertThat(reads(output.resolve("shop.orders.jsonl"))).as("the initial copy").isGreaterThanOrEqualTo(3000);

            // 2: the same directory: the kept demo database and its slot, streamed from where run 1 stopped; Ctrl-C
            long before = lines(output.resolve("shop.orders.jsonl"));
            pgsource.start();
            pgsource.awaitLog("from its confirmed position", START);
            pgsource.awaitLog("Streamed ", Duration.ofSeconds(30));
            pgsource.await("new orders streamed", Duration.ofSeconds(30), () -> lines(output.resolve("shop.orders.jsonl")) > before);
            assertThat(pgsource.interrupt(Duration.ofSeconds(60))).as("exit code after SIGINT\n%s", pgsource.context()).isZero();
            assertCleanStop(pgsource, "SIGINT");
            assertThat(pgsource.logText()).as("resumed, not copied again").contains("Demo database: the one the last run left")
                    .doesNotContain("copying");

            // 3: without ./output: copied again from the kept database (inside a temporary slot's snapshot), caught up
            deleteTree(output);
            assertThat(pgsource.runOnce(START)).as("sync.once exit code\n%s", pgsource.context()).isZero();
            assertThat(pgsource.logText()).contains("Slot pgsource_slot exists but the destination has no complete copy", "Sync finished")
                    .doesNotContain(" ERROR ");
            assertThat(reads(output.resolve("shop.orders.jsonl"))).as("copied again").isGreaterThanOrEqualTo(3000);
            assertThat(output.resolve("crm.audit_log.jsonl")).exists();
            pgsource.deleteWorkDirectory();
        } finally {
            EmbeddedPostgres.deleteKept(kept);
            Files.deleteIfExists(kept.resolveSibling(kept.getFileName() + ".lock"));
        }
    }

    /** The example: FULL_TABLE into a destination whose password is wrong printed 115 lines, 68 of stack trace. */
    @Test
    void aWrongDestinationPasswordIsOneLineAndExitCode2(@TempDir Path work) throws Exception {
        TestPostgres pg = TestPostgres.server();
        String source = SourceFixture.createSource(pg, "demo_run_bad_src");
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), pg.createDatabase("demo_run_bad_dst"));
        env.put("DESTINATION_PASSWORD", "Wr0ng-Secret-Value");
        try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
            assertThat(pgsource.runOnce(START)).as(pgsource.context()).isEqualTo(2);
            List<String> log = pgsource.logText().lines().toList();
            assertThat(log.stream().filter(l -> l.contains(" ERROR ")).toList()).as(pgsource.logText()).singleElement().asString()
                    .contains("PgSourceMain - PostgreSQL at jdbc:postgresql://", "rejected the password for user", "destination.password")
                    .doesNotContain("Exception");
            assertThat(log).as("no stack trace").noneMatch(l -> l.startsWith("\tat ")).hasSizeLessThan(10);
            assertThat(pgsource.logText()).doesNotContain("Wr0ng-Secret-Value").doesNotContain(pg.password());
            pgsource.deleteWorkDirectory();
        }
    }

    private static void assertCleanStop(PgSourceProcess pgsource, String signal) {
        assertThat(pgsource.logText()).as(pgsource.context())
                .contains(signal + ": stopping cleanly", "pgsource stopped by " + signal + " after a clean shutdown (exit code 0)")
                .doesNotContain(" ERROR ").doesNotContain(" WARN ");
    }

    /** The read events (the copy) in a jsonl file. */
    private static long reads(Path file) throws IOException {
        try (Stream<String> lines = Files.lines(file)) {
            return lines.filter(l -> l.startsWith("{\"op\":\"r\"")).count();
        }
    }

    private static long lines(Path file) throws IOException {
        try (Stream<String> lines = Files.lines(file)) {
            return lines.count();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
