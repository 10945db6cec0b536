package io.pgsource.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * pgsource as the user runs it, in a child JVM: {@code java -jar target/pgsource.jar} (the README's command: the jar's
 * launcher then runs pgsource in a JVM of its own with the options it chooses), or {@code java <BENCH_JAVA_OPTS> -jar
 * target/pgsource.jar}, configured by environment variables, output to a log file in target/bench. Its memory and CPU
 * are those of the whole process tree (the launcher and the JVM it starts), read from {@code /proc} every 20 ms while it
 * runs (Linux; elsewhere they are not known): the peak of the summed RSS, the sum of the CPU times.
 */
final class PgSourceChild {
    /** No JVM options: pgsource as the README starts it, {@code java -jar target/pgsource.jar}, its launcher included. */
    static final String DEFAULT_JAVA_OPTS = "";

    private final Path out;
    private final String tag;
    private final Map<String, String> env = new LinkedHashMap<>();
    private Process process;
    private long startNanos;
    private long startMillis;
    private final AtomicLong peakKb = new AtomicLong(-1);
    /** The largest peak RSS of one process of the tree (pgsource's JVM), in kB. */
    private final AtomicLong jvmPeakKb = new AtomicLong(-1);
    /** User + system CPU time of the child's process tree, in clock ticks (USER_HZ, 100 per second on Linux). */
    private final AtomicLong cpuTicks = new AtomicLong(-1);
    /** The last CPU ticks seen of each process of the tree (one that ended keeps its last reading). */
    private final Map<Long, Long> ticksByPid = new java.util.concurrent.ConcurrentHashMap<>();
    private Thread watcher;

    PgSourceChild(Path out, String tag) {
        this.out = out;
        this.tag = tag;
    }

    PgSourceChild env(String name, String value) {
        env.put(name, value);
        return this;
    }

    /**
     * A setting (the bench-only settings of the discard destination) as its environment variable
     * ({@code destination.discard.assume_copied} is {@code DESTINATION_DISCARD_ASSUME_COPIED}), not a {@code -D} option,
     * which would make the launcher step aside.
     */
    PgSourceChild property(String name, String value) {
        return env(name.toUpperCase(java.util.Locale.ROOT).replace('.', '_'), value);
    }

    Path log() {
        return out.resolve("pgsource-" + tag + ".log");
    }

    static List<String> javaOptions() {
        String opts = System.getenv("BENCH_JAVA_OPTS");
        String o = (opts == null || opts.isBlank() ? DEFAULT_JAVA_OPTS : opts).trim();
        return o.isEmpty() ? List.of() : Arrays.asList(o.split("\\s+"));
    }

    /** How pgsource's JVM is started, for the table's heading. */
    static String describeJava() {
        List<String> o = javaOptions();
        return o.isEmpty() && !"1".equals(System.getenv("BENCH_JFR")) ? "java -jar target/pgsource.jar (as the README runs it: the launcher's child JVM)"
                : "java " + String.join(" ", o) + ("1".equals(System.getenv("BENCH_JFR")) ? " -XX:StartFlightRecording=..." : "")
                + " -jar target/pgsource.jar (JVM options given: pgsource runs in that JVM, without the launcher)";
    }

