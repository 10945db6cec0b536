package io.pgsource.bench;

import io.pgsource.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.postgresql.Driver;

/**
 * CDC benchmark (run by {@code bench/cdc.sh}): pgsource LOG_BASED into the {@code discard} destination next to the
 * physical limit, {@code pg_recvlogical} draining pgoutput from a copy of the same slot, in one run on one server.
 *
 * <p>Per workload (N rows in 1,000-row transactions; N rows in one transaction): a fresh slot, the load while nothing
 * consumes, two copies of the slot ({@code pg_copy_logical_replication_slot}) so both consumers read the same WAL, a
 * CHECKPOINT, then {@code pg_recvlogical --endpos} on one copy and pgsource {@code sync.once} (a child JVM,
 * {@code -Xmx256m}, timed from its start to its exit) on the other. Then a latency run: pgsource streams into
 * {@code discard} while a writer commits 100 transactions of 10 rows per second; the sink writes commit-to-sink
 * latencies to a file.
 *
 * <p>Environment: {@code BENCH_ROWS} (1000000), {@code BENCH_LATENCY_SECONDS} (60), {@code BENCH_JDBC_URL} (a
 * superuser URL with {@code user}/{@code password} parameters; default: an embedded PostgreSQL 17 with fsync on),
 * {@code BENCH_JFR=1} (a JFR recording of each pgsource run in target/bench).
 */
public final class CdcBench {
    private static final String DB = "pgsource_bench";
    private static final String PUB = "bench_pub";
    private static final Path OUT = Path.of("target", "bench");
    private static final String INSERT = "INSERT INTO public.orders SELECT g, (g * 7) % 100000, "
            + "(ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 100.0, repeat(md5(g::text), 4)::varchar(100), "
            + "now() - g * interval '1 second', now(), jsonb_build_object('k', g % 10, 'tag', 'x'), g % 2 = 0 "
            + "FROM generate_series(?::bigint, ?::bigint) g";

    private final String host;
    private final int port;
    private final String user;
    private final String password;
    private final List<String> table = new ArrayList<>();

    private CdcBench(String host, int port, String user, String password) {
        this.host = host;
        this.port = port;
        this.user = user;
        this.password = password;
    }

    public static void main(String[] args) throws Exception {
        int rows = Integer.parseInt(env("BENCH_ROWS", "1000000").replace("_", ""));
        int latencySeconds = Integer.parseInt(env("BENCH_LATENCY_SECONDS", "60"));
        Files.createDirectories(OUT);
        String url = System.getenv("BENCH_JDBC_URL");
        EmbeddedPostgres embedded = null;
        CdcBench bench;
        if (url == null || url.isBlank()) {
            embedded = EmbeddedPostgres.builder().start();
            bench = new CdcBench(embedded.host(), embedded.port(), embedded.superuser(), embedded.password());
        } else {
            Properties p = Driver.parseURL(url, new Properties());
            if (p == null) {
                throw new IllegalArgumentException("BENCH_JDBC_URL is not a pgjdbc URL");
            }
            bench = new CdcBench(p.getProperty("PGHOST", "localhost").split(",")[0], Integer.parseInt(p.getProperty("PGPORT", "5432").split(",")[0]),
                    p.getProperty("user", "postgres"), p.getProperty("password", ""));
        }
        try {
            bench.run(rows, latencySeconds);
        } finally {
            if (embedded != null) {
                embedded.close();
            }
        }
    }

