package io.pgsource.app;

import io.pgsource.testsupport.TestMariaDb;
import io.pgsource.testsupport.TestPostgres;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * A measurement (not a test, surefire does not pick it up by name): LOG_BASED streaming of {@code -Dtx=1000}
 * transactions of 1,000 inserted rows each into destination=mysql (MariaDB at 127.0.0.1:3306) and, for comparison,
 * destination=postgres, timed from the start of the sync.once run that streams them to its end (the JVM is warm):
 * {@code mvn -o test -Dtest=MySqlThroughputBenchmark -Dtx=1000 -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class MySqlThroughputBenchmark {
    @Test
    void measure() throws Exception {
        TestMariaDb mysql = TestMariaDb.server();
        TestPostgres pg = TestPostgres.server();
        int tx = Integer.getInteger("tx", 100);
        for (String dest : new String[] {"mysql", "postgres"}) {
            String db = pg.createDatabase("tp_" + dest);
            SourceFixture.execute(pg, db, "CREATE SCHEMA shop; CREATE TABLE shop.orders (id bigint PRIMARY KEY, item text, qty int, note text)");
            Map<String, String> env = SourceFixture.env(pg, db, "shop");
            env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
            env.put("SOURCE_REPLICATION_SLOT", "tp_" + dest);
            env.put("SOURCE_PUBLICATION_NAME", "tp_pub");
            String target = null;
            if (dest.equals("mysql")) {
                target = mysql.createDatabase("pgsource_throughput");
                env.put("DESTINATION", "mysql");
                env.put("DESTINATION_URL", mysql.url(target));
                env.put("DESTINATION_USERNAME", mysql.user);
                env.put("DESTINATION_PASSWORD", mysql.password);
            } else {
                SourceFixture.postgresDestination(pg, env, pg.createDatabase("tp_dst"));
            }
            PgSourceMain.run(env, new Properties());
            for (int t = 0; t < tx; t++) {
                SourceFixture.execute(pg, db, "INSERT INTO shop.orders SELECT g, 'item ' || g, g % 7, 'a note of some length ' || g FROM generate_series("
                        + (t * 1000 + 1) + ", " + (t + 1) * 1000 + ") g");
            }
            long t0 = System.nanoTime();
            int exit = PgSourceMain.run(env, new Properties());
            double s = (System.nanoTime() - t0) / 1e9;
            String rows = "";
            if (target != null) {
                try (java.sql.Connection c = mysql.connect(target); java.sql.Statement st = c.createStatement();
                     java.sql.ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM orders")) {
                    rs.next();
                    rows = ", " + rs.getLong(1) + " rows at the destination";
                }
            }
            System.out.printf("THROUGHPUT %s: %d changes in %.1f s = %.0f changes/s (exit %d%s)%n", dest, tx * 1000, s, tx * 1000 / s,
                    exit, rows);
            if (target != null) {
                mysql.dropDatabase(target);
            }
        }
    }
}