    List<String> command() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(javaOptions());
        if ("1".equals(System.getenv("BENCH_JFR"))) {
            cmd.add("-XX:StartFlightRecording=filename=" + out.resolve("pgsource-" + tag + ".jfr") + ",settings=profile");
        }
        cmd.addAll(List.of("-jar", "target/pgsource.jar"));
        return cmd;
    }

    /** Starts the child; returns at once. */
    PgSourceChild start() throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command()).redirectErrorStream(true).redirectOutput(log().toFile());
        Map<String, String> e = pb.environment();
        e.keySet().removeIf(k -> k.startsWith("SOURCE_") || k.startsWith("DESTINATION") || k.startsWith("SYNC_")
                || k.equals("PGSOURCE_CONFIG") || k.equals("JAVA_TOOL_OPTIONS"));
        e.putAll(env);
        System.out.println("  $ " + describe());
        startNanos = System.nanoTime();
        startMillis = System.currentTimeMillis();
        process = pb.start();
        if (!Files.isDirectory(Path.of("/proc", Long.toString(process.pid())))) {
            return this; // not Linux: memory and CPU unknown
        }
        watcher = new Thread(() -> {
            while (process.isAlive()) {
                try {
                    List<ProcessHandle> tree = new ArrayList<>();
                    tree.add(process.toHandle());
                    process.descendants().forEach(tree::add);
                    long rssKb = 0;
                    for (ProcessHandle p : tree) {
                        String pid = Long.toString(p.pid());
                        try {
                            for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                                if (line.startsWith("VmRSS:")) {
                                    rssKb += Long.parseLong(line.replaceAll("\\D", ""));
                                } else if (line.startsWith("VmHWM:")) {
                                    jvmPeakKb.accumulateAndGet(Long.parseLong(line.replaceAll("\\D", "")), Math::max);
                                }
                            }
                            // fields after the command name: state is the 3rd field, utime the 14th and stime the 15th
                            String stat = Files.readString(Path.of("/proc", pid, "stat"));
                            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                            ticksByPid.put(p.pid(), Long.parseLong(f[11]) + Long.parseLong(f[12]));
                        } catch (IOException | RuntimeException gone) {
                            // ended between the listing and the reading
                        }
                    }
                    peakKb.accumulateAndGet(rssKb, Math::max);
                    cpuTicks.set(ticksByPid.values().stream().mapToLong(Long::longValue).sum());
                    Thread.sleep(20);
                } catch (RuntimeException e2) {
                    return;
                } catch (InterruptedException e2) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }, "rss-" + tag);
        watcher.setDaemon(true);
        watcher.start();
        return this;
    }

    /** The command line with the environment it gets, the password left out. */
    String describe() {
        StringBuilder sb = new StringBuilder();
        env.forEach((k, v) -> {
            if (!k.endsWith("PASSWORD") && !k.startsWith("SOURCE_HOST") && !k.startsWith("SOURCE_PORT") && !k.startsWith("SOURCE_USERNAME")
                    && !k.startsWith("DESTINATION_USERNAME")) {
                sb.append(k).append('=').append(v).append(' ');
            }
        });
        return sb + String.join(" ", command()) + "  > " + log();
    }

    boolean alive() {
        return process.isAlive();
    }

    long pid() {
        return process.pid();
    }

    /** Waits for the child to exit by itself (sync.once). */
    Result await(long timeoutSeconds) throws Exception {
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("pgsource did not finish within " + timeoutSeconds + " s, see " + log());
        }
        return result();
    }

    /** Stops a streaming child (SIGTERM: a graceful stop) and waits for it. */
    Result stop() throws Exception {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
        }
        return result();
    }

    /** When the child was started (epoch milliseconds). */
    long startMillis() {
        return startMillis;
    }

    private Result result() throws Exception {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        if (watcher != null) {
            watcher.join(1000);
        }
        return new Result(process.exitValue(), seconds, peakKb.get(), jvmPeakKb.get(), cpuTicks.get() / 100.0, log(), Files.readString(log()));
    }

    /**
     * @param exit      the exit code
     * @param seconds   from the start of the JVM to its exit
     * @param peakRssKb the peak resident set size in kB (of the process tree: the launcher and pgsource's JVM), or -1 when unknown
     * @param jvmPeakRssKb the largest peak RSS of one process of the tree (pgsource's JVM) in kB, or -1 when unknown
     * @param cpuSeconds the CPU time it used (user + system, all threads), as last seen; negative when unknown
     */
    record Result(int exit, double seconds, long peakRssKb, long jvmPeakRssKb, double cpuSeconds, Path log, String text) {
        /** The tree's peak, and pgsource's JVM's own in parentheses when the launcher ran it in a JVM of its own. */
        String rss() {
            return peakRssKb < 0 ? "-" : peakRssKb / 1024 + " MB" + (jvmPeakRssKb > 0 && jvmPeakRssKb < peakRssKb - 1024
                    ? " (JVM " + jvmPeakRssKb / 1024 + ")" : "");
        }
    }
}
