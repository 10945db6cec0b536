package io.pgsource.bench;


import io.pgsource.change.Position;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.TestChanges;
import io.pgsource.sink.jdbc.PostgresSink;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Locale;

/**
 * Issue 13's "a source transaction touching 5,000 tables applies at a destination with default settings": the shape of
 * ManyTablesSinkTest (tables {@code tenant.t0..tN} with a bigint key and a text column), timed. The tables are first
 * filled by copy pages of 500 tables each (as the initial copy leaves them); then one source transaction, as log
 * replication delivers it (a {@code Position.Log}, so its commit waits for the WAL flush), updates one row in every
 * table, and a second one writes 100 rows into each of 80 tables (staged). Prints the seconds of each.
 *
 * <pre>
 * BENCH_TABLES=5000 java -cp "target/test-classes:target/classes:target/lib/*" io.pgsource.bench.ManyTablesApplyBench
 * </pre>
 *
 * Uses {@code BENCH_JDBC_URL} (a superuser URL; database pgsource_bench_dst is dropped and created) or an embedded
 * PostgreSQL, with the server's default max_locks_per_transaction (64).
 */
public final class ManyTablesApplyBench {
    private ManyTablesApplyBench() {
    }

    public static void main(String[] args) throws Exception {
        int tables = Integer.parseInt(System.getenv().getOrDefault("BENCH_TABLES", "5000"));
        try (BenchServer server = BenchServer.start(System.getenv("BENCH_JDBC_URL"))) {
            String dst = Bench.DST;
            server.execute("postgres", "DROP DATABASE IF EXISTS " + dst + " WITH (FORCE)", "CREATE DATABASE " + dst);
            System.out.printf(Locale.ROOT, "max_locks_per_transaction = %s; %d cores; load average %s%n",
                    server.queryString(dst, "SHOW max_locks_per_transaction"), Runtime.getRuntime().availableProcessors(),
                    Bench.loadAverage());
            PostgresSink sink = new PostgresSink(new DestinationSettings("postgres", server.jdbcUrl(dst), server.user,
                    server.password, null, null));
            try {
                List<TableSchema> schemas = TestChanges.manyTables("tenant", tables);
                long t0 = System.nanoTime();
                for (int from = 0; from < tables; from += 500) {
                    deliver(sink, schemas.subList(from, Math.min(tables, from + 500)), 1, new Position.Batch("many", "copy " + from),
                            "first");
                }
                double created = (System.nanoTime() - t0) / 1e9;
                long t1 = System.nanoTime();
                deliver(sink, schemas, 1, new Position.Log(1000, 1, OffsetDateTime.now()), "updated");
                double tx = (System.nanoTime() - t1) / 1e9;
                long t2 = System.nanoTime();
                deliver(sink, schemas.subList(0, Math.min(80, tables)), 100, new Position.Log(2000, 2, OffsetDateTime.now()), "bulk");
                double bulk = (System.nanoTime() - t2) / 1e9;
                long updated = server.queryLong(dst, "SELECT count(*) FROM tenant.t" + (tables - 1) + " WHERE v = 'updated'");
                System.out.printf(Locale.ROOT, "%,d tables created and filled by copy pages of 500 tables: %.2f s%n", tables, created);
                System.out.printf(Locale.ROOT, "one source transaction updating one row in each of %,d tables: %.2f s%s%n", tables, tx,
                        updated == 1 ? "" : "  !! last table not updated");
                System.out.printf(Locale.ROOT, "one source transaction writing 100 rows into each of %d tables: %.2f s%n",
                        Math.min(80, tables), bulk);
                System.out.printf(Locale.ROOT, "load average at the end: %s%n", Bench.loadAverage());
            } finally {
                sink.stop();
            }
        }
    }

    /** One batch (one destination transaction): {@code rows} rows of each table, every row's v set to {@code value}. */
    private static void deliver(PostgresSink sink, List<TableSchema> tables, int rows, Position position, String value)
            throws Exception {
        TestChanges.deliver(sink, TestChanges.rowsOfEach(tables, rows, position, value), position instanceof Position.Log ? "bench" : null,
                null);
    }
}
