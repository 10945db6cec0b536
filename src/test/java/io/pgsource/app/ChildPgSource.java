package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The packaged jar ({@code java -Xmx256m -jar target/pgsource.jar}) in a child JVM, its output in a log file. */
final class ChildPgSource {
    final String name;
    final Path log;
    private final Process process;

    private ChildPgSource(String name, Path log, Process process) {
        this.name = name;
        this.log = log;
        this.process = process;
    }

    /** Starts the jar in {@code work} with the environment (the parent's SYNC_ONCE removed) plus {@code env}. */
    static ChildPgSource start(String name, Path work, Map<String, String> env) throws IOException {
        Path jar = Path.of("target", "pgsource.jar").toAbsolutePath();
        assertThat(jar).exists();
        Files.createDirectories(work);
        Path log = work.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", jar.toString())
                .directory(work.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().remove("SYNC_ONCE");
        pb.environment().putAll(env);
        return new ChildPgSource(name, log, pb.start());
    }

    String output() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    boolean logged(String text) {
        return output().contains(text);
    }

    /** Waits until the log shows {@code text}; fails with the log's tail when it does not in time. */
    void awaitLog(String text, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            if (logged(text)) {
                return;
            }
            assertThat(process.isAlive()).as("%s is running while waiting for '%s'%n%s", name, text, tail(40)).isTrue();
            Thread.sleep(50);
        }
        fail("'" + text + "' did not appear in " + name + "'s log within " + timeout.toSeconds() + " s:\n" + tail(40));
    }

    /** SIGKILL: no shutdown hook, no flush, no lock released by the JVM (the OS drops it). */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("%s killed", name).isTrue();
    }

    /** SIGTERM: Camel's graceful shutdown; killed if it takes longer than 30 s. */
    void stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            kill();
        }
    }

    boolean alive() {
        return process.isAlive();
    }

    String tail(int lines) {
        List<String> all = output().lines().toList();
        return "---- " + name + " (tail) ----\n" + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())) + "\n";
    }
}