    private void run(int rows, int latencySeconds) throws Exception {
        try (Connection admin = connect("postgres"); Statement s = admin.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + DB + " WITH (FORCE)");
            s.execute("CREATE DATABASE " + DB);
            try (ResultSet rs = s.executeQuery("SELECT version()")) {
                rs.next();
                System.out.println("server: " + rs.getString(1));
            }
        }
        try (Connection c = connect(DB); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id int, status text, amount numeric(12,2), "
                    + "note varchar(100), created_at timestamptz, updated_at timestamptz, attrs jsonb, paid boolean)");
            s.execute("CREATE PUBLICATION " + PUB + " FOR TABLE public.orders");
            for (String setting : List.of("fsync", "synchronous_commit", "wal_level", "logical_decoding_work_mem", "max_wal_size", "shared_buffers")) {
                try (ResultSet rs = s.executeQuery("SHOW " + setting)) {
                    rs.next();
                    System.out.print(setting + "=" + rs.getString(1) + " ");
                }
            }
            System.out.println();
        }
        System.out.println("pg_recvlogical: " + (recvlogical() == null ? "not on the PATH: its lines are skipped" : recvlogical()));
        System.out.printf(Locale.ROOT, "load average before: %s%n", loadAverage());

        workload("1,000-row txns", rows, 1000, "w1");
        workload("1 txn of all rows", rows, rows, "w2");

        System.out.println();
        System.out.printf("%-18s %-24s %10s %9s %10s %8s %9s %9s%n", "workload", "consumer", "rows", "seconds", "rows/s", "WAL MB",
                "ratio", "peak RSS");
        table.forEach(System.out::println);
        System.out.println("(ratio: pgsource seconds / pg_recvlogical seconds, same WAL; MB = 10^6 bytes of pg_wal_lsn_diff; "
                + "peak RSS: /usr/bin/time -f %M of the pgsource JVM)");

        latency(latencySeconds);
        System.out.printf(Locale.ROOT, "load average after: %s%n", loadAverage());
    }

    private void workload(String name, int rows, int txRows, String tag) throws Exception {
        String origin = "bench_" + tag;
        String recvSlot = origin + "_recv";
        String pgsSlot = origin + "_pgs";
        long startLsn;
        long endLsn;
        try (Connection c = connect(DB); Statement s = c.createStatement()) {
            // emptied before the slot exists: the TRUNCATE is not part of what the consumers read
            s.execute("TRUNCATE public.orders");
            s.execute("SELECT pg_create_logical_replication_slot('" + origin + "', 'pgoutput')");
            startLsn = lsn(s, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
            long t0 = System.nanoTime();
            try (PreparedStatement ps = c.prepareStatement(INSERT)) {
                for (long lo = 1; lo <= rows; lo += txRows) {
                    ps.setLong(1, lo);
                    ps.setLong(2, Math.min(rows, lo + txRows - 1));
                    ps.executeUpdate();
                }
            }
            double load = (System.nanoTime() - t0) / 1e9;
            endLsn = lsn(s, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
            s.execute("SELECT pg_copy_logical_replication_slot('" + origin + "', '" + recvSlot + "')");
            s.execute("SELECT pg_copy_logical_replication_slot('" + origin + "', '" + pgsSlot + "')");
            s.execute("SELECT pg_drop_replication_slot('" + origin + "')");
            s.execute("CHECKPOINT");
            System.out.printf(Locale.ROOT, "%n== %s: loaded %,d rows in %.1f s (%,d rows/s), WAL %.1f MB; load average %s%n", name, rows, load,
                    Math.round(rows / load), (endLsn - startLsn) / 1e6, loadAverage());
        }
        double walMb = (endLsn - startLsn) / 1e6;

        Double recvSeconds = null;
        if (recvlogical() != null) {
            recvSeconds = recvlogical(recvSlot, endLsn);
            table.add(row(name, "pg_recvlogical", rows, recvSeconds, walMb, "1.00", "-"));
        }
        dropSlot(recvSlot);

        PgSourceRun run = pgsourceOnce(pgsSlot, tag);
        if (run.changes != rows) {
            System.out.printf("!! pgsource discarded %,d changes, expected %,d%n", run.changes, rows);
        }
        String ratio = recvSeconds == null ? "-" : String.format(Locale.ROOT, "%.2f", run.seconds / recvSeconds);
        table.add(row(name, "pgsource LOG_BASED", rows, run.seconds, walMb, ratio, run.peakRssKb < 0 ? "-" : run.peakRssKb / 1024 + " MB"));
        table.add(String.format(Locale.ROOT, "%-18s %-24s   (of which: start to first batch %.2f s, first to last batch %.2f s, last batch to exit %.2f s)",
                "", "", run.toFirst, run.streaming, run.afterLast));
        dropSlot(pgsSlot);
    }

    private static String row(String workload, String consumer, int rows, double seconds, double walMb, String ratio, String rss) {
        return String.format(Locale.ROOT, "%-18s %-24s %,10d %9.2f %,10d %8.1f %9s %9s", workload, consumer, rows, seconds,
                Math.round(rows / seconds), walMb, ratio, rss);
    }

    private double recvlogical(String slot, long endLsn) throws Exception {
        String end = String.format("%X/%X", endLsn >>> 32, endLsn & 0xffffffffL);
        List<String> cmd = List.of(recvlogical(), "-h", host, "-p", Integer.toString(port), "-U", user, "-d", DB, "--slot", slot,
                "--start", "-o", "proto_version=4", "-o", "publication_names=" + PUB, "-f", "/dev/null", "--endpos", end, "--no-loop");
        System.out.println("$ " + String.join(" ", cmd));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(OUT.resolve(slot + ".log").toFile());
        pb.environment().put("PGPASSWORD", password);
        long t0 = System.nanoTime();
        int exit = pb.start().waitFor();
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (exit != 0) {
            throw new IllegalStateException("pg_recvlogical exited " + exit + ": " + Files.readString(OUT.resolve(slot + ".log")));
        }
        System.out.printf(Locale.ROOT, "pg_recvlogical: %.2f s%n", seconds);
        return seconds;
    }

    private record PgSourceRun(double seconds, long changes, long peakRssKb, double toFirst, double streaming, double afterLast) {
    }

    private static final Pattern DISCARDED = Pattern.compile("\\[discard changes=(\\d+) batches=(\\d+) firstMs=(\\d+) lastMs=(\\d+)]");

    private PgSourceRun pgsourceOnce(String slot, String tag) throws Exception {
        Path log = OUT.resolve("pgsource-" + tag + ".log");
        Path rss = OUT.resolve("pgsource-" + tag + ".rss");
        List<String> cmd = new ArrayList<>();
        boolean timed = Files.isExecutable(Path.of("/usr/bin/time"));
        if (timed) {
            cmd.addAll(List.of("/usr/bin/time", "-f", "%M", "-o", rss.toString()));
        }
        cmd.addAll(javaCommand(tag));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        sourceEnv(pb.environment(), slot);
        pb.environment().put("SYNC_ONCE", "true");
        System.out.println("$ " + String.join(" ", cmd) + "   (env: DESTINATION=discard SYNC_ONCE=true SOURCE_REPLICATION_SLOT=" + slot
                + " SOURCE_CREATE_SLOT=false ...; log " + log + ")");
        long startMs = System.currentTimeMillis();
        long t0 = System.nanoTime();
        int exit = pb.start().waitFor();
        double seconds = (System.nanoTime() - t0) / 1e9;
        long endMs = System.currentTimeMillis();
        String text = Files.readString(log);
        if (exit != 0) {
            throw new IllegalStateException("pgsource exited " + exit + ", see " + log);
        }
        Matcher m = DISCARDED.matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no discard summary in " + log);
        }
        long first = Long.parseLong(m.group(3));
        long last = Long.parseLong(m.group(4));
        long peak = timed ? Long.parseLong(Files.readAllLines(rss).stream().filter(l -> l.matches("\\d+")).reduce((a, b) -> b).orElse("-1")) : -1;
        System.out.printf(Locale.ROOT, "pgsource: %.2f s, %s changes%n", seconds, m.group(1));
        return new PgSourceRun(seconds, Long.parseLong(m.group(1)), peak, (first - startMs) / 1e3, (last - first) / 1e3, (endMs - last) / 1e3);
    }

    private List<String> javaCommand(String tag) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-Ddestination.discard.assume_copied=true"));
        if ("1".equals(System.getenv("BENCH_JFR"))) {
            cmd.add("-XX:StartFlightRecording=filename=" + OUT.resolve("pgsource-" + tag + ".jfr") + ",settings=profile");
        }
        if (tag.equals("latency")) {
            cmd.add("-Ddestination.discard.latency_file=" + OUT.resolve("latency.txt").toAbsolutePath());
        }
        cmd.addAll(List.of("-jar", "target/pgsource.jar"));
        return cmd;
    }

    private void sourceEnv(Map<String, String> env, String slot) {
        env.keySet().removeIf(k -> k.startsWith("SOURCE_") || k.startsWith("DESTINATION") || k.startsWith("SYNC_") || k.equals("PGSOURCE_CONFIG"));
        env.putAll(Map.of("SOURCE_HOST", host, "SOURCE_PORT", Integer.toString(port), "SOURCE_DATABASE", DB, "SOURCE_USERNAME", user,
                "SOURCE_PASSWORD", password, "SOURCE_SCHEMA", "public", "SOURCE_TABLES", "public.orders", "SOURCE_REPLICATION_SLOT", slot,
                "SOURCE_PUBLICATION_NAME", PUB, "DESTINATION", "discard"));
        env.put("SOURCE_CREATE_SLOT", "false");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
    }

    /** pgsource streams (not once) into discard while 100 transactions of 10 rows per second commit. */
    private void latency(int seconds) throws Exception {
        String slot = "bench_latency";
        Path file = OUT.resolve("latency.txt");
        Files.deleteIfExists(file);
        try (Connection c = connect(DB); Statement s = c.createStatement()) {
            s.execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        }
        Path log = OUT.resolve("pgsource-latency.log");
        ProcessBuilder pb = new ProcessBuilder(javaCommand("latency")).redirectErrorStream(true).redirectOutput(log.toFile());
        sourceEnv(pb.environment(), slot);
        pb.environment().put("SYNC_ONCE", "false");
        Process child = pb.start();
        int tx = seconds * 100;
        long late = 0;
        long[] commitMicros = new long[tx];
        try (Connection c = connect(DB)) {
            awaitActive(c, slot, child);
            Thread.sleep(1000);
            System.out.printf(Locale.ROOT, "%n== latency: pgsource streaming into discard; writer: 100 tx/s x 10 rows for %d s (log %s)%n", seconds, log);
            try (PreparedStatement ps = c.prepareStatement(INSERT)) {
                long base = 1_000_000_000L;
                long t0 = System.nanoTime();
                for (int i = 0; i < tx; i++) {
                    long due = t0 + i * 10_000_000L;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    } else if (wait < -10_000_000L) {
                        late++;
                    }
                    ps.setLong(1, base + i * 10L);
                    ps.setLong(2, base + i * 10L + 9);
                    long sent = System.nanoTime();
                    ps.executeUpdate();
                    commitMicros[i] = (System.nanoTime() - sent) / 1000;
                }
                Arrays.sort(commitMicros);
                System.out.printf(Locale.ROOT, "writer: %d transactions in %.1f s (%d started >10 ms behind schedule); its INSERT+COMMIT round trip "
                        + "(includes the WAL fsync): p50 %.1f ms, p99 %.1f ms, max %.1f ms; load average %s%n", tx, (System.nanoTime() - t0) / 1e9, late,
                        pct(commitMicros, 50), pct(commitMicros, 99), commitMicros[tx - 1] / 1e3, loadAverage());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (lines(file) < tx && System.nanoTime() < deadline && child.isAlive()) {
                Thread.sleep(100);
            }
        } finally {
            child.destroy();
            if (!child.waitFor(60, TimeUnit.SECONDS)) {
                child.destroyForcibly();
            }
            dropSlot(slot);
        }
        long[] micros = Files.readAllLines(file).stream().filter(l -> !l.isBlank()).mapToLong(Long::parseLong).sorted().toArray();
        if (micros.length == 0) {
            System.out.println("no latencies recorded, see " + log);
            return;
        }
        System.out.printf(Locale.ROOT, "latency commit -> discard sink over %d of %d transactions: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                micros.length, tx, pct(micros, 50), pct(micros, 95), pct(micros, 99), micros[micros.length - 1] / 1e3);
    }

    /** Nearest-rank percentile, in milliseconds. */
    private static double pct(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)] / 1e3;
    }

    private static long lines(Path file) throws IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        try (var l = Files.lines(file)) {
            return l.count();
        }
    }

    private static void awaitActive(Connection c, String slot, Process child) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        try (PreparedStatement ps = c.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            while (System.nanoTime() < deadline) {
                if (!child.isAlive()) {
                    throw new IllegalStateException("pgsource exited " + child.exitValue() + " before streaming");
                }
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getBoolean(1)) {
                        return;
                    }
                }
                Thread.sleep(100);
            }
        }
        throw new IllegalStateException("pgsource did not start streaming from " + slot + " within 60 s");
    }

    private void dropSlot(String slot) throws SQLException {
        try (Connection c = connect(DB); Statement s = c.createStatement()) {
            s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
        }
    }

    private static long lsn(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private Connection connect(String db) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + URLEncoder.encode(db, StandardCharsets.UTF_8), p);
    }

    private static String recvlogical() {
        return Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":")).map(d -> Path.of(d, "pg_recvlogical"))
                .filter(Files::isExecutable).map(Path::toString).findFirst().orElse(null);
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            return "?";
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }
}
