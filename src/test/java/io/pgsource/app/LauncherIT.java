package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's plain {@code java -jar pgsource.jar}: the launcher runs pgsource in a child JVM that writes the
 * class-data-sharing archive at the end of its first run and uses it afterwards; a signal to the launcher reaches
 * pgsource, which stops cleanly, and when the launcher is killed with SIGKILL, pgsource is gone too.
 */
class LauncherIT {

    @Test
    void thePlainCommandMakesTheArchiveOnceUsesItAndFollowsItsLauncher(@TempDir Path work) throws Exception {
        // where the launcher steps aside by design, there is nothing to test: say so rather than fail
        Path javaHome = Path.of(System.getProperty("java.home"));
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(javaHome.resolve("lib/server/classes.jsa"))
                || Files.isRegularFile(javaHome.resolve("lib/server/classes_nocoops.jsa")),
                "this JDK has no base class-data-sharing archive, so the launcher runs pgsource in one JVM");
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv("JAVA_TOOL_OPTIONS") == null && System.getenv("JDK_JAVA_OPTIONS") == null
                && System.getenv("_JAVA_OPTIONS") == null && System.getenv(Launcher.SWITCH_ENV) == null,
                "JVM options in the environment (or PGSOURCE_CDS) make the launcher run pgsource in one JVM");
        TestPostgres pg = TestPostgres.server();
        String source = pg.createDatabase("launcher_src");
        SourceFixture.execute(pg, source, "CREATE TABLE items (id int PRIMARY KEY, name text);"
                + " INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g");
        // the jar and its lib/ in a directory of the test's own, so the archive is written there and not next to target/'s jar
        Path app = Files.createDirectories(work.resolve("app"));
        Path jar = Files.copy(Path.of("target", "pgsource.jar"), app.resolve("pgsource.jar"));
        Files.createSymbolicLink(app.resolve("lib"), Path.of("target", "lib").toAbsolutePath());
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("SOURCE_REPLICATION_METHOD", "FULL_TABLE");
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", work.resolve("out").toString());

        // 1: the first run writes the archive at its end
        env.put("SYNC_ONCE", "true");
        Process first = start(jar, work, env, "run-1.log");
        assertThat(first.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(first.exitValue()).as(log(work, "run-1.log")).isZero();
        assertThat(Files.readAllLines(work.resolve("out/public.items.jsonl"))).hasSize(100);
        assertThat(archives(app)).as("one archive, nothing left half-written").hasSize(1);
        Path archive = archives(app).get(0);

        // 2: a streaming run uses it; SIGTERM to the launcher stops pgsource cleanly
        env.put("SYNC_ONCE", "false");
        env.put("SYNC_INTERVAL", "1s");
        Process second = start(jar, work, env, "run-2.log");
        ProcessHandle child = child(second, work, "run-2.log");
        assertThat(child.info().arguments().map(List::of).orElse(List.of())).contains("-XX:SharedArchiveFile=" + archive);
        second.destroy();
        assertThat(second.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(second.exitValue()).as(log(work, "run-2.log")).isZero();
        assertThat(log(work, "run-2.log")).contains("SIGTERM: stopping cleanly", "pgsource stopped by SIGTERM after a clean shutdown")
                .doesNotContain("again: exiting now").doesNotContain("[warning]");
        assertThat(child.isAlive()).isFalse();

        // 3: SIGKILL of the launcher ends pgsource at once, as if it had been killed itself
        Process third = start(jar, work, env, "run-3.log");
        ProcessHandle orphan = child(third, work, "run-3.log");
        third.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        assertThat(orphan.onExit().get(10, TimeUnit.SECONDS).isAlive()).isFalse();
        assertThat(log(work, "run-3.log")).doesNotContain("stopping cleanly");
        assertThat(archives(app)).containsExactly(archive);
    }

    private static Process start(Path jar, Path work, Map<String, String> env, String log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar.toString())
                .directory(work.toFile()).redirectErrorStream(true).redirectOutput(work.resolve(log).toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("SOURCE_") || k.startsWith("DESTINATION") || k.startsWith("SYNC_")
                || k.equals("PGSOURCE_CONFIG") || k.endsWith("JAVA_OPTIONS") || k.equals("PGSOURCE_CDS"));
        pb.environment().putAll(env);
        return pb.start();
    }

    /** The child JVM, once its first batch run finished. */
    private static ProcessHandle child(Process launcher, Path work, String log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!log(work, log).contains("Batch run finished")) {
            assertThat(launcher.isAlive()).as(log(work, log)).isTrue();
            assertThat(System.nanoTime()).as("the first batch run within 120 s\n%s", log(work, log)).isLessThan(deadline);
            Thread.sleep(100);
        }
        Optional<ProcessHandle> child = launcher.children().findFirst();
        assertThat(child).as("pgsource runs in a child JVM").isPresent();
        return child.get();
    }

    private static List<Path> archives(Path app) throws IOException {
        try (Stream<Path> files = Files.list(app)) {
            return files.filter(p -> p.getFileName().toString().startsWith(Launcher.ARCHIVE_PREFIX)).toList();
        }
    }

    private static String log(Path work, String name) throws IOException {
        return Files.readString(work.resolve(name));
    }
}
