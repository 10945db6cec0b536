package io.pgsource.batch;

import io.pgsource.sink.TestChanges;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceConnections;
import io.pgsource.config.SourceSettings;
import io.pgsource.config.SslSettings;
import io.pgsource.sink.plan.WritePlanner;
import io.pgsource.sink.jdbc.PostgresSink;
import io.pgsource.state.MemoryPositionStore;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.types.TypeRegistry;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.ReplicationSlotInfo;

/**
 * The initial copy inside the snapshot a replication slot exported when it was created over a replication
 * connection: it holds exactly the rows committed before the slot, whatever is committed after.
 */
class SnapshotCopyTest {
    private static TestPostgres pg;
    private static String source;
    private static String destination;
    private static TestSourceConnections connections;
    private static final List<PostgresSink> SINKS = new ArrayList<>();
    private static final AtomicInteger SLOTS = new AtomicInteger();
    /** The threads that read pages ahead, as the application's pool does. */
    private static final Executor READERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "page-reader");
        t.setDaemon(true);
        return t;
    });

    @BeforeAll
    static void databases() throws SQLException {
        pg = TestPostgres.server();
        source = pg.createDatabase("snapcopy");
        destination = pg.createDatabase("snapcopy_dst");
        connections = new TestSourceConnections(source);
    }

    @AfterAll
    static void closeSinks() {
        SINKS.forEach(PostgresSink::stop);
    }

    private static void execute(String database, String... sql) throws SQLException {
        try (Connection c = pg.connect(database); Statement s = c.createStatement()) {
            for (String statement : sql) {
                s.execute(statement);
            }
        }
    }

    private static List<String> rows(String database, String sql) throws SQLException {
        try (Connection c = pg.connect(database); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder sb = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    sb.append(i == 1 ? "" : "|").append(rs.getString(i));
                }
                out.add(sb.toString());
            }
            return out;
        }
    }

    /** A replication connection; the slot it creates exports a snapshot that lives while it stays open and idle. */
    private static Connection replicationConnection() throws SQLException {
        Properties props = new Properties();
        PGProperty.USER.set(props, pg.user());
        PGProperty.PASSWORD.set(props, pg.password());
        PGProperty.REPLICATION.set(props, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        return DriverManager.getConnection(pg.jdbcUrl(source), props);
    }

    private static ReplicationSlotInfo createSlot(Connection replication, String name) throws SQLException {
        return replication.unwrap(PGConnection.class).getReplicationAPI().createReplicationSlot().logical()
                .withSlotName(name).withOutputPlugin("pgoutput").make();
    }

    private static void dropSlot(String name) throws SQLException {
        execute(source, "SELECT pg_drop_replication_slot('" + name + "')");
    }

    private static List<StreamTask> tasks(String schema, int pageSize) throws SQLException {
        SourceSettings settings = new SourceSettings(pg.host(), pg.port(), source, pg.user(), pg.password(), List.of(schema), List.of(),
                "slot", "pub", pageSize, ReplicationMethod.LOG_BASED, null, Map.of(), Duration.ZERO, SslSettings.NONE);
        return new BatchStreams(settings, connections).streams();
    }

    private static PostgresSink sink() {
        PostgresSink s = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(destination), pg.user(), pg.password(), null, null));
        SINKS.add(s);
        return s;
    }

    private static void apply(PostgresSink sink, ChangeBatch page) throws SQLException {
        TestChanges.deliver(sink, page, null, null);
    }

    /**
     * The copy's progress: a line per page here (an interval of 1 ns), with increasing counts, the estimate and an ETA for
     * a table ANALYZE counted, "size unknown" and no ETA for one never analyzed; a final line per table; the gauges end
     * at the rows copied.
     */
    @Test
    void copyProgressTellsRowsEstimateAndEtaPerTable() throws Exception {
        execute(source,
                "CREATE SCHEMA prog",
                // autovacuum off: it must not analyze the table meant to stay unanalyzed while the test runs
                "CREATE TABLE prog.counted (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)",
                "CREATE TABLE prog.fresh (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)",
                "INSERT INTO prog.counted SELECT g, 'value ' || g FROM generate_series(1, 5000) g",
                "INSERT INTO prog.fresh SELECT g, 'value ' || g FROM generate_series(1, 5000) g",
                "ANALYZE prog.counted");
        List<StreamTask> tasks = tasks("prog", 1000);
        List<String> lines = new ArrayList<>();
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        CopyProgress progress = new CopyProgress(Duration.ofNanos(1), () -> meters, lines::add);
        String slot = "snap_" + SLOTS.incrementAndGet();
        try (Connection replication = replicationConnection()) {
            ReplicationSlotInfo info = createSlot(replication, slot);
            new SnapshotCopy(connections, READERS, progress).copy(info.getSnapshotName(), tasks, page -> { });
        } finally {
            dropSlot(slot);
        }

        List<String> counted = lines.stream().filter(l -> l.startsWith("Copying prog.counted:")).toList();
        assertThat(counted).hasSizeGreaterThanOrEqualTo(2)
                .allSatisfy(l -> assertThat(l).contains(" of ~5,000 rows (").contains("rows/s").contains(", ETA ")
                        .endsWith("; total 0 of 2 tables"));
        assertThat(counted.stream().map(SnapshotCopyTest::rowsIn).toList()).isSorted().doesNotHaveDuplicates();
        List<String> fresh = lines.stream().filter(l -> l.startsWith("Copying prog.fresh:")).toList();
        assertThat(fresh).hasSizeGreaterThanOrEqualTo(2)
                .allSatisfy(l -> assertThat(l).contains("rows of size unknown (never analyzed, ").contains(" on disk)")
                        .doesNotContain("ETA").endsWith("; total 1 of 2 tables"));
        assertThat(fresh.stream().map(SnapshotCopyTest::rowsIn).toList()).isSorted().doesNotHaveDuplicates();
        assertThat(lines).anySatisfy(l -> assertThat(l).startsWith("Copied prog.counted: 5,000 rows, ").endsWith("; total 1 of 2 tables"));
        assertThat(lines.get(lines.size() - 1)).startsWith("Copied prog.fresh: 5,000 rows, ").endsWith("; total 2 of 2 tables");

        assertThat(meters.get("pgsource.copy.rows").tag("table", "prog.counted").gauge().value()).isEqualTo(5000.0);
        assertThat(meters.get("pgsource.copy.rows").tag("table", "prog.fresh").gauge().value()).isEqualTo(5000.0);
        assertThat(meters.get("pgsource.copy.rows.estimated").tag("table", "prog.counted").gauge().value()).isEqualTo(5000.0);
        assertThat(meters.get("pgsource.copy.rows.estimated").tag("table", "prog.fresh").gauge().value()).isNaN();
        // the size of the values as read: int and text are read in binary (4 bytes, and the text's UTF-8 bytes)
        assertThat(meters.get("pgsource.copy").tag("table", "prog.counted").gauge().value()).isEqualTo(
                Double.parseDouble(rows(source, "SELECT sum(4 + octet_length(v)) FROM prog.counted").get(0)));
        assertThat(progress.copying("prog.counted")).isFalse();
        // the names the README gives, as /observe/metrics serves them
        assertThat(meters.scrape()).contains("pgsource_copy_rows{table=\"prog.counted\"} 5000",
                "pgsource_copy_rows_estimated{table=\"prog.counted\"} 5000", "pgsource_copy_rows_estimated{table=\"prog.fresh\"} NaN",
                "pgsource_copy_bytes{table=\"prog.fresh\"} ");
    }

    /** The rows a progress line counts: "Copying t: 1,234 ..." gives 1234. */
    private static long rowsIn(String line) {
        String after = line.substring(line.indexOf(": ") + 2);
        return Long.parseLong(after.substring(0, after.indexOf(' ')).replace(",", ""));
    }

    @Test
    void theCopyHoldsExactlyTheRowsCommittedBeforeTheSlot() throws Exception {
        execute(source,
                "CREATE SCHEMA snap",
                "CREATE TABLE snap.items (id int PRIMARY KEY, v text)",
                "CREATE TABLE snap.loose (msg text, n int)",
                "INSERT INTO snap.items SELECT g, 'v' || g FROM generate_series(1, 10) g",
                "INSERT INTO snap.loose SELECT 'm' || (g % 3), g FROM generate_series(1, 7) g");
        List<StreamTask> tasks = tasks("snap", 3);
        PostgresSink sink = sink();
        // rows an earlier attempt left at the destination go: the copy replaces the table
        execute(destination, "CREATE SCHEMA snap", "CREATE TABLE snap.items (id int PRIMARY KEY, v text)",
                "INSERT INTO snap.items VALUES (99, 'stale')");
        assertThat(SnapshotCopy.completed(sink.positions(), tasks)).isFalse();

        String slot = "snap_" + SLOTS.incrementAndGet();
        List<ChangeBatch> pages = new ArrayList<>();
        AtomicInteger opened = new AtomicInteger();
        SourceConnections counting = () -> {
            opened.incrementAndGet();
            return connections.open();
        };
        try (Connection replication = replicationConnection()) {
            ReplicationSlotInfo info = createSlot(replication, slot);
            assertThat(info.getSnapshotName()).matches("[0-9A-F]+-[0-9A-F]+-[0-9]+");

            // committed after the slot: the stream brings these, the copy must not
            execute(source,
                    "INSERT INTO snap.items VALUES (11, 'new'), (12, 'new')",
                    "UPDATE snap.items SET v = 'changed' WHERE id = 1",
                    "DELETE FROM snap.items WHERE id = 2",
                    "INSERT INTO snap.loose VALUES ('late', 100)",
                    "DELETE FROM snap.loose WHERE n = 1");

            new SnapshotCopy(counting, READERS).copy(info.getSnapshotName(), tasks, page -> {
                pages.add(page);
                apply(sink, page);
            });
        } finally {
            dropSlot(slot);
        }
        assertThat(opened).hasValue(1);
        assertThat(connections.stillOpen()).isZero();

        List<String> expectedItems = new ArrayList<>();
        for (int i = 1; i <= 10; i++) {
            expectedItems.add(i + "|v" + i);
        }
        assertThat(rows(destination, "SELECT id, v FROM snap.items ORDER BY id")).isEqualTo(expectedItems);
        assertThat(rows(destination, "SELECT msg, n FROM snap.loose ORDER BY n")).containsExactly(
                "m1|1", "m2|2", "m0|3", "m1|4", "m2|5", "m0|6", "m1|7");

        // pages as a FULL_TABLE run makes them: at most 3 rows, TRUNCATE first, a keyset bookmark, completed at the end
        List<ChangeBatch> itemPages = pages.stream().filter(p -> ((Position.Batch) p.position()).stream().equals("snap.items")).toList();
        assertThat(itemPages).hasSize(4);
        assertThat(itemPages.get(0).get(0).op()).isEqualTo(Op.TRUNCATE);
        assertThat(pages).allSatisfy(p -> assertThat(p.stream().filter(e -> e.op() == Op.READ).count()).isLessThanOrEqualTo(3));
        assertThat(itemPages.stream().flatMap(List::stream).filter(e -> e.op() == Op.TRUNCATE).map(ChangeEvent::op).toList())
                .hasSize(1);
        Bookmark firstBookmark = Bookmark.parse(((Position.Batch) itemPages.get(0).position()).bookmark());
        assertThat(firstBookmark).isEqualTo(new Bookmark(ReplicationMethod.FULL_TABLE, List.of("id"), List.of("3"), false));
        assertThat(itemPages.get(3).last()).isTrue();
        assertThat(SnapshotCopy.completed(sink.positions(), tasks)).isTrue();
    }

    @Test
    void afterACrashMidCopyOrdinaryPagesFinishFromTheBookmark() throws Exception {
        execute(source,
                "CREATE SCHEMA resume",
                "CREATE TABLE resume.t (a int, b text, v text, PRIMARY KEY (a, b))",
                "INSERT INTO resume.t SELECT g, 'k', 'v' || g FROM generate_series(1, 9) g");
        List<StreamTask> tasks = tasks("resume", 2);
        MemoryPositionStore positions = new MemoryPositionStore();
        PostgresSink sink = sink();
        String slot = "snap_" + SLOTS.incrementAndGet();
        AtomicInteger applied = new AtomicInteger();
        try (Connection replication = replicationConnection()) {
            ReplicationSlotInfo info = createSlot(replication, slot);
            execute(source, "UPDATE resume.t SET v = 'after' WHERE a IN (1, 8)", "INSERT INTO resume.t VALUES (10, 'k', 'after')");
            assertThatThrownBy(() -> new SnapshotCopy(connections, READERS).copy(info.getSnapshotName(), tasks, page -> {
                if (applied.get() == 2) {
                    throw new IllegalStateException("the process died");
                }
                apply(sink, page);
                positions.save(((Position.Batch) page.position()).stream(), ((Position.Batch) page.position()).bookmark());
                applied.incrementAndGet();
            })).hasMessageContaining("the process died");
        } finally {
            dropSlot(slot);
        }
        assertThat(connections.stillOpen()).isZero();
        assertThat(SnapshotCopy.completed(positions, tasks)).isFalse();
        assertThat(rows(destination, "SELECT a, v FROM resume.t ORDER BY a")).containsExactly("1|v1", "2|v2", "3|v3", "4|v4");

        // the snapshot is gone: the ordinary keyset reader resumes after the stored bookmark (outside any snapshot)
        Bookmark stored = Bookmark.parse(positions.load("resume.t").orElseThrow());
        assertThat(stored.completed()).isFalse();
        try (Connection c = connections.open()) {
            TypeMappingProcessor types = new TypeMappingProcessor(TypeRegistry.load(c));
            c.setAutoCommit(false);
            KeysetPageReader reader = new KeysetPageReader(tasks.get(0), c, stored);
            List<String> firstKeys = new ArrayList<>();
            while (reader.more()) {
                ChangeBatch page = reader.next();
                types.map(page); // the values arrive raw (binary here): decoded as the pipeline does
                page.forEach(e -> firstKeys.add(String.valueOf(e.after().get("a"))));
                apply(sink, page);
                positions.save(((Position.Batch) page.position()).stream(), ((Position.Batch) page.position()).bookmark());
            }
            assertThat(firstKeys).containsExactly("5", "6", "7", "8", "9", "10");
        }
        assertThat(SnapshotCopy.completed(positions, tasks)).isTrue();
        // rows updated before the resume keep their snapshot value until the slot's stream replays the update
        assertThat(rows(destination, "SELECT a, v FROM resume.t ORDER BY a")).containsExactly(
                "1|v1", "2|v2", "3|v3", "4|v4", "5|v5", "6|v6", "7|v7", "8|after", "9|v9", "10|after");
    }

    @Test
    void aGoneSnapshotNamesTheFix() throws Exception {
        execute(source, "CREATE SCHEMA gone", "CREATE TABLE gone.t (id int PRIMARY KEY)");
        List<StreamTask> tasks = tasks("gone", 10);
        String slot = "snap_" + SLOTS.incrementAndGet();
        String name;
        try (Connection replication = replicationConnection()) {
            name = createSlot(replication, slot).getSnapshotName();
        }
        try {
            assertThatThrownBy(() -> new SnapshotCopy(connections, READERS).copy(name, tasks, page -> { }))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("cannot read inside the exported snapshot " + name)
                    .hasMessageContaining("finish the copy with ordinary FULL_TABLE pages");
        } finally {
            dropSlot(slot);
        }
        assertThat(connections.stillOpen()).isZero();
    }

    @Test
    void onlySnapshotNamesReachTheStatement() {
        AtomicInteger opened = new AtomicInteger();
        SnapshotCopy copy = new SnapshotCopy(() -> {
            opened.incrementAndGet();
            return connections.open();
        }, READERS);
        for (String bad : new String[] {"", "00000003-0000001B", "00000003-0000001b-1", "x'; DROP TABLE t; --",
                "00000003-0000001B-1' ", "00000003-0000001B-1\n"}) {
            assertThatThrownBy(() -> copy.copy(bad, List.of(), page -> { })).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an exported snapshot name");
        }
        assertThatThrownBy(() -> copy.copy(null, List.of(), page -> { })).isInstanceOf(IllegalArgumentException.class);
        assertThat(opened).hasValue(0);
    }
}
