package io.pgsource.sink.jdbc;

import io.pgsource.sink.TestChanges;
import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.page;
import static io.pgsource.sink.TestChanges.read;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.plan.WritePlanner;
import io.pgsource.sink.plan.WritePlan;
import io.pgsource.sink.jdbc.PostgresSink.UpsertMethod;
import io.pgsource.testsupport.TestPostgres;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * A throwaway measurement (not a test): 200k realistic rows upserted with each {@link UpsertMethod}, first into an
 * empty table (all inserts), then again (all updates), each in one transaction; plus a plain COPY into an
 * unindexed table as the reference for what the server can take. Run with the test classpath and
 * PGSOURCE_TEST_JDBC_URL set.
 */
public final class UpsertMethodsBenchmark {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        TestPostgres pg = TestPostgres.server();
        String db = pg.createDatabase("bench_upsert");
        DestinationSettings settings = new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(), null, null);
        for (int round = 1; round <= 2; round++) {
            for (UpsertMethod method : UpsertMethod.values()) {
                String schema = "b_" + method.name().toLowerCase() + "_" + round;
                TableSchema t = table(schema, "orders", List.of("id"),
                        col("id", "bigint"), col("qty", "integer"), col("customer", "text"), col("amount", "numeric(12,2)"),
                        col("note", "text"), col("created_at", "timestamp with time zone"),
                        col("updated_at", "timestamp with time zone"), col("attrs", "jsonb"), col("paid", "boolean"));
                ChangeBatch inserts = rows(t, n, 0);
                ChangeBatch updates = rows(t, n, 1);
                PostgresSink sink = new PostgresSink(settings, method);
                TestChanges.deliver(sink, rows(t, 1, 0), null, null); // connect and create the table
                long t0 = System.nanoTime();
                TestChanges.deliver(sink, inserts, null, null);
                long t1 = System.nanoTime();
                TestChanges.deliver(sink, updates, null, null);
                long t2 = System.nanoTime();
                sink.stop();
                System.out.printf("round %d %-13s insert %,7d ms (%,9.0f rows/s)  update %,7d ms (%,9.0f rows/s)%n", round, method,
                        (t1 - t0) / 1_000_000, n / ((t1 - t0) / 1e9), (t2 - t1) / 1_000_000, n / ((t2 - t1) / 1e9));
            }
            // reference: plain COPY of the same rows into a table without index, one transaction
            PostgresSink plain = new PostgresSink(settings, UpsertMethod.COPY);
            TableSchema keyless = table("b_plain_" + round, "orders", List.of(),
                    col("id", "bigint"), col("qty", "integer"), col("customer", "text"), col("amount", "numeric(12,2)"),
                    col("note", "text"), col("created_at", "timestamp with time zone"),
                    col("updated_at", "timestamp with time zone"), col("attrs", "jsonb"), col("paid", "boolean"));
            ChangeBatch appends = rows(keyless, n, 0);
            TestChanges.deliver(plain, rows(keyless, 1, 0), null, null);
            long t0 = System.nanoTime();
            TestChanges.deliver(plain, appends, null, null);
            long t1 = System.nanoTime();
            plain.stop();
            System.out.printf("round %d %-13s append %,7d ms (%,9.0f rows/s)%n", round, "PLAIN COPY", (t1 - t0) / 1_000_000, n / ((t1 - t0) / 1e9));
        }
        // small batches, as log replication delivers them: 2000 transactions of 5 rows
        for (UpsertMethod method : UpsertMethod.values()) {
            TableSchema t = table("small_" + method.name().toLowerCase(), "orders", List.of("id"),
                    col("id", "bigint"), col("qty", "integer"), col("customer", "text"), col("amount", "numeric(12,2)"),
                    col("note", "text"), col("created_at", "timestamp with time zone"),
                    col("updated_at", "timestamp with time zone"), col("attrs", "jsonb"), col("paid", "boolean"));
            PostgresSink sink = new PostgresSink(settings, method);
            List<ChangeBatch> plans = new ArrayList<>();
            for (int b = 0; b < 2000; b++) {
                plans.add(rows(t, 5, b));
            }
            TestChanges.deliver(sink, plans.get(0), null, null);
            long t0 = System.nanoTime();
            for (ChangeBatch p : plans) {
                TestChanges.deliver(sink, p, null, null);
            }
            long t1 = System.nanoTime();
            sink.stop();
            System.out.printf("small %-13s 2000 x 5 rows %,7d ms (%,6.2f ms per batch)%n", method, (t1 - t0) / 1_000_000, (t1 - t0) / 1e6 / 2000);
        }
        try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE \"" + db + "\"");
        }
    }

    private static ChangeBatch rows(TableSchema t, int n, int version) {
        String filler = "x".repeat(90);
        OffsetDateTime base = OffsetDateTime.of(2024, 5, 1, 12, 0, 0, 0, ZoneOffset.UTC);
        List<ChangeEvent> events = new ArrayList<>(n);
        for (long i = 0; i < n; i++) {
            events.add(read(row(t, i, (int) (i % 100) + version, "customer-" + (i % 5000), BigDecimal.valueOf(i * 7 + version, 2),
                    String.format("%010d", i) + filler, base.plusSeconds(i), base.plusSeconds(i + version * 60L),
                    "{\"src\": \"web\", \"n\": " + (i % 13) + ", \"v\": " + version + "}", (i + version) % 2 == 0)));
        }
        return batch(page(t.id().toString(), Integer.toString(version)), events.toArray(ChangeEvent[]::new));
    }
}
