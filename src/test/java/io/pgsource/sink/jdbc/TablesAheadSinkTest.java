package io.pgsource.sink.jdbc;

import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.page;
import static io.pgsource.sink.TestChanges.read;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.truncate;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.TestChanges;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A copy of many tables into {@code postgres}: the destination tables it lacks are created ahead of its pages on
 * connections of their own ({@link TablePreparer}), each committed before the page that first writes it, and the
 * tables end up holding exactly the copy's rows, whether they existed before (with stale rows), were created ahead, or
 * a run stopped after creating them and the next one copied into them.
 */
class TablesAheadSinkTest {
    private static final int TABLES = 200;

    @Test
    void tablesAreCreatedAheadOnOtherConnectionsAndHoldExactlyTheCopy() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String db = pg.createDatabase("sink_ahead");
        DestinationSettings settings = new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(), null, null);
        List<TableSchema> tables = TestChanges.manyTables("ahead", TABLES);
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            // one table exists already, with a row an earlier attempt left: the copy empties it
            s.execute("CREATE SCHEMA ahead");
            s.execute("CREATE TABLE ahead.t5 (id bigint PRIMARY KEY, v text)");
            s.execute("INSERT INTO ahead.t5 VALUES (99, 'stale')");
        }
        PostgresSink first = new PostgresSink(settings);
        TablePreparer preparer;
        try {
            first.prepareCopy(tables);
            preparer = first.preparing();
            assertThat(preparer).as("%s tables to create are created ahead", TABLES).isNotNull();
            preparer.awaitDone();
            // the first half is copied, then the run stops
            for (int i = 0; i < TABLES / 2; i++) {
                copy(first, tables.get(i));
            }
        } finally {
            first.stop();
        }
        assertThat(preparer.created()).as("tables created ahead (t5 existed)").isEqualTo(TABLES - 1);
        assertThat(preparer.backends()).as("destination sessions that created them").isNotEmpty();
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            // created ahead: in a transaction of its own, not in that of the page that wrote its first rows (before the
            // next run's TRUNCATE gives each table a new catalog row)
            StringBuilder sameTransaction = new StringBuilder();
            for (int i = 0; i < TABLES / 2; i++) {
                if (i != 5 && "t".equals(rows(s, "SELECT (SELECT xmin FROM pg_catalog.pg_class WHERE oid = 'ahead.t" + i
                        + "'::regclass)::text = (SELECT xmin FROM ahead.t" + i + " WHERE id = 0)::text"))) {
                    sameTransaction.append(" t").append(i);
                }
            }
            assertThat(sameTransaction.toString()).as("tables created in the transaction of their first page").isEmpty();
            assertThat(rows(s, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM ahead.t5")).as("ahead.t5, emptied")
                    .isEqualTo("0=a,1=a,2=a,3=b,4=b");
        }

        // the next run copies every table again: into the tables the first one created (filled or not)
        PostgresSink second = new PostgresSink(settings);
        try {
            for (TableSchema t : tables) {
                copy(second, t);
            }
        } finally {
            second.stop();
        }

        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            for (int i = 0; i < TABLES; i++) {
                assertThat(rows(s, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM ahead.t" + i))
                        .as("ahead.t%d", i).isEqualTo("0=a,1=a,2=a,3=b,4=b");
            }
        }
    }

    @Test
    void aTableCreatedAheadForOtherColumnsThanThePagesBringIsMadeForThePages() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String db = pg.createDatabase("sink_ahead_shape");
        DestinationSettings settings = new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(), null, null);
        List<TableSchema> tables = TestChanges.manyTables("reshaped", TablePreparer.MIN_TABLES);
        // what a route that renames a column on its way to the destination hands over for reshaped.t0
        TableSchema renamed = TestChanges.table("reshaped", "t0", List.of("id"), TestChanges.col("id", "bigint"),
                TestChanges.col("w", "text"));
        PostgresSink sink = new PostgresSink(settings);
        try {
            sink.prepareCopy(tables);
            TablePreparer preparer = sink.preparing();
            assertThat(preparer).as("%s tables to create are created ahead", tables.size()).isNotNull();
            preparer.awaitDone();
            assertThat(preparer.created()).as("tables created ahead").isEqualTo(tables.size());
            copy(sink, renamed);
            copy(sink, tables.get(1));
        } finally {
            sink.stop();
        }
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            assertThat(rows(s, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_catalog.pg_attribute"
                    + " WHERE attrelid = 'reshaped.t0'::regclass AND attnum > 0 AND NOT attisdropped"))
                    .as("the columns of reshaped.t0: those of the rows written, not also the source's").isEqualTo("id,w");
            assertThat(rows(s, "SELECT string_agg(id || '=' || w, ',' ORDER BY id) FROM reshaped.t0")).isEqualTo("0=a,1=a,2=a,3=b,4=b");
            assertThat(rows(s, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM reshaped.t1")).isEqualTo("0=a,1=a,2=a,3=b,4=b");
        }
    }

    /** One table's copy as the snapshot copy sends it: a first page (TRUNCATE, three rows), a second page. */
    private static void copy(PostgresSink sink, TableSchema t) throws Exception {
        List<ChangeEvent> firstPage = new ArrayList<>();
        firstPage.add(truncate(t));
        for (long id = 0; id < 3; id++) {
            firstPage.add(read(row(t, id, "a")));
        }
        String stream = t.id().toString();
        TestChanges.deliver(sink, batch(page(stream, "p1-" + System.nanoTime()), firstPage.toArray(ChangeEvent[]::new)), null, null);
        TestChanges.deliver(sink, batch(page(stream, "p2-" + System.nanoTime()), read(row(t, 3L, "b")), read(row(t, 4L, "b"))), null, null);
    }

    private static String rows(Statement s, String sql) throws Exception {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
