package io.pgsource.sink.jdbc;

import static io.pgsource.sink.TestChanges.page;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.TestChanges;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One source transaction that touched thousands of tables (schema-per-tenant databases, a migration) applies at a
 * destination with the server's default lock table: the destination transaction takes the locks of the tables it
 * writes, as the source did, and a bounded few for staging. Before, every table got a temporary staging table of its own
 * in that transaction, and the destination ran out of shared memory (max_locks_per_transaction) where the source had
 * committed.
 */
class ManyTablesSinkTest {
    private static final int TABLES = 4000;

    @Test
    void aTransactionOverThousandsOfTablesAppliesAndStagingStaysBounded() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String db = pg.createDatabase("sink_many");
        PostgresSink sink = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(),
                null, null));
        try {
            List<TableSchema> tables = TestChanges.manyTables("tenant", TABLES);
            // the tables exist at the destination, as after the initial copy (made 500 at a time, as copies go)
            for (int from = 0; from < TABLES; from += 500) {
                deliver(sink, tables.subList(from, from + 500), 1, "copy " + from, "first");
            }
            // the transaction: one row updated in every table
            deliver(sink, tables, 1, "tx", "updated");
            // and one writing enough rows into many tables to stage them
            deliver(sink, tables.subList(0, 80), 100, "tx2", "bulk");
            try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
                assertThat(count(s, "SELECT count(*) FROM tenant.t100 WHERE v = 'updated'")).isEqualTo(1);
                assertThat(count(s, "SELECT count(*) FROM tenant.t3999 WHERE v = 'updated'")).isEqualTo(1);
                assertThat(count(s, "SELECT count(*) FROM tenant.t79 WHERE v = 'bulk'")).isEqualTo(100);
                assertThat(count(s, "SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'pgsource_stage_%'"))
                        .as("staging tables the session holds").isBetween(1L, (long) CopyStagingWriter.MAX_STAGING_TABLES);
                long updated = 0;
                for (int i = 0; i < TABLES; i += 97) {
                    updated += count(s, "SELECT count(*) FROM tenant.t" + i + " WHERE v IN ('updated', 'bulk')");
                }
                assertThat(updated).isEqualTo(42 + 100 - 1);
            }
        } finally {
            sink.stop();
        }
    }

    private static long count(Statement s, String sql) throws Exception {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** One batch (one destination transaction): {@code rows} rows of each table, every row's v set to {@code value}. */
    private static void deliver(PostgresSink sink, List<TableSchema> tables, int rows, String bookmark, String value)
            throws Exception {
        TestChanges.deliver(sink, TestChanges.rowsOfEach(tables, rows, page("many", bookmark), value), null, null);
    }
}
