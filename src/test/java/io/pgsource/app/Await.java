package io.pgsource.app;

import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** Waits of the end-to-end tests for what a running pgsource makes true, each failing with what it waited for. */
final class Await {
    private Await() {
    }

    /** Until the condition holds, for at most 60 s. */
    static void until(String what, Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.call()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(100);
        }
    }

    /** Until the tables of {@code schema} hold the same rows in both databases (at most 60 s), then asserts it. */
    static void equal(TestPostgres pg, String source, String target, String schema, List<String> tables) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!TableCompare.differences(s, schema, d, schema, tables).isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            TableCompare.assertEqual(s, schema, d, schema, tables, "");
        }
    }
}
