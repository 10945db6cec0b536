package io.pgsource.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The initial copy of LOG_BASED with 1, 2, 4... snapshot readers ({@code source.snapshot_workers}), run by
 * {@code bench/snapshot-workers.sh [rows]}: {@code java -jar target/pgsource.jar} with {@code sync.once=true} creates
 * its slot and copies the generated table (Bench's orders) inside the slot's exported snapshot, into {@code discard}
 * and into {@code postgres}, next to {@code psql COPY ... TO STDOUT > /dev/null} and
 * {@code psql COPY | psql COPY FROM STDIN} in the same run. Prints one table: the copy's time as pgsource logs it
 * ("Initial copy finished in N ms"), the whole process's time, and the ratios to the limit and to one reader.
 *
 * <p>Environment: {@code BENCH_ROWS} (or the first argument; default 1000000), {@code BENCH_WORKERS} (default
 * {@code 1,2,4}), {@code BENCH_DESTINATIONS} (default {@code discard,postgres}), {@code BENCH_JDBC_URL},
 * {@code BENCH_JAVA_OPTS} as for Bench.
 *
 * <p>{@code BENCH_TABLES=5000}: many small tables instead (issue 13's "first run on 5,000 tables of 20 rows"): schema
 * {@code many} with that many tables of {@code BENCH_ROWS} rows each (default 20), which pgsource selects by
 * {@code source.schema} and publishes itself, as a first run does. No limit is measured then (the copy's work is
 * round trips, not bytes); the postgres destination's tables and rows are counted.
 */
public final class SnapshotWorkersBench {
    private static final Pattern COPY_MS = Pattern.compile("Initial copy finished in (\\d+) ms");
    private static final Path OUT = Bench.OUT;

    private SnapshotWorkersBench() {
    }

    public static void main(String[] args) throws Exception {
        int tables = Integer.parseInt(env("BENCH_TABLES", "1"));
        int rows = Integer.parseInt((args.length > 0 ? args[0] : env("BENCH_ROWS", tables > 1 ? "20" : "1000000"))
                .replace("_", "").replace(",", ""));
        List<Integer> workers = new ArrayList<>();
        for (String w : env("BENCH_WORKERS", "1,2,4").split(",")) {
            workers.add(Integer.parseInt(w.strip()));
        }
        List<String> destinations = List.of(env("BENCH_DESTINATIONS", "discard,postgres").split(","));
        Files.createDirectories(OUT);
        if (!Files.exists(Path.of("target", "pgsource.jar"))) {
            throw new IllegalStateException("target/pgsource.jar is missing: build first (bench/snapshot-workers.sh does)");
        }
        try (BenchServer server = BenchServer.start(System.getenv("BENCH_JDBC_URL"))) {
            if (tables > 1) {
                manyTables(server, tables, rows, workers, destinations);
            } else {
                run(server, rows, workers, destinations);
            }
        }
    }

    /** The first run on many small tables: slot, publication and copy of every table of schema many. */
    private static void manyTables(BenchServer server, int tables, int rows, List<Integer> workers, List<String> destinations)
            throws Exception {
        String src = Bench.SRC;
        String dst = Bench.DST;
        server.execute("postgres", "DROP DATABASE IF EXISTS " + src + " WITH (FORCE)", "DROP DATABASE IF EXISTS " + dst + " WITH (FORCE)",
                "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        long t0 = System.nanoTime();
        server.execute(src, "CREATE SCHEMA many");
        // 500 tables per transaction: one creating thousands would need more locks than max_locks_per_transaction gives
        for (int from = 1; from <= tables; from += 500) {
            server.execute(src, "DO $$ BEGIN FOR i IN " + from + ".." + Math.min(tables, from + 499) + " LOOP"
                    + " EXECUTE format('CREATE TABLE many.t%s (id int PRIMARY KEY, name text, amount numeric(10,2),"
                    + " updated_at timestamptz DEFAULT now())', i);"
                    + " EXECUTE format('INSERT INTO many.t%s (id, name, amount) SELECT g, ''n'' || g, g * 1.5"
                    + " FROM generate_series(1, " + rows + ") g', i); END LOOP; END $$");
        }
        server.execute(src, "VACUUM ANALYZE", "CHECKPOINT");
        System.out.printf(Locale.ROOT, "%,d tables of %,d rows loaded in %.1f s; %d cores; load average %s%n", tables, rows,
                (System.nanoTime() - t0) / 1e9, Runtime.getRuntime().availableProcessors(), Bench.loadAverage());
        List<String> lines = new ArrayList<>();
        for (String destination : destinations) {
            for (int w : workers) {
                String slot = "bench_many_" + w;
                server.execute(src, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'",
                        "DROP PUBLICATION IF EXISTS bench_many", "DROP PUBLICATION IF EXISTS bench_many_keyless");
                server.execute(dst, "DROP SCHEMA IF EXISTS many CASCADE", "DROP SCHEMA IF EXISTS _pgsource CASCADE");
                PgSourceChild.Result r = child(server, "many-tables-" + destination + "-" + w, src, dst, destination, slot, w)
                        .env("SOURCE_SCHEMA", "many").env("SOURCE_PUBLICATION_NAME", "bench_many").start().await(1800);
                double copy = copySeconds(r);
                String check = "";
                if (destination.equals("postgres")) {
                    long made = server.queryLong(dst, "SELECT count(*) FROM pg_tables WHERE schemaname = 'many'");
                    long copied = made == 0 ? 0 : server.queryLong(dst, "SELECT sum((xpath('/row/c/text()', query_to_xml(format("
                            + "'SELECT count(*) AS c FROM many.%I', tablename), false, true, '')))[1]::text::bigint)"
                            + " FROM pg_tables WHERE schemaname = 'many'");
                    check = made == tables && copied == (long) tables * rows ? ""
                            : String.format(Locale.ROOT, "  !! %,d tables, %,d rows at the destination", made, copied);
                }
                lines.add(String.format(Locale.ROOT, "%-10s %-30s %8.2f %8.2f %10.2f%s%s", destination, "pgsource snapshot_workers=" + w,
                        copy, r.seconds(), copy * 1000 / tables, r.exit() == 0 ? "" : "  !! exit " + r.exit() + ", see " + r.log(), check));
                server.execute(src, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-10s %-30s %8s %8s %10s%n", "into", "run (" + tables + " tables of " + rows + " rows)", "copy s",
                "process", "ms/table");
        lines.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "load average at the end: %s%n", Bench.loadAverage());
        System.out.println("(copy s: pgsource's \"Initial copy finished in\" (slot created, every table applied); process: the whole"
                + " java -jar run, JVM start, publication, slot and sync.once's end included)");
    }

    private static void run(BenchServer server, int rows, List<Integer> workers, List<String> destinations) throws Exception {
        String src = Bench.SRC;
        String dst = Bench.DST;
        server.execute("postgres", "DROP DATABASE IF EXISTS " + src + " WITH (FORCE)", "DROP DATABASE IF EXISTS " + dst + " WITH (FORCE)",
                "CREATE DATABASE " + src, "CREATE DATABASE " + dst);
        server.execute(src, Bench.DDL, "CREATE PUBLICATION " + Bench.PUB + " FOR TABLE " + Bench.TABLE);
        long t0 = System.nanoTime();
        try (Connection c = server.connect(src); PreparedStatement ps = c.prepareStatement(Bench.INSERT)) {
            ps.setLong(1, 1);
            ps.setLong(2, rows);
            ps.executeUpdate();
        }
        server.execute(src, "VACUUM (FREEZE, ANALYZE) " + Bench.TABLE, "CHECKPOINT");
        PhysicalLimits limits = new PhysicalLimits(server, OUT);
        double mb = limits.copyBytes(src, Bench.TABLE) / 1e6;
        System.out.printf(Locale.ROOT, "%,d rows loaded in %.1f s; COPY text %.1f MB; %d cores; load average %s%n", rows,
                (System.nanoTime() - t0) / 1e9, mb, Runtime.getRuntime().availableProcessors(), Bench.loadAverage());

        List<String> lines = new ArrayList<>();
        for (String destination : destinations) {
            double limit;
            String limitName;
            if (destination.equals("discard")) {
                limit = Math.min(limits.copyToDevNull(src, Bench.TABLE), limits.copyToDevNull(src, Bench.TABLE));
                limitName = limits.copyTool() + " COPY TO STDOUT > /dev/null";
            } else {
                limit = Double.MAX_VALUE;
                for (int i = 0; i < 2; i++) {
                    server.execute(dst, "DROP TABLE IF EXISTS public.orders_pipe", Bench.DDL.replace("public.orders", "public.orders_pipe"));
                    limit = Math.min(limit, limits.copyPipe(src, Bench.TABLE, dst, "public.orders_pipe"));
                }
                server.execute(dst, "DROP TABLE IF EXISTS public.orders_pipe", "CHECKPOINT");
                limitName = limits.copyTool() + " COPY TO STDOUT | COPY FROM STDIN";
            }
            lines.add(String.format(Locale.ROOT, "%-10s %-44s %8.2f %8s %10s %8s %8s", destination, limitName, limit, "", "", "limit", ""));
            double one = Double.NaN;
            for (int w : workers) {
                String slot = "bench_workers_" + w;
                server.execute(src, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
                server.execute(dst, "DROP SCHEMA IF EXISTS public CASCADE", "DROP SCHEMA IF EXISTS _pgsource CASCADE", "CREATE SCHEMA public");
                PgSourceChild.Result r = child(server, "snapshot-workers-" + destination + "-" + w, src, dst, destination, slot, w)
                        .env("SOURCE_SCHEMA", "public").env("SOURCE_TABLES", Bench.TABLE).env("SOURCE_PUBLICATION_NAME", Bench.PUB)
                        .env("SOURCE_CREATE_PUBLICATION", "false").start().await(900);
                double copy = copySeconds(r);
                if (w == workers.get(0)) {
                    one = copy;
                }
                String check = "";
                if (destination.equals("postgres")) {
                    long copied = server.queryLong(dst, "SELECT count(*) FROM " + Bench.TABLE);
                    check = copied == rows ? "" : String.format(Locale.ROOT, "  !! %,d rows at the destination", copied);
                }
                lines.add(String.format(Locale.ROOT, "%-10s %-44s %8.2f %8.2f %,10d %8.2f %8.2f%s%s", destination,
                        "pgsource snapshot_workers=" + w, copy, r.seconds(), Math.round(rows / copy), limit / copy, one / copy,
                        r.exit() == 0 ? "" : "  !! exit " + r.exit() + ", see " + r.log(), check));
                server.execute(src, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "%-10s %-44s %8s %8s %10s %8s %8s%n", "into", "run", "copy s", "process", "rows/s", "ratio", "vs 1st");
        lines.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "load average at the end: %s%n", Bench.loadAverage());
        System.out.println("(copy s: pgsource's \"Initial copy finished in\" (slot created, every page applied); process: the whole"
                + " java -jar run, JVM start and sync.once's end included; ratio: limit seconds / copy seconds; vs 1st: the first"
                + " worker count's copy seconds / this one's)");
    }

    /** A LOG_BASED sync.once run of pgsource from {@code src} into {@code destination} (discard, or postgres into {@code dst}). */
    private static PgSourceChild child(BenchServer server, String name, String src, String dst, String destination, String slot,
                                       int workers) {
        PgSourceChild child = new PgSourceChild(OUT, name)
                .env("SOURCE_HOST", server.host).env("SOURCE_PORT", Integer.toString(server.port)).env("SOURCE_DATABASE", src)
                .env("SOURCE_USERNAME", server.user).env("SOURCE_PASSWORD", server.password).env("SOURCE_REPLICATION_SLOT", slot)
                .env("SOURCE_REPLICATION_METHOD", "LOG_BASED").env("SYNC_ONCE", "true")
                .env("SOURCE_SNAPSHOT_WORKERS", Integer.toString(workers));
        if (destination.equals("discard")) {
            return child.env("DESTINATION", "discard");
        }
        return child.env("DESTINATION", "postgres").env("DESTINATION_URL", server.jdbcUrl(dst)).env("DESTINATION_USERNAME", server.user)
                .env("DESTINATION_PASSWORD", server.password);
    }

    /** pgsource's "Initial copy finished in" of a run, in seconds; NaN when it did not say. */
    private static double copySeconds(PgSourceChild.Result r) {
        Matcher m = COPY_MS.matcher(r.text());
        return m.find() ? Long.parseLong(m.group(1)) / 1e3 : Double.NaN;
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }
}
