package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * LOG_BASED into postgres while the source runs large transactions that the server streams in progress (64 kB of
 * decoding memory): pgsource applies them into a destination transaction held open until their commit. A committed
 * one arrives complete and exact, an aborted one leaves nothing, one with a rolled-back savepoint arrives without the
 * savepoint's rows (applied after its commit), and nothing of any is visible at the destination before it committed.
 */
class InProgressApplyTest {
    private static final List<String> COLUMNS = List.of("id", "pad", "n");

    @Test
    void largeStreamedTransactionsArriveExactlyAsCommitted() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String source = pg.createDatabase("inprog_src");
        String target = pg.createDatabase("inprog_dst");
        SourceFixture.execute(pg, source, "CREATE TABLE public.big (id int PRIMARY KEY, pad text, n numeric(12,2));"
                + "INSERT INTO public.big SELECT g, 'seed', g FROM generate_series(1, 100) g;"
                // the walsender reads its database's settings: transactions over 64 kB are streamed while in progress
                + "ALTER DATABASE " + source + " SET logical_decoding_work_mem = '64kB'");
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", "inprog");
        env.put("SOURCE_PUBLICATION_NAME", "inprog_pub");
        env.put("SOURCE_MAX_BATCH_SIZE", "1000");
        assertThat(PgSourceMain.run(env, new Properties())).isZero(); // the copy, and the slot

        try (StreamingRun run = new StreamingRun(env); Connection src = pg.connect(source); Connection dst = pg.connect(target)) {
            src.setAutoCommit(false);
            // committed: inserts, updates and deletes, in 1,000-change parts
            execute(src, "INSERT INTO public.big SELECT g, repeat('a', 100), g / 3.0 FROM generate_series(1001, 21000) g");
            execute(src, "UPDATE public.big SET pad = 'updated', n = n + 1 WHERE id % 7 = 0");
            Await.until("the destination holds a transaction open for it", () -> openAt(pg, target));
            assertThat(count(dst, "id > 1000")).as("nothing visible before the commit").isZero();
            execute(src, "DELETE FROM public.big WHERE id BETWEEN 20001 AND 21000");
            src.commit();
            Await.until("it is committed at the destination", () -> count(dst, "id > 1000") == 19_000);

            // aborted after it was applied in part
            execute(src, "INSERT INTO public.big SELECT g, repeat('x', 100), 0 FROM generate_series(100001, 120000) g");
            execute(src, "UPDATE public.big SET pad = 'aborted' WHERE id <= 100");
            Await.until("the destination holds a transaction open for it", () -> openAt(pg, target));
            src.rollback();
            Await.until("the destination rolled it back", () -> !openAt(pg, target));

            // a rolled-back savepoint: applied after its commit, without the savepoint's rows
            execute(src, "INSERT INTO public.big SELECT g, repeat('b', 100), 1 FROM generate_series(200001, 205000) g");
            execute(src, "SAVEPOINT sp");
            execute(src, "INSERT INTO public.big SELECT g, repeat('r', 100), 2 FROM generate_series(300001, 305000) g");
            execute(src, "UPDATE public.big SET pad = 'rolled back' WHERE id <= 100");
            execute(src, "ROLLBACK TO sp");
            execute(src, "INSERT INTO public.big SELECT g, repeat('c', 100), 3 FROM generate_series(205001, 210000) g");
            src.commit();
            // and a small transaction after them all
            execute(src, "INSERT INTO public.big VALUES (-1, 'last', 0)");
            src.commit();
            Await.until("the last transaction arrived", () -> count(dst, "id = -1") == 1);

            assertThat(count(dst, "id > 100000 AND id < 200000")).as("nothing of the aborted transaction").isZero();
            assertThat(count(dst, "id > 300000")).as("nothing of the rolled-back savepoint").isZero();
            assertThat(count(dst, "pad IN ('aborted', 'rolled back')")).isZero();
            try (Connection s = pg.connect(source)) {
                assertThat(SourceFixture.rows(dst, "public.big", COLUMNS)).hasSize(29_101).isEqualTo(SourceFixture.rows(s, "public.big", COLUMNS));
            }
            assertThat(run.stop()).isZero();
        }
    }

    /** Whether pgsource's destination connection is inside a transaction (one held open for a transaction in progress). */
    private static boolean openAt(TestPostgres pg, String target) throws Exception {
        return !SourceFixture.query(pg, target, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                + " AND application_name = 'pgsource' AND state = 'idle in transaction'").isEmpty();
    }

    private static long count(Connection c, String where) throws Exception {
        return Long.parseLong(SourceFixture.query(c, "SELECT count(*) FROM public.big WHERE " + where).get(0));
    }

    private static void execute(Connection c, String sql) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
