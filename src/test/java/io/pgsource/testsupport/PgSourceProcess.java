package io.pgsource.testsupport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged pgsource ({@code java -Xmx256m -jar target/pgsource.jar}) as a child process configured by
 * environment, for the fault tests and the soak: started again and again in one work directory, each run with its
 * own log file, killed with SIGKILL ({@link #kill}: no shutdown hook, no flush) or stopped with SIGTERM. The story of
 * starts and kills and the logs' tails make up the context of a failure ({@link #context()}).
 */
public final class PgSourceProcess implements AutoCloseable {
    private final Path jar;
    private final Path work;
    private final Map<String, String> env;
    private final List<Path> logs = new ArrayList<>();
    private final List<String> story = new ArrayList<>();
    private final long created = System.nanoTime();
    private Process current;

    /**
     * @param work the working directory of every run (logs go there too)
     * @param env  the configuration (SOURCE_HOST, DESTINATION, ...)
     */
    public PgSourceProcess(Path work, Map<String, String> env) {
        this.jar = jar();
        this.work = work;
        this.env = new HashMap<>(env);
    }

    /** The settings of a LOG_BASED run streaming the given tables of a source database (a mutable map to add to). */
    public static Map<String, String> logReplicationEnv(String host, int port, String database, String user, String password,
                                                        List<String> tables, String slot) {
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_HOST", host);
        env.put("SOURCE_PORT", Integer.toString(port));
        env.put("SOURCE_DATABASE", database);
        env.put("SOURCE_USERNAME", user);
        env.put("SOURCE_PASSWORD", password);
        env.put("SOURCE_SCHEMA", "public");
        env.put("SOURCE_TABLES", String.join(",", tables));
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        return env;
    }

    /** {@code target/pgsource.jar}, which {@code mvn package} builds before the integration tests run. */
    public static Path jar() {
        Path jar = Path.of("target", "pgsource.jar").toAbsolutePath();
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar + " is missing: run mvn package first");
        }
        return jar;
    }

    /** Starts a run (the previous one must have ended). */
    public synchronized Process start() throws IOException {
        return start(Map.of());
    }

    /** Starts a run with some settings changed for it. */
    public synchronized Process start(Map<String, String> overrides) throws IOException {
        if (current != null && current.isAlive()) {
            throw new IllegalStateException("run " + logs.size() + " is still running");
        }
        Path log = work.resolve("run-" + (logs.size() + 1) + ".log");
        logs.add(log);
        List<String> command = new ArrayList<>(DEFAULT_SIGINT);
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar", jar.toString()));
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(work.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        // nothing of the parent's pgsource settings leaks in: only what this run is given
        pb.environment().keySet().removeIf(k -> k.startsWith("SOURCE_") || k.startsWith("DESTINATION") || k.startsWith("SYNC_")
                || k.equals("PGSOURCE_CONFIG"));
        // pgsource in the JVM this starts, not in a launcher's child: a SIGKILL of the run hits the JVM that runs pgsource,
        // as the crash tests mean it to, and no run spends its end writing a class-data-sharing archive (LauncherIT and
        // HugeValueIT run the launcher)
        pb.environment().put("PGSOURCE_CDS", "off");
        pb.environment().putAll(env);
        pb.environment().putAll(overrides);
        note("start run-" + logs.size() + (overrides.isEmpty() ? "" : " " + overrides.keySet()));
        current = pb.start();
        return current;
    }

    /** SIGKILL of the current run: nothing of it runs after this, not even a shutdown hook. */
    public synchronized void kill(String when) throws InterruptedException {
        requireRunning();
        current.destroyForcibly();
        if (!current.waitFor(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("run " + logs.size() + " did not die from SIGKILL within 20 s");
        }
        note("SIGKILL run-" + logs.size() + " " + when);
    }

    /** SIGTERM of the current run and waiting for its clean stop; returns its exit code. */
    public synchronized int stop(Duration timeout) throws InterruptedException {
        requireRunning();
        current.destroy();
        return awaitStop("SIGTERM", timeout);
    }

    /** SIGINT (Ctrl-C) of the current run and waiting for its clean stop; returns its exit code. */
    public synchronized int interrupt(Duration timeout) throws InterruptedException, IOException {
        requireRunning();
        if (new ProcessBuilder("kill", "-INT", Long.toString(current.pid())).inheritIO().start().waitFor() != 0) {
            throw new IllegalStateException("kill -INT " + current.pid() + " failed");
        }
        return awaitStop("SIGINT", timeout);
    }

    private int awaitStop(String signal, Duration timeout) throws InterruptedException {
        if (!current.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            current.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("run " + logs.size() + " did not stop within " + timeout + " of " + signal + "\n" + context());
        }
        note(signal + " stopped run-" + logs.size() + " (exit " + current.exitValue() + ")");
        return current.exitValue();
    }

    /**
     * GNU env's way to give the child the default SIGINT handling: a JVM started with SIGINT ignored (a build run in the
     * background by a shell) passes that on, and the child would never see a Ctrl-C. Empty where env cannot do it.
     */
    private static final List<String> DEFAULT_SIGINT = defaultSigint();

    private static List<String> defaultSigint() {
        List<String> env = List.of("env", "--default-signal=INT");
        try {
            List<String> probe = new ArrayList<>(env);
            probe.add("true");
            return new ProcessBuilder(probe).start().waitFor() == 0 ? env : List.of();
        } catch (IOException e) {
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }

    /**
     * One {@code sync.once} run to its end: copy if needed, apply everything committed before it started, exit.
     *
     * @return its exit code
     */
    public int runOnce(Duration timeout) throws IOException, InterruptedException {
        Process p = start(Map.of("SYNC_ONCE", "true"));
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("the sync.once run did not end within " + timeout + "\n" + context());
        }
        note("sync.once run-" + logs.size() + " exit " + p.exitValue());
        return p.exitValue();
    }

    public synchronized boolean alive() {
        return current != null && current.isAlive();
    }

    /** The process id of the current run. */
    public synchronized long pid() {
        requireRunning();
        return current.pid();
    }

    /** The log of the current (or last) run. */
    public synchronized Path log() {
        return logs.get(logs.size() - 1);
    }

    /** Every run's log, in order. */
    public synchronized List<Path> logs() {
        return List.copyOf(logs);
    }

    public synchronized int runs() {
        return logs.size();
    }

    /** The current run's log so far. */
    public String logText() {
        return read(log());
    }

    /** Whether the current run's log holds the text. */
    public boolean logged(String text) {
        return logText().contains(text);
    }

    /** The name of this pgsource instance: its work directory's. */
    public String name() {
        return work.getFileName().toString();
    }

    /** How many lines of the current run's log contain the text. */
    public int count(String text) {
        return (int) logText().lines().filter(l -> l.contains(text)).count();
    }

    /** Waits until the current run's log holds the text at least {@code times} times; fails with the context. */
    public void awaitLog(String text, int times, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            if (count(text) >= times) {
                return;
            }
            if (!alive()) {
                throw new AssertionError("run " + runs() + " ended while waiting for '" + text + "'\n" + context());
            }
            Thread.sleep(20);
        }
        throw new AssertionError("'" + text + "' did not appear " + times + " time(s) in " + log() + " within " + timeout + "\n" + context());
    }

    public void awaitLog(String text, Duration timeout) throws InterruptedException {
        awaitLog(text, 1, timeout);
    }

    /** Something a test waits for while pgsource runs. */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** Polls the condition until it holds; fails with the context when it did not in time or the run ended. */
    public void await(String what, Duration timeout, Condition condition) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            if (condition.holds()) {
                return;
            }
            if (!alive()) {
                throw new AssertionError("run " + runs() + " ended while waiting for " + what + "\n" + context());
            }
            Thread.sleep(5);
        }
        throw new AssertionError(what + " did not happen within " + timeout + "\n" + context());
    }

    /** Adds a step to the story told on failure. */
    public synchronized void note(String step) {
        story.add(String.format(java.util.Locale.ROOT, "[%.1fs] %s", (System.nanoTime() - created) / 1e9, step));
    }

    public synchronized String story() {
        return String.join(" -> ", story);
    }

    /** The story and the tail of every run's log. */
    public synchronized String context() {
        StringBuilder out = new StringBuilder(story()).append('\n');
        for (Path log : logs) {
            out.append("---- ").append(log.getFileName()).append(" (tail) ----\n").append(tail(log, 25));
        }
        return out.toString();
    }

    /** The last lines of a log. */
    public static String tail(Path log, int lines) {
        List<String> all = read(log).lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())) + "\n";
    }

    private static String read(Path log) {
        try {
            // the run may be writing: a character cut in half at the end is replaced, not an error
            return Files.exists(log) ? new String(Files.readAllBytes(log), java.nio.charset.StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    private void requireRunning() {
        if (current == null || !current.isAlive()) {
            throw new IllegalStateException("no run of pgsource is running (run " + logs.size() + " ended)\n" + context());
        }
    }

    /**
     * Deletes the work directory (runs' logs, files a destination wrote there): for a test that passed; a failed one
     * leaves it for a look.
     */
    public synchronized void deleteWorkDirectory() throws IOException {
        if (alive()) {
            throw new IllegalStateException("run " + logs.size() + " still runs in " + work);
        }
        try (var paths = Files.walk(work)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Kills a run still going (a failed test). */
    @Override
    public synchronized void close() throws InterruptedException {
        if (current != null && current.isAlive()) {
            current.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
