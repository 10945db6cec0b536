package io.pgsource.sink.mysql;

import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;

import io.pgsource.change.Row;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.mysql.MySqlTables.Target;
import io.pgsource.testsupport.TestMariaDb;
import java.io.ByteArrayInputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A measurement (not a test) that chose how the mysql destination upserts: 100k rows (bigint key, two texts, a
 * numeric(12,2), a timestamptz) upserted into an empty table (all inserts) and again (all updates), as one transaction
 * and as 100 transactions of 1,000 rows, with
 * <ul>
 * <li>{@code odku}: multi-row {@code INSERT ... VALUES ... ON DUPLICATE KEY UPDATE} ({@link MySqlWriter}), and</li>
 * <li>{@code load}: {@code LOAD DATA LOCAL INFILE} into a temporary staging table, then {@code INSERT ... SELECT ... ON
 * DUPLICATE KEY UPDATE}, then the staging table emptied.</li>
 * </ul>
 * Run: {@code mvn -o -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt && java -cp
 * target/test-classes:target/classes:$(cat target/cp.txt) io.pgsource.sink.mysql.MySqlUpsertBenchmark [rows]}
 */
public final class MySqlUpsertBenchmark {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        TestMariaDb mysql = TestMariaDb.server();
        String db = mysql.createDatabase("pgsource_bench_upsert");
        try {
            MySqlConnection connection = new MySqlConnection(new DestinationSettings("mysql", mysql.url(db) + "?allowLocalInfile=true",
                    mysql.user, mysql.password, null, null));
            MySqlWriter writer = new MySqlWriter(connection.tables());
            for (int per : new int[] {n, 1_000}) {
                for (String method : List.of("odku", "load", "odku", "load")) {
                    TableSchema t = table("public", "bench_" + method + "_" + per, List.of("id"), col("id", "bigint"),
                            col("name", "text"), col("note", "text"), col("amount", "numeric(12,2)"), col("created", "timestamp with time zone"));
                    Connection c = connection.get();
                    try (Statement s = c.createStatement()) {
                        s.execute("DROP TABLE IF EXISTS `" + t.id().name() + "`");
                    }
                    Target target = connection.tables().ensure(c, t);
                    c.commit();
                    for (int round = 1; round <= 2; round++) {
                        List<Row> rows = rows(t, n, round);
                        long start = System.nanoTime();
                        for (int from = 0; from < n; from += per) {
                            List<Row> part = rows.subList(from, Math.min(n, from + per));
                            if (method.equals("odku")) {
                                writer.insert(c, target, Set.of(), part, true);
                            } else {
                                load(c, target, part);
                            }
                            c.commit();
                        }
                        double seconds = (System.nanoTime() - start) / 1e9;
                        System.out.printf("%-5s %s, %,d rows in transactions of %,d: %.2f s, %,.0f rows/s%n", method,
                                round == 1 ? "inserts" : "updates", n, per, seconds, n / seconds);
                    }
                }
            }
            connection.close();
        } finally {
            mysql.dropDatabase(db);
        }
    }

    private static List<Row> rows(TableSchema t, int n, int round) {
        List<Row> rows = new ArrayList<>(n);
        OffsetDateTime t0 = OffsetDateTime.of(2024, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);
        for (int i = 0; i < n; i++) {
            rows.add(row(t, (long) i, "customer " + i + " r" + round, "a note of some length for row " + i,
                    BigDecimal.valueOf(i * 7L + round, 2), t0.plusSeconds(i)));
        }
        return rows;
    }

    /** LOAD DATA LOCAL INFILE into a temporary table, then INSERT ... SELECT ... ON DUPLICATE KEY UPDATE. */
    private static void load(Connection c, Target t, List<Row> rows) throws Exception {
        String stage = "`stage_" + t.id().name() + "`";
        StringBuilder tsv = new StringBuilder(rows.size() * 100);
        for (Row r : rows) {
            for (int i = 0; i < r.size(); i++) {
                Object v = MySqlTypes.value(r.get(i), t.kinds().get(i), t.quoted(), t.columnName(i));
                tsv.append(i == 0 ? "" : "\t").append(v == null ? "\\N" : v.toString().replace("\\", "\\\\").replace("\t", "\\t")
                        .replace("\n", "\\n"));
            }
            tsv.append('\n');
        }
        StringBuilder set = new StringBuilder();
        for (int i = 1; i < t.source().size(); i++) {
            String q = MySqlTypes.quote(t.columnName(i));
            set.append(set.isEmpty() ? "" : ", ").append(q).append(" = VALUES(").append(q).append(')');
        }
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TEMPORARY TABLE IF NOT EXISTS " + stage + " LIKE " + t.quoted());
            ((org.mariadb.jdbc.Statement) s).setLocalInfileInputStream(new ByteArrayInputStream(tsv.toString().getBytes(StandardCharsets.UTF_8)));
            s.execute("LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE " + stage + " CHARACTER SET utf8mb4");
            s.execute("INSERT INTO " + t.quoted() + " SELECT * FROM " + stage + " ON DUPLICATE KEY UPDATE " + set);
            s.execute("DELETE FROM " + stage);
        }
    }
}
