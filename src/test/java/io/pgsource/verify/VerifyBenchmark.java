package io.pgsource.verify;

import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * A measurement (not a test) of what verify costs: a table of N rows (bigint key, int, text, numeric(12,2),
 * timestamptz) in two databases of the embedded PostgreSQL, compared by {@code verify} when equal and with 2 rows
 * changed, next to a full comparison that brings every destination row to the source ({@link TableCompare}: COPY out,
 * COPY in, EXCEPT ALL both ways), in one run.
 * Run: {@code mvn -o -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt && java -cp
 * target/test-classes:target/classes:$(cat target/cp.txt) io.pgsource.verify.VerifyBenchmark [rows]}
 */
public final class VerifyBenchmark {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        TestPostgres pg = TestPostgres.server();
        String source = pg.createDatabase("bench_verify_src");
        String target = pg.createDatabase("bench_verify_dst");
        String table = "CREATE SCHEMA app; CREATE TABLE app.t (id bigint PRIMARY KEY, v int, note text, amount numeric(12,2),"
                + " at timestamptz); INSERT INTO app.t SELECT g, g % 1000, 'note ' || g, g * 1.25, timestamptz '2024-01-01' + g *"
                + " interval '1 s' FROM generate_series(1, " + n + ") g";
        for (String db : List.of(source, target)) {
            try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
                s.execute(table);
                s.execute("VACUUM ANALYZE app.t");
            }
        }
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_HOST", pg.host());
        env.put("SOURCE_PORT", Integer.toString(pg.port()));
        env.put("SOURCE_DATABASE", source);
        env.put("SOURCE_USERNAME", pg.user());
        env.put("SOURCE_PASSWORD", pg.password());
        env.put("SOURCE_SCHEMA", "app");
        env.put("SOURCE_REPLICATION_METHOD", "FULL_TABLE");
        env.put("DESTINATION", "postgres");
        env.put("DESTINATION_URL", pg.jdbcUrl(target));
        env.put("DESTINATION_USERNAME", pg.user());
        env.put("DESTINATION_PASSWORD", pg.password());
        run("verify, equal (first, JVM warming up)", env);
        run("verify, equal", env);
        try (Connection c = pg.connect(target); Statement s = c.createStatement()) {
            s.execute("UPDATE app.t SET note = 'x' WHERE id IN (" + n / 3 + ", " + 2 * n / 3 + ")");
        }
        run("verify, 2 rows differ", env);
        long start = System.nanoTime();
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.Difference diff = TableCompare.compare(s, "app", d, "app", "t");
            System.out.printf("full comparison (every row sent, EXCEPT ALL): %d ms (%s)%n", (System.nanoTime() - start) / 1_000_000,
                    diff == null ? "equal" : diff.missing() + " missing, " + diff.extra() + " extra");
        }
    }

    private static void run(String what, Map<String, String> env) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long start = System.nanoTime();
        int code = VerifyCommand.run(false, List.of(), env, new Properties(), new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        System.out.printf("%s: %d ms, exit %d: %s%n", what, (System.nanoTime() - start) / 1_000_000, code,
                out.toString(StandardCharsets.UTF_8).strip());
    }
}
