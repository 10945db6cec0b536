package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.MySqlCompare;
import io.pgsource.testsupport.TestMariaDb;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The batch query (FULL_TABLE, sync.once) into destination=mysql (MariaDB; skipped without one) end to end: a table of
 * many types and their edge values ends equal to the source ({@link MySqlCompare}); a BC date stops the run (exit code
 * 1, one line with the fix, nothing of its batch applied); after the fix (the column as text) the next run copies it,
 * PostgreSQL's text form in that column.
 */
class MySqlEndToEndTest {
    private static final String TABLE = """
            CREATE TABLE shop.items (id bigint PRIMARY KEY, name text, price numeric(10,2), ratio numeric, big numeric(80,0),
              r real, d double precision, ok boolean, born date, seen timestamptz, at timestamp, took interval, tags text[],
              span int4range, doc jsonb, raw bytea, code char(3), u uuid);
            INSERT INTO shop.items SELECT g, 'item ' || g || ' ✓', g * 1.25, g / 7.0, 10::numeric ^ 79 + g, g / 3.0, g / 7.0,
              g % 2 = 0, date '2024-02-29' + g, timestamptz '2024-05-06 07:08:09.123456+02' + g * interval '1 hour',
              timestamp '2024-01-01 00:00:00' + g * interval '1 second', g * interval '1 day 2 hours', ARRAY['a' || g, 'b'],
              int4range(g, g + 10), jsonb_build_object('g', g, 'list', jsonb_build_array(1, 2)), decode(md5(g::text), 'hex'),
              'x' || g % 10, md5(g::text)::uuid
              FROM generate_series(1, 200) g;
            INSERT INTO shop.items (id, name, ratio, r, d, took) VALUES
              (1000, 'edges', 'NaN', 1e-38, 1e308, '-1 year -2 mons +3 days -04:05:06.5');
            CREATE TABLE shop.ends (id int PRIMARY KEY, born date, seen timestamptz, at timestamp);
            INSERT INTO shop.ends VALUES (1, 'infinity', '-infinity', 'infinity');
            """;

    @Test
    void aTableOfManyTypesIsCopiedExactlyAndABcDateStopsTheRunWithTheFix() throws Exception {
        TestMariaDb mysql = TestMariaDb.server();
        TestPostgres pg = TestPostgres.server();
        String source = pg.createDatabase("mysql_e2e_src");
        String target = mysql.createDatabase("pgsource_e2e");
        try {
            SourceFixture.execute(pg, source, "CREATE SCHEMA shop;\n" + TABLE);
            Map<String, String> env = SourceFixture.env(pg, source, "shop");
            env.put("DESTINATION", "mysql");
            env.put("DESTINATION_URL", "jdbc:mysql://" + mysql.host + ":" + mysql.port + "/" + target);
            env.put("DESTINATION_USERNAME", mysql.user);
            env.put("DESTINATION_PASSWORD", mysql.password);
            assertThat(PgSourceMain.run(env, new Properties())).as("the first copy").isZero();
            assertEqual(pg, source, mysql, target);
            assertThat(SourceFixture.query(mysql.connect(target), "SELECT CONCAT_WS('|', born, seen, at) FROM ends"))
                    .as("infinities: the ends of MySQL's range").containsExactly("9999-12-31|0001-01-01 00:00:00.000000|9999-12-31 23:59:59.999999");

            SourceFixture.execute(pg, source, "INSERT INTO shop.items (id, name, born) VALUES (2000, 'caesar', '0044-03-15 BC')");
            try (LogCapture logs = new LogCapture()) {
                assertThat(PgSourceMain.run(env, new Properties())).as("a BC date stops the run").isEqualTo(1);
                assertThat(logs.text()).contains("received the value 0044-03-15 BC")
                        .contains("ALTER TABLE `" + target + "`.`items` MODIFY `born` VARCHAR(64)");
            }
            try (Connection c = mysql.connect(target); Statement s = c.createStatement()) {
                s.execute("ALTER TABLE items MODIFY born VARCHAR(64)");
            }
            assertThat(PgSourceMain.run(env, new Properties())).as("after the fix").isZero();
            assertEqual(pg, source, mysql, target);
            assertThat(SourceFixture.query(mysql.connect(target), "SELECT born FROM items WHERE id = 2000")).containsExactly("0044-03-15 BC");
        } finally {
            mysql.dropDatabase(target);
        }
    }

    private static void assertEqual(TestPostgres pg, String source, TestMariaDb mysql, String target) throws Exception {
        try (Connection s = pg.connect(source); Connection d = mysql.connect(target)) {
            assertThat(MySqlCompare.difference(s, "shop", d, "items")).isEmpty();
        }
    }
}
