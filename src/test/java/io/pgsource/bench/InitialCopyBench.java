package io.pgsource.bench;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How {@code source.initial_copy} was chosen: the packaged pgsource ({@code java -jar target/pgsource.jar}, LOG_BASED,
 * {@code sync.once}) copies the bench's {@code public.orders} (1,000,000 rows by default) for a new slot, once per mode
 * ({@code snapshot}, {@code chunked}) and destination ({@code discard}, {@code postgres}), while the bench samples
 * {@code now() - xact_start} of every session of the source database in {@code pg_stat_activity} every 50 ms. Prints
 * one line per run: seconds from the JVM's start to its exit (copy done and the slot caught up) and the longest
 * transaction seen open on the source.
 *
 * <p>Run: {@code mvn -o -q -DskipTests package && java -cp "target/test-classes:target/classes:target/lib/*"
 * io.pgsource.bench.InitialCopyBench [rows]}; {@code BENCH_JDBC_URL} as for {@link Bench}.
 */
public final class InitialCopyBench {
    private InitialCopyBench() {
    }

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        Files.createDirectories(Bench.OUT);
        try (BenchServer server = BenchServer.start(System.getenv("BENCH_JDBC_URL"))) {
            server.execute("postgres", "DROP DATABASE IF EXISTS " + Bench.SRC + " WITH (FORCE)", "CREATE DATABASE " + Bench.SRC);
            server.execute(Bench.SRC, Bench.DDL);
            try (Connection c = server.connect(Bench.SRC); PreparedStatement ps = c.prepareStatement(Bench.INSERT)) {
                ps.setLong(1, 1);
                ps.setLong(2, rows);
                ps.executeUpdate();
            }
            server.execute(Bench.SRC, "VACUUM ANALYZE public.orders", "CHECKPOINT");
            List<String> lines = new ArrayList<>();
            for (String destination : List.of("discard", "postgres")) {
                for (String mode : List.of("snapshot", "chunked")) {
                    lines.add(run(server, rows, destination, mode));
                }
            }
            System.out.printf("%n%,d rows of public.orders, LOG_BASED with sync.once, a new slot each run (one run each, machine shared)%n", rows);
            System.out.printf("%-10s %-9s %9s %26s%n", "initial_copy", "into", "seconds", "longest source transaction");
            lines.forEach(System.out::println);
        }
    }

    private static String run(BenchServer server, int rows, String destination, String mode) throws Exception {
        String slot = "copy_bench_" + mode;
        server.execute("postgres", "DROP DATABASE IF EXISTS " + Bench.DST + " WITH (FORCE)", "CREATE DATABASE " + Bench.DST);
        server.execute(Bench.SRC, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'copy_bench%'",
                "DROP PUBLICATION IF EXISTS " + slot + "_pub", "DROP PUBLICATION IF EXISTS " + slot + "_pub_keyless", "CHECKPOINT");
        PgSourceChild child = new PgSourceChild(Bench.OUT, "initial-copy-" + mode + "-" + destination)
                .env("SOURCE_HOST", server.host).env("SOURCE_PORT", Integer.toString(server.port))
                .env("SOURCE_DATABASE", Bench.SRC).env("SOURCE_USERNAME", server.user).env("SOURCE_PASSWORD", server.password)
                .env("SOURCE_SCHEMA", "public").env("SOURCE_TABLES", "public.orders")
                .env("SOURCE_REPLICATION_METHOD", "LOG_BASED").env("SOURCE_REPLICATION_SLOT", slot)
                .env("SOURCE_PUBLICATION_NAME", slot + "_pub").env("SOURCE_INITIAL_COPY", mode)
                .env("SYNC_ONCE", "true").env("DESTINATION", destination);
        if (destination.equals("postgres")) {
            child.env("DESTINATION_URL", server.jdbcUrl(Bench.DST)).env("DESTINATION_USERNAME", server.user)
                    .env("DESTINATION_PASSWORD", server.password);
        }
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong longestMillis = new AtomicLong();
        Thread sampler = new Thread(() -> sample(server, done, longestMillis), "xact-sampler");
        sampler.start();
        PgSourceChild.Result result;
        try {
            result = child.start().await(1200);
        } finally {
            done.set(true);
            sampler.join();
        }
        if (result.exit() != 0) {
            throw new IllegalStateException("pgsource exited with " + result.exit() + ", see " + result.log());
        }
        if (destination.equals("postgres")) {
            long copied = server.queryLong(Bench.DST, "SELECT count(*) FROM public.orders");
            if (copied != rows) {
                throw new IllegalStateException(copied + " rows copied, not " + rows + ", see " + result.log());
            }
        }
        String line = String.format(Locale.ROOT, "%-12s %-9s %9.1f %24.2f s", mode, destination, result.seconds(), longestMillis.get() / 1000.0);
        System.out.println(line);
        return line;
    }

    /** The longest transaction open on the source database, sampled every 50 ms until done. */
    private static void sample(BenchServer server, AtomicBoolean done, AtomicLong longestMillis) {
        try (Connection c = server.connect("postgres"); Statement s = c.createStatement()) {
            while (!done.get()) {
                try (ResultSet rs = s.executeQuery("SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start) * 1000), 0)::bigint"
                        + " FROM pg_stat_activity WHERE datname = '" + Bench.SRC + "' AND pid <> pg_backend_pid()")) {
                    rs.next();
                    longestMillis.accumulateAndGet(rs.getLong(1), Math::max);
                }
                Thread.sleep(50);
            }
        } catch (Exception e) {
            throw new IllegalStateException("sampling pg_stat_activity failed", e);
        }
    }
}
