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
 * pgsource as the user runs it, in a child JVM: {@code java <JVM options> -jar target/pgsource.jar}, configured by
 * environment variables, output to a log file in target/bench. Its peak RSS is the {@code VmHWM} of
 * {@code /proc/<pid>/status}, read every 20 ms while it runs (Linux; elsewhere it is not known).
 */
final class PgSourceChild {
    /** The JVM options every run gets unless {@code BENCH_JAVA_OPTS} says otherwise (see the README). */
    static final String DEFAULT_JAVA_OPTS = "-Xmx256m -Xmn160m -XX:SurvivorRatio=4 -XX:+UseSerialGC";

    private final Path out;
    private final String tag;
    private final Map<String, String> env = new LinkedHashMap<>();
    private final List<String> properties = new ArrayList<>();
    private Process process;
    private long startNanos;
    private final AtomicLong peakKb = new AtomicLong(-1);
    /** User + system CPU time of the child, in clock ticks (USER_HZ, 100 per second on Linux). */
    private final AtomicLong cpuTicks = new AtomicLong(-1);
    private Thread watcher;

    PgSourceChild(Path out, String tag) {
        this.out = out;
        this.tag = tag;
    }

    PgSourceChild env(String name, String value) {
        env.put(name, value);
        return this;
    }

    /** A {@code -Dname=value} option (the bench-only settings of the discard destination). */
    PgSourceChild property(String name, String value) {
        properties.add("-D" + name + "=" + value);
        return this;
    }

    Path log() {
        return out.resolve("pgsource-" + tag + ".log");
    }

    static List<String> javaOptions() {
        String opts = System.getenv("BENCH_JAVA_OPTS");
        return Arrays.asList((opts == null || opts.isBlank() ? DEFAULT_JAVA_OPTS : opts).trim().split("\\s+"));
    }

    List<String> command() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(javaOptions());
        if ("1".equals(System.getenv("BENCH_JFR"))) {
            cmd.add("-XX:StartFlightRecording=filename=" + out.resolve("pgsource-" + tag + ".jfr") + ",settings=profile");
        }
        cmd.addAll(properties);
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
        process = pb.start();
        Path status = Path.of("/proc", Long.toString(process.pid()), "status");
        Path stat = Path.of("/proc", Long.toString(process.pid()), "stat");
        watcher = new Thread(() -> {
            while (process.isAlive()) {
                try {
                    for (String line : Files.readAllLines(status)) {
                        if (line.startsWith("VmHWM:")) {
                            peakKb.accumulateAndGet(Long.parseLong(line.replaceAll("\\D", "")), Math::max);
                        }
                    }
                    // fields after the command name: state is the 3rd field, utime the 14th and stime the 15th
                    String[] f = Files.readString(stat).substring(Files.readString(stat).lastIndexOf(')') + 2).split(" ");
                    cpuTicks.set(Long.parseLong(f[11]) + Long.parseLong(f[12]));
                    Thread.sleep(20);
                } catch (IOException | RuntimeException e2) {
                    return; // gone, or not Linux
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

    private Result result() throws Exception {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        watcher.join(1000);
        return new Result(process.exitValue(), seconds, peakKb.get(), cpuTicks.get() / 100.0, log(), Files.readString(log()));
    }

    /**
     * @param exit      the exit code
     * @param seconds   from the start of the JVM to its exit
     * @param peakRssKb the peak resident set size in kB, or -1 when unknown
     * @param cpuSeconds the CPU time it used (user + system, all threads), as last seen; negative when unknown
     */
    record Result(int exit, double seconds, long peakRssKb, double cpuSeconds, Path log, String text) {
        String rss() {
            return peakRssKb < 0 ? "-" : peakRssKb / 1024 + " MB";
        }
    }
}
