package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.TableId;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceSettings;
import io.pgsource.config.SslSettings;
import io.pgsource.sink.TestChanges;
import io.pgsource.sink.jdbc.PostgresSink;
import io.pgsource.state.MemoryPositionStore;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.ReplicationSlotInfo;

/**
 * {@code source.snapshot_workers}: a copy read by 4 connections inside one exported snapshot holds exactly the rows a
 * copy by one connection holds (the snapshot's), for a table split into key ranges, one split into block ranges (a text
 * key, whose order the histogram need not follow), a table without key split into block ranges, and a small one read
 * whole; and no table is marked copied before its last range is applied.
 */
class SnapshotWorkersTest {
    private static TestPostgres pg;
    private static String source;
    private static String serial;
    private static String parallel;
    private static TestSourceConnections connections;
    private static final ExecutorService READERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "page-reader");
        t.setDaemon(true);
        return t;
    });
    private static final String[] TABLES = {"w.keyed", "w.textkey", "w.keyless", "w.small"};

    @BeforeAll
    static void databases() throws SQLException {
        pg = TestPostgres.server();
        source = pg.createDatabase("workers");
        serial = pg.createDatabase("workers_one");
        parallel = pg.createDatabase("workers_four");
        connections = new TestSourceConnections(source);
    }

    @AfterAll
    static void stop() {
        READERS.shutdownNow();
    }

    private static void execute(String database, String... sql) throws SQLException {
        try (Connection c = pg.connect(database); Statement s = c.createStatement()) {
            for (String statement : sql) {
                s.execute(statement);
            }
        }
    }

    private static long count(String database, String sql) throws SQLException {
        try (Connection c = pg.connect(database); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static Connection replicationConnection() throws SQLException {
        Properties props = new Properties();
        PGProperty.USER.set(props, pg.user());
        PGProperty.PASSWORD.set(props, pg.password());
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        return DriverManager.getConnection(pg.jdbcUrl(source), props);
    }

    @Test
    void fourReadersCopyExactlyTheRowsOneReaderCopies() throws Exception {
        execute(source,
                "CREATE SCHEMA w",
                "CREATE TABLE w.keyed (id bigint PRIMARY KEY, v text)",
                "CREATE TABLE w.textkey (k text PRIMARY KEY, n int)",
                "CREATE TABLE w.keyless (a int, b text)",
                "CREATE TABLE w.small (id int PRIMARY KEY)",
                // gaps in the keys and dead rows in the blocks, as a table that lived has
                "INSERT INTO w.keyed SELECT g * 3, 'v' || g FROM generate_series(1, 20000) g",
                "DELETE FROM w.keyed WHERE id % 7 = 0",
                "UPDATE w.keyed SET v = 'updated' WHERE id % 11 = 0",
                "INSERT INTO w.textkey SELECT md5(g::text), g FROM generate_series(1, 8000) g",
                // duplicates: a row without key is as many times in the copy as in the table
                "INSERT INTO w.keyless SELECT g % 500, 'x' || (g % 300) FROM generate_series(1, 12000) g",
                "DELETE FROM w.keyless WHERE a = 7",
                "INSERT INTO w.small VALUES (1), (2), (3)",
                "ANALYZE w.keyed", "ANALYZE w.textkey", "ANALYZE w.keyless");
        SourceSettings settings = new SourceSettings(pg.host(), pg.port(), source, pg.user(), pg.password(), List.of("w"), List.of(),
                "slot", "pub", 500, ReplicationMethod.LOG_BASED, null, Map.of(), Duration.ZERO, SslSettings.NONE);
        List<StreamTask> tasks = new BatchStreams(settings, connections).streams();
        PostgresSink one = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(serial), pg.user(), pg.password(), null, null));
        PostgresSink four = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(parallel), pg.user(), pg.password(), null, null));
        Map<String, List<ChangeBatch>> pages = new HashMap<>();
        List<String> markedEarly = new ArrayList<>();
        List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        ParallelCopy copy = new ParallelCopy(connections, READERS, new CopyProgress(Duration.ofNanos(1), () -> meters, lines::add), 4);
        try (Connection replication = replicationConnection()) {
            ReplicationSlotInfo slot = replication.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot().logical()
                    .withSlotName("workers_slot").withOutputPlugin("pgoutput").make();
            // committed after the snapshot: in neither copy
            execute(source,
                    "INSERT INTO w.keyed VALUES (1000000, 'late')",
                    "UPDATE w.keyed SET v = 'late' WHERE id < 3000",
                    "DELETE FROM w.keyed WHERE id > 50000",
                    "INSERT INTO w.keyless SELECT 1, 'late' FROM generate_series(1, 1000)",
                    "DELETE FROM w.keyless WHERE a = 8",
                    "UPDATE w.textkey SET n = -n");
            new SnapshotCopy(connections, READERS, CopyProgress.NONE, 1).copy(slot.getSnapshotName(), tasks,
                    page -> TestChanges.deliver(one, page, null, null));
            copy.copy(slot.getSnapshotName(), tasks, page -> {
                String stream = ((Position.Batch) page.position()).stream();
                pages.computeIfAbsent(stream, s -> new ArrayList<>()).add(page);
                TestChanges.deliver(four, page, null, null);
                if (!page.last() && SnapshotCopy.completed(four.positions(), stream)) {
                    markedEarly.add(stream + " after " + pages.get(stream).size() + " page(s)");
                }
            }, (task, columns) -> { });
        } finally {
            execute(source, "SELECT pg_drop_replication_slot('workers_slot')");
            one.stop();
            four.stop();
        }
        assertThat(connections.stillOpen()).isZero();
        // the large tables were split, each the way its key allows
        assertThat(copy.split()).containsEntry(TableId.parse("w.small"), "whole");
        assertThat(copy.split().get(TableId.parse("w.keyed"))).startsWith("key ranges: ");
        assertThat(copy.split().get(TableId.parse("w.textkey"))).startsWith("block ranges: ");
        assertThat(copy.split().get(TableId.parse("w.keyless"))).startsWith("block ranges: ");

        long keyedRows = 20000 - 20000 / 7;
        assertThat(count(serial, "SELECT count(*) FROM w.keyed")).isEqualTo(keyedRows);
        assertThat(count(serial, "SELECT count(*) FROM w.keyless")).isEqualTo(12000 - 24);
        for (String table : TABLES) {
            assertThat(count(parallel, "SELECT count(*) FROM " + table)).as(table).isEqualTo(count(serial, "SELECT count(*) FROM " + table));
            // the same rows, duplicates counted
            assertThat(dump(parallel, table)).as(table).isEqualTo(dump(serial, table));
        }
        // every table: TRUNCATE first and only there; completed and last on its last page only, never before it
        assertThat(markedEarly).isEmpty();
        for (String table : TABLES) {
            List<ChangeBatch> tablePages = pages.get(table);
            assertThat(tablePages.get(0).get(0).op()).as(table).isEqualTo(Op.TRUNCATE);
            assertThat(tablePages.stream().flatMap(List::stream).filter(e -> e.op() == Op.TRUNCATE).count()).as(table).isOne();
            assertThat(tablePages.stream().filter(ChangeBatch::last).toList()).as(table).containsExactly(tablePages.get(tablePages.size() - 1));
            assertThat(tablePages).allSatisfy(p -> assertThat(p.stream().map(ChangeEvent::op).filter(op -> op == Op.READ).count())
                    .isLessThanOrEqualTo(500));
            MemoryPositionStore stored = new MemoryPositionStore();
            stored.save(table, ((Position.Batch) tablePages.get(tablePages.size() - 1).position()).bookmark());
            assertThat(SnapshotCopy.completed(stored, table)).as(table).isTrue();
        }
        assertThat(pages.get("w.keyed").size()).isGreaterThan(4);

        // progress under parallel readers: each table's own counts, a total over the four with the summed estimate
        long total = 0;
        for (String table : TABLES) {
            long rows = count(parallel, "SELECT count(*) FROM " + table);
            total += rows;
            assertThat(meters.get("pgsource.copy.rows").tag("table", table).gauge().value()).as(table).isEqualTo(rows);
            assertThat(meters.get("pgsource.copy.rows.per.second").tag("table", table).gauge().value()).as(table).isPositive();
            assertThat(meters.get("pgsource.copy.eta").tag("table", table).gauge().value()).as(table).isZero();
            assertThat(lines).as(table).anySatisfy(l -> assertThat(l).startsWith("Copied " + table + ": " + String.format("%,d", rows) + " rows"));
        }
        assertThat(meters.get("pgsource.copy.total.rows").gauge().value()).isEqualTo(total);
        assertThat(meters.get("pgsource.copy.total.rows.estimated").gauge().value()).isPositive();
        assertThat(meters.get("pgsource.copy.total.eta").gauge().value()).isZero();
        List<String> totals = lines.stream().filter(l -> l.startsWith("Copying 4 tables: ")).toList();
        assertThat(totals).isNotEmpty().allSatisfy(l -> assertThat(l).contains(" rows (").contains("rows/s").contains(", ETA")
                .contains(" of 4 tables done"));
        assertThat(meters.scrape()).contains("pgsource_copy_rows_per_second{table=\"w.keyed\"}", "pgsource_copy_eta_seconds{table=\"w.keyed\"} 0.0",
                "pgsource_copy_total_rows " + total, "pgsource_copy_total_eta_seconds 0.0");
    }

    /**
     * A table without key whose rows fill its pages exactly ends with an empty last page (with one reader as with four,
     * whose ranges end so more often): the destination takes it and stores the table as copied.
     */
    @Test
    void anEmptyLastPageOfAKeylessTableIsApplied() throws Exception {
        execute(source, "CREATE SCHEMA e", "CREATE TABLE e.loose (a int, b text)",
                "INSERT INTO e.loose SELECT g % 10, 'x' FROM generate_series(1, 1000) g");
        SourceSettings settings = new SourceSettings(pg.host(), pg.port(), source, pg.user(), pg.password(), List.of("e"), List.of(),
                "slot", "pub", 500, ReplicationMethod.LOG_BASED, null, Map.of(), Duration.ZERO, SslSettings.NONE);
        List<StreamTask> tasks = new BatchStreams(settings, connections).streams();
        for (int workers : new int[] {1, 4}) {
            String database = pg.createDatabase("workers_empty_" + workers);
            PostgresSink sink = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(database), pg.user(), pg.password(), null, null));
            List<ChangeBatch> pages = new ArrayList<>();
            try (Connection replication = replicationConnection()) {
                ReplicationSlotInfo slot = replication.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot().logical()
                        .withSlotName("workers_empty").withOutputPlugin("pgoutput").make();
                new SnapshotCopy(connections, READERS, CopyProgress.NONE, workers).copy(slot.getSnapshotName(), tasks, page -> {
                    pages.add(page);
                    TestChanges.deliver(sink, page, null, null);
                });
                if (workers == 1) {
                    assertThat(pages.get(pages.size() - 1)).as("the last page").isEmpty();
                }
                assertThat(count(database, "SELECT count(*) FROM e.loose")).as(workers + " reader(s)").isEqualTo(1000);
                assertThat(SnapshotCopy.completed(sink.positions(), "e.loose")).as(workers + " reader(s)").isTrue();
            } finally {
                execute(source, "SELECT pg_drop_replication_slot('workers_empty')");
                sink.stop();
            }
        }
    }

    /** The table's rows as sorted text lines, duplicates kept. */
    private static List<String> dump(String database, String table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = pg.connect(database); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT t::text FROM " + table + " t ORDER BY 1")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }
}
