package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The first LOG_BASED run on many tables into {@code postgres}: the destination tables it lacks are created ahead of the
 * copy on connections of their own, and every table ends up equal to the source, whether it was created ahead, existed
 * with stale rows, or has a generated column (created by its first page as before); the changes streamed after the copy
 * arrive too. Each table's copy records (its columns, that it was copied at the slot's point) are committed with its
 * last page, in one destination transaction.
 */
class FirstRunManyTablesTest {
    private static final int TABLES = 90;

    @Test
    void manyTablesCopiedIntoPostgresEndEqualToTheSource() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String source = pg.createDatabase("many_first");
        String target = pg.createDatabase("many_first_dst");
        StringBuilder ddl = new StringBuilder("CREATE SCHEMA tenants;");
        for (int i = 0; i < TABLES; i++) {
            ddl.append("CREATE TABLE tenants.t").append(i).append(" (id int PRIMARY KEY, name text, amount numeric(10,2), updated_at timestamptz")
                    .append(i % 30 == 7 ? ", twice numeric GENERATED ALWAYS AS (amount * 2) STORED" : "").append(");")
                    .append("INSERT INTO tenants.t").append(i).append(" (id, name, amount, updated_at) SELECT g, 'n' || g, g * 1.5,")
                    .append(" '2024-01-01'::timestamptz + g * interval '1 day' FROM generate_series(1, ").append(i % 5 * 7).append(") g;");
        }
        SourceFixture.execute(pg, source, ddl.toString());
        // one destination table exists with a row the source does not have: the copy empties it
        SourceFixture.execute(pg, target, "CREATE SCHEMA tenants; CREATE TABLE tenants.t3 (id int PRIMARY KEY, name text,"
                + " amount numeric(10,2), updated_at timestamptz); INSERT INTO tenants.t3 VALUES (1000, 'stale', 1, now())");

        Map<String, String> env = SourceFixture.env(pg, source, "tenants");
        SourceFixture.postgresDestination(pg, env, target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", "many_first");
        env.put("SOURCE_PUBLICATION_NAME", "many_first_pub");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "10");
        List<String> info;
        try (LogCapture logs = new LogCapture()) {
            int code = PgSourceMain.run(env, new Properties());
            assertThat(code).as(logs.lines(Level.ERROR).toString()).isZero();
            info = logs.lines(Level.INFO);
        }
        int generated = (TABLES + 22) / 30;
        assertThat(info).as("the tables created ahead of the copy (not t3, which exists, nor those with a generated column)")
                .contains("creating " + (TABLES - 1 - generated) + " destination tables ahead of the copy on 2 connections of their own"
                        + " (1 exist already)")
                .anySatisfy(line -> assertThat(line).matches("created [1-9][0-9]* destination tables ahead of the copy in .*"));
        assertEqual(pg, source, target);
        try (Connection d = pg.connect(target); java.sql.Statement st = d.createStatement(); java.sql.ResultSet rs = st.executeQuery(
                "SELECT count(*) FROM _pgsource.positions b JOIN _pgsource.positions r ON r.stream IN ('columns:' || b.stream,"
                        + " 'slot:many_first:' || b.stream) AND r.xmin::text = b.xmin::text WHERE b.stream LIKE 'tenants.%'")) {
            rs.next();
            // but the last table's: the end of the run stores its bookmark again, waiting for the flush this time
            assertThat(rs.getInt(1)).as("each table's copy records committed in the transaction of its last page (its bookmark)")
                    .isEqualTo(2 * (TABLES - 1));
        }

        SourceFixture.execute(pg, source, "UPDATE tenants.t1 SET name = 'changed'; DELETE FROM tenants.t2 WHERE id = 3;"
                + " INSERT INTO tenants.t0 (id, name) VALUES (1, 'new'); INSERT INTO tenants.t7 (id, amount) VALUES (500, 2)");
        try (LogCapture logs = new LogCapture()) {
            int code = PgSourceMain.run(env, new Properties());
            assertThat(code).as(logs.lines(Level.ERROR).toString()).isZero();
        }
        assertEqual(pg, source, target);
    }

    private static void assertEqual(TestPostgres pg, String source, String target) throws Exception {
        List<String> tables = new ArrayList<>();
        for (int i = 0; i < TABLES; i++) {
            tables.add("t" + i);
        }
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "tenants", d, "tenants", tables, "");
        }
    }
}
