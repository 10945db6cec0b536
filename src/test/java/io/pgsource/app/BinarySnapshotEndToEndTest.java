package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.pgsource.batch.BinaryPagesTest;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A snapshot read in COPY's binary format (every column a built-in type with a binary decoder) reaches a PostgreSQL
 * destination exactly, the tuples passed through into {@code COPY FROM (FORMAT binary)}: by FULL_TABLE (twice: into a
 * fresh table, then upserted through the staging table) and by LOG_BASED's initial copy. Beside it, the tables that take
 * other paths: a money column (read in binary, written as text: money's text depends on lc_monetary, so the destination
 * never takes it as it arrived), a point column (read as text), a table without key (read by ctid ranges).
 */
class BinarySnapshotEndToEndTest {
    private static final String OTHERS = """
            CREATE TABLE priced (id int PRIMARY KEY, m money, t text, n numeric);
            INSERT INTO priced SELECT g, g * 1.25, E'p\\t' || g, g / 3.0 FROM generate_series(1, 30) g;
            INSERT INTO priced VALUES (31, NULL, NULL, 'NaN');
            CREATE TABLE pointed (id int PRIMARY KEY, p point, t text);
            INSERT INTO pointed SELECT g, point(g, -g), E'back\\\\slash ' || g FROM generate_series(1, 20) g;
            CREATE TABLE loose (t text, n numeric, j jsonb);
            INSERT INTO loose SELECT E'l\\n' || (g % 5), g, jsonb_build_object('g', g) FROM generate_series(1, 20) g;
            """;
    private static final List<String> TABLES = List.of("many", "priced", "pointed", "loose");

    @ParameterizedTest
    @ValueSource(strings = {"FULL_TABLE", "LOG_BASED"})
    void everyBuiltInTypeArrivesExactlyThroughTheBinaryCopy(String method) throws Exception {
        TestPostgres pg = TestPostgres.server();
        String source = pg.createDatabase("bin_" + method.toLowerCase());
        String target = pg.createDatabase("bin_" + method.toLowerCase() + "_dst");
        SourceFixture.execute(pg, source, BinaryPagesTest.MANY_TYPES + OTHERS);
        if (pg.majorVersion() >= 14) {
            SourceFixture.execute(pg, source, "UPDATE many SET nn = 'Infinity', na = '{-Infinity,1}' WHERE id = 4");
        }
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        SourceFixture.postgresDestination(pg, env, target);
        env.put("SOURCE_REPLICATION_METHOD", method);
        env.put("SOURCE_TABLES", "public.many,public.priced,public.pointed" + (method.equals("FULL_TABLE") ? ",public.loose" : ""));
        env.put("SOURCE_REPLICATION_SLOT", source);
        env.put("SOURCE_PUBLICATION_NAME", source + "_pub");
        // pages of 100 rows: enough for the destination's COPY (below 64 rows a batch goes by INSERT)
        env.put("SOURCE_BATCH_FETCH_LIMIT", "100");
        List<String> compared = method.equals("FULL_TABLE") ? TABLES : TABLES.subList(0, 3);

        run(env);
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "public", d, "public", compared, "after the first run");
        }
        if (method.equals("LOG_BASED")) {
            return;
        }
        // the second run upserts every row through the staging table, changed ones included
        SourceFixture.execute(pg, source, "UPDATE many SET t = E'changed\\t' || id, jb = '[]' WHERE id % 3 = 0;"
                + " INSERT INTO many (id, t) SELECT g, 'new' FROM generate_series(41, 200) g; UPDATE priced SET m = m + 1::money");
        run(env);
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "public", d, "public", compared, "after the second run");
        }
    }

    /**
     * Runs pgsource once; every batch must go as a whole (a COPY the destination refused would be applied again change by
     * change, hiding a wrong binary tuple behind the same rows).
     */
    private static void run(Map<String, String> env) {
        try (LogCapture logs = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).isZero();
            assertThat(logs.lines(Level.INFO)).noneSatisfy(l -> assertThat(l).contains("refused the batch"));
        }
    }
}
