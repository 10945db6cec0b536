package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.pgsource.catalog.CatalogException;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceSettings;
import io.pgsource.config.SslSettings;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.state.PositionStore;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.TypeRegistry;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangePropertyKey;
import org.apache.camel.LoggingLevel;
import org.apache.camel.Processor;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.spi.CamelLogger;
import org.apache.camel.support.EventNotifierSupport;
import org.apache.camel.support.LoggingExceptionHandler;
import java.util.concurrent.CountDownLatch;
import org.apache.camel.RoutesBuilder;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.apache.camel.support.RoutePolicySupport;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.apache.camel.test.junit5.TestExecutionConfiguration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The batch-query and pipeline routes (loaded from routes/*.camel.yaml) against a real PostgreSQL, with a test
 * destination that records each page and stores its bookmark the way a destination does: only after it applied it.
 */
class BatchQueryRouteTest extends CamelTestSupport {
    private static String database;
    private static TestSourceConnections connections;

    /** The destination's positions (bookmark per stream), saved after each applied page. */
    private final Map<String, String> positions = new ConcurrentHashMap<>();
    /** Every page the destination applied, in order. */
    private final List<Received> applied = new CopyOnWriteArrayList<>();
    /** The destination's rows per stream: READs appended, TRUNCATE clears. */
    private final Map<String, List<Row>> destination = new ConcurrentHashMap<>();
    private final AtomicInteger delivered = new AtomicInteger();
    /** Called with each page before the destination applies it. */
    private volatile java.util.function.Consumer<ChangeBatch> beforeApply = b -> { };
    /** Which delivery (1-based) the destination fails on. */
    private volatile IntPredicate failOn = n -> false;

    private record Received(ChangeBatch batch, String streamHeader, String bookmarkHeader) {
        Bookmark bookmark() {
            return Bookmark.parse(((Position.Batch) batch.position()).bookmark());
        }

        String stream() {
            return ((Position.Batch) batch.position()).stream();
        }

        long reads() {
            return batch.stream().filter(e -> e.op() == Op.READ).count();
        }
    }

    @BeforeAll
    static void createTables() throws SQLException {
        database = TestPostgres.server().createDatabase("batchquery");
        connections = new TestSourceConnections(database);
        sql("""
                SET TimeZone = 'UTC';
                CREATE SCHEMA two_a;
                CREATE SCHEMA two_b;
                CREATE TABLE two_a.items (id int PRIMARY KEY, v text);
                CREATE TABLE two_b.items (id int PRIMARY KEY, v text);
                INSERT INTO two_a.items SELECT g, 'a' || g FROM generate_series(1, 10) g;
                INSERT INTO two_b.items SELECT g, 'b' || g FROM generate_series(1, 7) g;

                CREATE SCHEMA inc;
                CREATE TABLE inc.events (id int PRIMARY KEY, updated_at timestamptz NOT NULL, note text);
                INSERT INTO inc.events SELECT g, '2024-05-01 12:00:00+00', 'tie ' || g FROM generate_series(1, 12) g;
                INSERT INTO inc.events VALUES (13, '2024-04-01 00:00:00+00', 'older'), (14, '2024-06-01 00:00:00+00', 'newer');
                CREATE TABLE inc.nullable (id int PRIMARY KEY, changed int);
                INSERT INTO inc.nullable VALUES (1, 10), (2, NULL), (3, 30), (4, NULL);

                CREATE SCHEMA restart;
                CREATE TABLE restart.full (id int PRIMARY KEY, v text);
                INSERT INTO restart.full SELECT g, 'v' || g FROM generate_series(1, 10) g;
                CREATE TABLE restart.inc (id int PRIMARY KEY, rk int NOT NULL, v text);
                INSERT INTO restart.inc SELECT g, g % 3, 'v' || g FROM generate_series(1, 10) g;

                CREATE SCHEMA big;
                CREATE TABLE big.rows (id int PRIMARY KEY, v text);
                INSERT INTO big.rows SELECT g, 'v' || g FROM generate_series(1, 25000) g;
                CREATE TABLE big.exact (id int PRIMARY KEY);
                INSERT INTO big.exact SELECT g FROM generate_series(1, 20000) g;

                CREATE SCHEMA nokey;
                CREATE TABLE nokey.dups (x int, y text);
                INSERT INTO nokey.dups VALUES (1, 'a'), (1, 'a'), (2, 'b'), (NULL, NULL), (3, 'c'), (1, 'a');

                CREATE SCHEMA empty_t;
                CREATE TABLE empty_t.keyed (id int PRIMARY KEY);
                CREATE TABLE empty_t.keyless (x int);

                CREATE SCHEMA parts;
                CREATE TABLE parts.keyed (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
                CREATE TABLE parts.keyed_eu PARTITION OF parts.keyed FOR VALUES IN ('eu');
                CREATE TABLE parts.keyed_us PARTITION OF parts.keyed FOR VALUES IN ('us');
                INSERT INTO parts.keyed SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 10) g;
                CREATE TABLE parts.keyless (v int) PARTITION BY RANGE (v);
                CREATE TABLE parts.keyless_lo PARTITION OF parts.keyless FOR VALUES FROM (0) TO (100);
                CREATE TABLE parts.keyless_hi PARTITION OF parts.keyless FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (v);
                CREATE TABLE parts.keyless_hi_a PARTITION OF parts.keyless_hi FOR VALUES FROM (100) TO (150);
                CREATE TABLE parts.keyless_hi_b PARTITION OF parts.keyless_hi FOR VALUES FROM (150) TO (200);
                INSERT INTO parts.keyless SELECT g FROM generate_series(0, 199, 7) g;
                INSERT INTO parts.keyless VALUES (161), (161);
                CREATE TABLE parts.parent (id int PRIMARY KEY);
                CREATE TABLE parts.child (extra text) INHERITS (parts.parent);
                INSERT INTO parts.parent VALUES (1), (2);
                INSERT INTO parts.child VALUES (3, 'c');

                CREATE SCHEMA gen;
                CREATE TABLE gen.t (id int PRIMARY KEY, gone text, a int, doubled int GENERATED ALWAYS AS (a * 2) STORED, b text);
                INSERT INTO gen.t (id, gone, a, b) VALUES (1, 'x', 10, 'b1'), (2, 'y', 20, 'b2'), (3, 'z', NULL, 'b3');
                ALTER TABLE gen.t DROP COLUMN gone;

                CREATE SCHEMA "Mixed Schema";
                CREATE TABLE "Mixed Schema"."Order Lines ü" ("Select" int PRIMARY KEY, "quote""d" text, "ñame" text, "Updated At" timestamptz NOT NULL);
                CREATE TABLE "Mixed Schema"."Weird % Table" ("100%" int, "a""b" text, "%s" text);
                INSERT INTO "Mixed Schema"."Weird % Table" VALUES (1, 'x', '%d'), (1, 'x', '%d'), (2, NULL, NULL);
                INSERT INTO "Mixed Schema"."Order Lines ü" SELECT g, 'q"' || g, 'ñ' || g, '2024-01-01'::timestamptz + g * interval '1 day' FROM generate_series(1, 5) g;

                CREATE SCHEMA comp;
                CREATE TABLE comp.t (name text, at timestamptz, amount numeric, payload text, PRIMARY KEY (name, at, amount));
                INSERT INTO comp.t
                  SELECT n, t, a, n || '|' || t || '|' || a
                  FROM unnest(ARRAY['a', 'a b', 'A', 'é', 'x''y"z']) n,
                       unnest(ARRAY['2024-01-01 00:00:00.000001+00', '2024-01-01 00:00:00.000001+05', '1999-12-31 23:59:59.999999-08']::timestamptz[]) t,
                       unnest(ARRAY['1.5', '1.50001', '-2', '1e20', '0.000000000000000000001', 'NaN']::numeric[]) a;

                CREATE SCHEMA lag;
                CREATE TABLE lag.tz (id int PRIMARY KEY, at timestamptz NOT NULL);
                INSERT INTO lag.tz VALUES (1, now() - interval '2 hours'), (2, now() - interval '1 minute'), (3, now() + interval '1 hour');
                CREATE TABLE lag.ts (id int PRIMARY KEY, at timestamp NOT NULL);
                INSERT INTO lag.ts VALUES (1, localtimestamp - interval '2 hours'), (2, localtimestamp - interval '1 minute'), (3, localtimestamp + interval '1 hour');
                CREATE TABLE lag.d (id int PRIMARY KEY, day date NOT NULL);
                INSERT INTO lag.d VALUES (1, current_date - 2), (3, current_date + 1);

                CREATE SCHEMA zone;
                CREATE TABLE zone.tz (id int PRIMARY KEY, at timestamptz NOT NULL);
                CREATE TABLE zone.ts (id int PRIMARY KEY, at timestamp NOT NULL);
                CREATE TABLE zone.d (id int PRIMARY KEY, day date NOT NULL);

                CREATE SCHEMA grow;
                CREATE TABLE grow.t (v int) WITH (autovacuum_enabled = false);
                INSERT INTO grow.t SELECT g FROM generate_series(1, 300) g;

                CREATE SCHEMA mem;
                CREATE TABLE mem.keyed (id int PRIMARY KEY, v text);
                INSERT INTO mem.keyed SELECT g, 'v' || g FROM generate_series(1, 100) g;
                CREATE TABLE mem.nostats (v int) WITH (autovacuum_enabled = false);
                INSERT INTO mem.nostats SELECT g FROM generate_series(1, 2000) g;
                CREATE TABLE mem.stale (v int) WITH (autovacuum_enabled = false);
                INSERT INTO mem.stale SELECT g % 500 FROM generate_series(1, 2000) g;
                UPDATE pg_class SET reltuples = 10, relpages = 10 WHERE oid = 'mem.stale'::regclass;
                """);
    }

    private static void sql(String statements) throws SQLException {
        try (Connection c = TestPostgres.server().connect(database); Statement s = c.createStatement()) {
            s.execute(statements);
        }
    }

    private static List<List<String>> query(String select) throws SQLException {
        try (Connection c = connections.open(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(select)) {
            List<List<String>> rows = new ArrayList<>();
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> row = new ArrayList<>();
                for (int i = 1; i <= n; i++) {
                    row.add(rs.getString(i));
                }
                rows.add(row);
            }
            return rows;
        }
    }

    @Override
    public void configureTest(TestExecutionConfiguration configuration) {
        super.configureTest(configuration);
        configuration.withUseAdviceWith(true); // each test binds its settings, then starts the context
    }

    @Override
    protected Properties useOverridePropertiesWithPropertiesComponent() {
        Properties p = new Properties();
        p.setProperty("sync.interval", "1h");
        p.setProperty("sync.repeat_count", "1");
        // the timer route starts with the context, as pgsource's configuration has it for FULL_TABLE and INCREMENTAL
        p.setProperty("pgsource.batch_query", "true");
        return p;
    }

    @Override
    protected RoutesBuilder createRouteBuilder() {
        return new RouteBuilder() {
            @Override
            public void configure() {
                from("direct:destination").routeId("test-destination").process(BatchQueryRouteTest.this::apply);
            }
        };
    }

    /** What a destination does: apply the page, then store its position (as if in the same transaction). */
    private void apply(Exchange exchange) {
        ChangeBatch batch = exchange.getMessage().getBody(ChangeBatch.class);
        beforeApply.accept(batch);
        if (failOn.test(delivered.incrementAndGet())) {
            throw new IllegalStateException("destination unavailable");
        }
        for (ChangeEvent e : batch) {
            List<Row> rows = destination.computeIfAbsent(e.tableId().toString(), k -> new CopyOnWriteArrayList<>());
            if (e.op() == Op.TRUNCATE) {
                rows.clear();
            } else {
                assertThat(e.op()).isEqualTo(Op.READ);
                rows.add(e.after());
            }
        }
        applied.add(new Received(batch, exchange.getMessage().getHeader(ChangeHeaders.STREAM, String.class),
                exchange.getMessage().getHeader(ChangeHeaders.BOOKMARK, String.class)));
        Position.Batch position = (Position.Batch) batch.position();
        positions.put(position.stream(), position.bookmark());
    }

    private final PositionStore store = new PositionStore() {
        @Override
        public Optional<String> load(String stream) {
            return Optional.ofNullable(positions.get(stream));
        }

        @Override
        public void save(String stream, String position) {
            positions.put(stream, position);
        }
    };

    private static SourceSettings settings(List<String> schemas, List<TableId> tables, int limit, ReplicationMethod method,
                                           String replicationKey, Duration lag) {
        TestPostgres pg = TestPostgres.server();
        return new SourceSettings(pg.host(), pg.port(), database, pg.user(), pg.password(), schemas, tables, "slot", "pub", limit,
                method, replicationKey, Map.of(), lag, SslSettings.NONE);
    }

    private static SourceSettings fullTable(String schema, int limit) {
        return settings(List.of(schema), List.of(), limit, ReplicationMethod.FULL_TABLE, null, Duration.ZERO);
    }

    /** The threads that read pages ahead (the application's come from the context; this test restarts its context). */
    private static final java.util.concurrent.Executor READERS = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "page-reader");
        t.setDaemon(true);
        return t;
    });

    /** The beans the lead's configuration binds, as this test binds them (again after each restart). */
    private final Map<String, Object> beans = new ConcurrentHashMap<>();

    /** Binds the beans, loads the YAML routes, starts the context (the timer fires once) and waits for the run. */
    private boolean firstRun(SourceSettings settings) throws Exception {
        beans.put("batchStreams", new BatchStreams(settings, connections));
        beans.put("batchPage", new BatchPageProcessor(connections, store, READERS));
        beans.put("batchWakeups", new BatchWakeups());
        beans.put("pgsourceNotifyDataSource", NotifyDataSource.of(settings));
        try (Connection c = connections.open()) {
            beans.put("typeMapping", new TypeMappingProcessor(TypeRegistry.load(c)));
        }
        // the run's outcome and the progress lines are the application's (RunEnds observes the runs here)
        beans.put("pgsourceReportedFailure", new LoggingExceptionHandler(context, new CamelLogger("batch-query", LoggingLevel.DEBUG)));
        beans.put("pgsourceProgress", (Processor) exchange -> { });
        // the route files mark the part each route plays with a route policy the application binds; none is needed here
        beans.put("pgsourceBatchQuery", new RoutePolicySupport() { });
        beans.put("pgsourcePipeline", new RoutePolicySupport() { });
        beans.forEach(context.getRegistry()::bind);
        PluginHelper.getRoutesLoader(context).loadRoutes(
                ResourceHelper.resolveMandatoryResource(context, "file:routes/batch-query.camel.yaml"),
                ResourceHelper.resolveMandatoryResource(context, "file:routes/pipeline.camel.yaml"));
        context.getManagementStrategy().addEventNotifier(new RunEnds());
        return awaitRun(this::startBatchRoute);
    }

    /**
     * The next timer tick: restarts the context and the route, whose timer fires once more.
     */
    private boolean nextRun() throws Exception {
        context.stop();
        beans.forEach(context.getRegistry()::bind);
        return awaitRun(this::startBatchRoute);
    }

    /** The batch-query route is declared autoStartup=false (pgsource starts the route of its method): start it. */
    private void startBatchRoute() throws Exception {
        context.start();
        context.getRouteController().startRoute("batch-query");
    }

    private interface Action {
        void run() throws Exception;
    }

    /** Runs the action and waits until the batch-query run is over; true when it succeeded. */
    private boolean awaitRun(Action start) throws Exception {
        RunListener run = new RunListener();
        listener = run;
        start.run();
        assertThat(run.done.await(60, TimeUnit.SECONDS)).as("the batch-query run ended").isTrue();
        assertThat(connections.stillOpen()).as("source connections left open").isZero();
        return !run.failed;
    }

    /** The current run's listener, told by the event notifier registered before the context starts. */
    private volatile RunListener listener;

    /** Notices the end of the timer's exchange (not of the split's per-stream exchanges, which carry a correlation id). */
    private final class RunEnds extends EventNotifierSupport {
        @Override
        public void notify(CamelEvent event) {
            if (event instanceof CamelEvent.ExchangeCompletedEvent || event instanceof CamelEvent.ExchangeFailedEvent) {
                Exchange e = ((CamelEvent.ExchangeEvent) event).getExchange();
                RunListener run = listener;
                if (run != null && "batch-query".equals(e.getFromRouteId()) && e.getProperty(ExchangePropertyKey.CORRELATION_ID) == null) {
                    run.failed = e.isFailed();
                    run.done.countDown();
                }
            }
        }
    }

    private static final class RunListener {
        final CountDownLatch done = new CountDownLatch(1);
        volatile boolean failed;
    }

    @AfterEach
    void noConnectionLeft() {
        assertThat(connections.stillOpen()).isZero();
    }

    private List<Received> appliedFor(String stream) {
        return applied.stream().filter(r -> r.stream().equals(stream)).toList();
    }

    private List<String> destinationColumn(String stream, String column) {
        return destination.getOrDefault(stream, List.of()).stream().map(r -> String.valueOf(r.get(column))).toList();
    }

    private static List<String> texts(String select) throws SQLException {
        return query(select).stream().map(r -> String.valueOf(r.get(0))).toList();
    }

    @Test
    void fullTableOverTwoSchemasKeepsSameNamedTablesApart() throws Exception {
        SourceSettings s = settings(List.of("two_a", "two_b"), List.of(), 3, ReplicationMethod.FULL_TABLE, null, Duration.ZERO);

        assertThat(firstRun(s)).isTrue();

        assertThat(destinationColumn("two_a.items", "v")).containsExactlyElementsOf(texts("SELECT v FROM two_a.items ORDER BY id"));
        assertThat(destinationColumn("two_b.items", "v")).containsExactlyElementsOf(texts("SELECT v FROM two_b.items ORDER BY id"));
        List<Received> a = appliedFor("two_a.items");
        assertThat(a).extracting(Received::reads).containsExactly(3L, 3L, 3L, 1L);
        assertThat(a).extracting(r -> r.batch().last()).containsExactly(false, false, false, true);
        assertThat(a).allSatisfy(r -> {
            assertThat(r.streamHeader()).isEqualTo("two_a.items");
            assertThat(r.bookmarkHeader()).isEqualTo(((Position.Batch) r.batch().position()).bookmark());
            assertThat(r.batch()).allSatisfy(e -> assertThat(e.position()).isSameAs(r.batch().position()));
        });
        assertThat(a.get(1).bookmark()).isEqualTo(new Bookmark(ReplicationMethod.FULL_TABLE, List.of("id"), List.of("6"), false));
        assertThat(a.get(3).bookmark()).isEqualTo(new Bookmark(ReplicationMethod.FULL_TABLE, List.of("id"), List.of("10"), true));
        assertThat(appliedFor("two_b.items")).extracting(Received::reads).containsExactly(3L, 3L, 1L);
        // the rows of one page share one schema
        assertThat(a.get(0).batch()).extracting(e -> e.after().schema()).containsOnly(a.get(0).batch().get(0).after().schema());

        // the next run reads the whole table again
        assertThat(nextRun()).isTrue();
        assertThat(appliedFor("two_a.items")).hasSize(8);
        assertThat(destinationColumn("two_a.items", "id")).hasSize(20);
    }

    @Test
    void incrementalReadsEachRowOnceWhenTiesExceedThePageAndThenOnlyNewRows() throws Exception {
        SourceSettings s = settings(List.of("inc"), List.of(new TableId("inc", "events")), 4, ReplicationMethod.INCREMENTAL,
                "updated_at", Duration.ZERO);

        assertThat(firstRun(s)).isTrue();

        assertThat(destinationColumn("inc.events", "id")).containsExactly("13", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "14");
        List<Received> pages = appliedFor("inc.events");
        assertThat(pages).extracting(Received::reads).containsExactly(4L, 4L, 4L, 2L);
        assertThat(pages.get(1).bookmark()).isEqualTo(
                new Bookmark(ReplicationMethod.INCREMENTAL, List.of("updated_at", "id"), List.of("2024-05-01 12:00:00+00", "7"), false));

        sql("INSERT INTO inc.events VALUES (15, '2024-05-01 12:00:00+00', 'late, older than the bookmark'),"
                + " (16, '2024-06-01 00:00:00+00', 'tie with the bookmark'), (17, '2024-07-01 00:00:00+00', 'newest')");
        assertThat(nextRun()).isTrue();

        assertThat(destinationColumn("inc.events", "id")).hasSize(16).endsWith("16", "17");
    }

    @Test
    void incrementalNeverReadsNullReplicationKeysAndWarns() throws Exception {
        ListAppender<ILoggingEvent> log = capture(BatchStreams.class);
        SourceSettings s = settings(List.of("inc"), List.of(new TableId("inc", "nullable")), 1, ReplicationMethod.INCREMENTAL,
                "changed", Duration.ZERO);

        assertThat(firstRun(s)).isTrue();

        assertThat(destinationColumn("inc.nullable", "id")).containsExactly("1", "3");
        assertThat(log.list).anySatisfy(e -> {
            assertThat(e.getLevel()).isEqualTo(Level.WARN);
            assertThat(e.getFormattedMessage()).contains("\"changed\" is NULL are never read").contains("NOT NULL");
        });
        assertThat(log.list).anySatisfy(e -> assertThat(e.getFormattedMessage())
                .contains("no index starts with the replication key \"changed\"")
                .contains("CREATE INDEX ON \"inc\".\"nullable\" (\"changed\", \"id\")"));
        // an integer key cannot be held back for open transactions
        assertThat(log.list).anySatisfy(e -> assertThat(e.getFormattedMessage())
                .contains("\"changed\" is integer, not a date or timestamp").contains("LOG_BASED"));
    }

    @Test
    void aFullTableRunStoppedAfterTwoPagesResumesWithoutLossOrDuplicates() throws Exception {
        failOn = n -> n == 3;

        assertThat(firstRun(settings(List.of("restart"), List.of(new TableId("restart", "full")), 3, ReplicationMethod.FULL_TABLE,
                null, Duration.ZERO))).isFalse();

        assertThat(destinationColumn("restart.full", "id")).containsExactly("1", "2", "3", "4", "5", "6");
        assertThat(Bookmark.parse(positions.get("restart.full")).completed()).isFalse();

        failOn = n -> false;
        assertThat(nextRun()).isTrue();

        assertThat(destinationColumn("restart.full", "id")).containsExactly("1", "2", "3", "4", "5", "6", "7", "8", "9", "10");
        assertThat(Bookmark.parse(positions.get("restart.full")).completed()).isTrue();
    }

    @Test
    void aPageBiggerThanABatchGoesInBatchesEachWithItsBookmarkAndResumesAfterTheLastOneApplied() throws Exception {
        int batch = PageReader.MAX_BATCH_ROWS;
        failOn = n -> n == 2;
        SourceSettings s = settings(List.of("big"), List.of(new TableId("big", "rows")), 50_000, ReplicationMethod.FULL_TABLE, null,
                Duration.ZERO);

        assertThat(firstRun(s)).isFalse();
        assertThat(appliedFor("big.rows")).extracting(Received::reads).containsExactly((long) batch);
        assertThat(Bookmark.parse(positions.get("big.rows")))
                .isEqualTo(new Bookmark(ReplicationMethod.FULL_TABLE, List.of("id"), List.of(Integer.toString(batch)), false));

        failOn = n -> false;
        assertThat(nextRun()).isTrue();
        assertThat(appliedFor("big.rows")).extracting(Received::reads).containsExactly((long) batch, (long) batch, 25_000L - 2 * batch);
        assertThat(destinationColumn("big.rows", "id")).hasSize(25_000).doesNotHaveDuplicates();
        assertThat(Bookmark.parse(positions.get("big.rows")).completed()).isTrue();
    }

    @Test
    void aTableOfWholePagesEndsWithItsLastRowNotWithAnEmptyPage() throws Exception {
        assertThat(firstRun(settings(List.of("big"), List.of(new TableId("big", "exact")), 10_000, ReplicationMethod.FULL_TABLE, null,
                Duration.ZERO))).isTrue();
        assertThat(appliedFor("big.exact")).extracting(Received::reads).containsExactly(10_000L, 10_000L);
        assertThat(appliedFor("big.exact")).extracting(r -> r.batch().last()).containsExactly(false, true);
        assertThat(appliedFor("big.exact").get(1).bookmark())
                .isEqualTo(new Bookmark(ReplicationMethod.FULL_TABLE, List.of("id"), List.of("20000"), true));
    }

    @Test
    void anIncrementalRunStoppedAfterTwoPagesResumesWithoutLossOrDuplicates() throws Exception {
        failOn = n -> n == 3;
        SourceSettings s = settings(List.of("restart"), List.of(new TableId("restart", "inc")), 3, ReplicationMethod.INCREMENTAL,
                "rk", Duration.ZERO);

        assertThat(firstRun(s)).isFalse();
        assertThat(destinationColumn("restart.inc", "id")).hasSize(6);

        failOn = n -> false;
        assertThat(nextRun()).isTrue();

        assertThat(destinationColumn("restart.inc", "id"))
                .containsExactlyElementsOf(texts("SELECT id FROM restart.inc ORDER BY rk, id"))
                .doesNotHaveDuplicates();
    }

    @Test
    void aBookmarkOfAnotherMethodOrAnUnreadableOneStartsFromTheBeginning() throws Exception {
        positions.put("two_a.items", new Bookmark(ReplicationMethod.FULL_TABLE, List.of("id"), List.of("5"), false).serialize());
        positions.put("two_b.items", "0/16B3748");
        ListAppender<ILoggingEvent> log = capture(BatchPageProcessor.class);
        SourceSettings s = settings(List.of("two_a", "two_b"), List.of(), 100, ReplicationMethod.INCREMENTAL, "id", Duration.ZERO);

        assertThat(firstRun(s)).isTrue();

        assertThat(destinationColumn("two_a.items", "id")).hasSize(10);
        assertThat(destinationColumn("two_b.items", "id")).hasSize(7);
        assertThat(Bookmark.parse(positions.get("two_a.items")))
                .isEqualTo(new Bookmark(ReplicationMethod.INCREMENTAL, List.of("id"), List.of("10"), true));
        assertThat(log.list).anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("two_b.items: the stored bookmark cannot be read"));
    }

    @Test
    void aKeylessTableIsReplacedAsAWholeWithItsDuplicates() throws Exception {
        assertThat(firstRun(fullTable("nokey", 2))).isTrue();

        List<Received> pages = appliedFor("nokey.dups");
        assertThat(pages.get(0).batch().get(0).op()).isEqualTo(Op.TRUNCATE);
        assertThat(pages.stream().skip(1).flatMap(p -> p.batch().stream())).noneMatch(e -> e.op() == Op.TRUNCATE);
        assertThat(pages).allSatisfy(p -> assertThat(p.reads()).isLessThanOrEqualTo(2));
        assertThat(pages.get(pages.size() - 1).batch().last()).isTrue();
        List<String> source = texts("SELECT x || '/' || y FROM nokey.dups");
        assertThat(rowsAsText("nokey.dups")).containsExactlyInAnyOrderElementsOf(source).hasSize(6);

        assertThat(nextRun()).isTrue();

        assertThat(rowsAsText("nokey.dups")).containsExactlyInAnyOrderElementsOf(source);
        assertThat(appliedFor("nokey.dups").get(pages.size()).batch().get(0).op()).isEqualTo(Op.TRUNCATE);
    }

    /** x/y of a row, "null" for the all-NULL row (as {@code x || '/' || y} gives in {@link #texts}). */
    private List<String> rowsAsText(String stream) {
        return destination.get(stream).stream()
                .map(r -> r.get(0) == null ? "null" : r.get(0) + "/" + r.get(1))
                .toList();
    }

    @Test
    void aKeylessRunAlsoReadsTheBlocksAddedWhileItRan() throws Exception {
        AtomicInteger pages = new AtomicInteger();
        beforeApply = b -> {
            if (pages.incrementAndGet() == 1) {
                try {
                    sql("INSERT INTO grow.t SELECT g FROM generate_series(1001, 2000) g");
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            }
        };

        assertThat(firstRun(fullTable("grow", 100))).isTrue();

        assertThat(destinationColumn("grow.t", "v")).hasSize(1300).doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(texts("SELECT v FROM grow.t"));
    }

    @Test
    void anEmptyTableStillYieldsOneLastPage() throws Exception {
        assertThat(firstRun(fullTable("empty_t", 10))).isTrue();

        assertThat(appliedFor("empty_t.keyed")).singleElement().satisfies(r -> {
            assertThat(r.batch()).isEmpty();
            assertThat(r.batch().last()).isTrue();
            assertThat(r.bookmark()).isEqualTo(new Bookmark(ReplicationMethod.FULL_TABLE, List.of("id"), List.of(), true));
        });
        assertThat(appliedFor("empty_t.keyless")).singleElement().satisfies(r -> {
            assertThat(r.batch()).extracting(ChangeEvent::op).containsExactly(Op.TRUNCATE);
            assertThat(r.batch().last()).isTrue();
            assertThat(r.bookmark().completed()).isTrue();
        });
    }

    @Test
    void aPartitionedTableIsReadThroughItsRootOnly() throws Exception {
        assertThat(firstRun(fullTable("parts", 4))).isTrue();

        assertThat(applied).extracting(Received::stream).containsOnly("parts.child", "parts.keyed", "parts.keyless", "parts.parent");
        // an inheritance parent is read without its children, which are tables of their own
        assertThat(destinationColumn("parts.parent", "id")).containsExactly("1", "2");
        assertThat(destinationColumn("parts.child", "id")).containsExactly("3");
        assertThat(destinationColumn("parts.keyed", "id")).containsExactlyElementsOf(texts("SELECT id FROM parts.keyed ORDER BY id, region"));
        assertThat(destinationColumn("parts.keyless", "v")).containsExactlyInAnyOrderElementsOf(texts("SELECT v FROM parts.keyless"))
                .contains("0", "98", "105", "161");
        assertThat(appliedFor("parts.keyless")).allSatisfy(p -> assertThat(p.reads()).isLessThanOrEqualTo(4));
    }

    @Test
    void generatedColumnsAreReadAndDroppedColumnsDoNotShiftValues() throws Exception {
        assertThat(firstRun(fullTable("gen", 2))).isTrue();

        List<Row> rows = destination.get("gen.t");
        assertThat(rows.get(0).schema().columns()).extracting(Column::name).containsExactly("id", "a", "doubled", "b");
        assertThat(rows.get(0).schema().columns().get(2).generation()).isEqualTo("(a * 2)");
        assertThat(rows).extracting(Row::toString)
                .containsExactly("{id=1, a=10, doubled=20, b=b1}", "{id=2, a=20, doubled=40, b=b2}", "{id=3, a=null, doubled=null, b=b3}");
    }

    @Test
    void quotedMixedCaseReservedAndNonAsciiNamesFullTable() throws Exception {
        assertThat(firstRun(fullTable("Mixed Schema", 2))).isTrue();

        String stream = "Mixed Schema.Order Lines ü";
        assertThat(destinationColumn(stream, "Select")).containsExactly("1", "2", "3", "4", "5");
        assertThat(destinationColumn(stream, "quote\"d")).containsExactly("q\"1", "q\"2", "q\"3", "q\"4", "q\"5");
        assertThat(destinationColumn(stream, "ñame")).startsWith("ñ1");
        assertThat(appliedFor(stream)).hasSize(3);
        assertThat(destinationColumn("Mixed Schema.Weird % Table", "%s")).containsExactlyInAnyOrder("%d", "%d", "null");
        assertThat(destinationColumn("Mixed Schema.Weird % Table", "a\"b")).containsExactlyInAnyOrder("x", "x", "null");
    }

    @Test
    void quotedMixedCaseReservedAndNonAsciiNamesIncremental() throws Exception {
        SourceSettings s = settings(List.of("Mixed Schema"), List.of(), 2, ReplicationMethod.INCREMENTAL, "Updated At", Duration.ZERO);

        assertThat(firstRun(s)).isTrue();

        String stream = "Mixed Schema.Order Lines ü";
        assertThat(destinationColumn(stream, "Select")).containsExactly("1", "2", "3", "4", "5");
        assertThat(appliedFor(stream).get(0).bookmark().columns()).containsExactly("Updated At", "Select");
    }

    @Test
    void aCompositeKeyOfTextTimestamptzAndNumericPagesExactly() throws Exception {
        assertThat(firstRun(fullTable("comp", 4))).isTrue();

        List<String> read = destinationColumn("comp.t", "payload");
        assertThat(read).doesNotHaveDuplicates().containsExactlyElementsOf(texts("SELECT payload FROM comp.t ORDER BY name, at, amount"));
        assertThat(read).hasSize(90);
        assertThat(appliedFor("comp.t").get(0).bookmark().columns()).containsExactly("name", "at", "amount");
    }

    @Test
    void missingSchemaOrTableIsAClearError() {
        assertThatThrownBy(() -> new BatchStreams(fullTable("no_such_schema", 10), connections).streams())
                .isInstanceOf(CatalogException.class)
                .hasMessageContaining("\"no_such_schema\" does not exist")
                .hasMessageContaining("two_a");
        SourceSettings missingTable = settings(List.of("two_a"), List.of(new TableId("two_a", "nope")), 10, ReplicationMethod.FULL_TABLE,
                null, Duration.ZERO);
        assertThatThrownBy(() -> new BatchStreams(missingTable, connections).streams())
                .isInstanceOf(CatalogException.class)
                .hasMessageContaining("\"two_a\".\"nope\"")
                .hasMessageContaining("source.tables");
    }

    @Test
    void aRunThatCannotDiscoverFailsAndReadsNothing() throws Exception {
        assertThat(firstRun(fullTable("no_such_schema", 10))).isFalse();
        assertThat(applied).isEmpty();
    }

    @Test
    void incrementalWithoutAUsableReplicationKeyFallsBackToFullTableWithAWarning() throws Exception {
        ListAppender<ILoggingEvent> log = capture(BatchStreams.class);

        List<StreamTask> missingColumn = new BatchStreams(settings(List.of("two_a"), List.of(), 10, ReplicationMethod.INCREMENTAL,
                "no_such_column", Duration.ZERO), connections).streams();
        List<StreamTask> noPrimaryKey = new BatchStreams(settings(List.of("nokey"), List.of(), 10, ReplicationMethod.INCREMENTAL,
                "x", Duration.ZERO), connections).streams();
        List<StreamTask> noKeyConfigured = new BatchStreams(settings(List.of("two_b"), List.of(), 10, ReplicationMethod.INCREMENTAL,
                null, Duration.ZERO), connections).streams();
        List<StreamTask> generated = new BatchStreams(settings(List.of("gen"), List.of(), 10, ReplicationMethod.INCREMENTAL,
                "doubled", Duration.ZERO), connections).streams();

        assertThat(missingColumn).singleElement().satisfies(t -> {
            assertThat(t.method()).isEqualTo(ReplicationMethod.FULL_TABLE);
            assertThat(t.keyColumnNames()).containsExactly("id");
        });
        assertThat(noPrimaryKey).singleElement().satisfies(t -> {
            assertThat(t.method()).isEqualTo(ReplicationMethod.FULL_TABLE);
            assertThat(t.keyless()).isTrue();
        });
        assertThat(noKeyConfigured).singleElement().extracting(StreamTask::method).isEqualTo(ReplicationMethod.FULL_TABLE);
        assertThat(generated).singleElement().extracting(StreamTask::method).isEqualTo(ReplicationMethod.FULL_TABLE);
        assertThat(log.list).filteredOn(e -> e.getLevel() == Level.WARN).extracting(ILoggingEvent::getFormattedMessage).satisfiesExactly(
                m -> assertThat(m).contains("has no column \"no_such_column\"").contains("source.replication_key").contains("FULL_TABLE"),
                m -> assertThat(m).contains("no primary key").contains("add a primary key").contains("FULL_TABLE"),
                m -> assertThat(m).contains("no replication key is configured").contains("source.replication_key"),
                m -> assertThat(m).contains("is a generated column"));
    }

    @Test
    void incrementalLagKeepsRowsNewerThanNowMinusLagForLater() throws Exception {
        SourceSettings s = settings(List.of("lag"), List.of(), 10, ReplicationMethod.INCREMENTAL, null, Duration.ofMinutes(10));
        s = new SourceSettings(s.host(), s.port(), s.database(), s.username(), s.password(), s.schemas(), s.tables(), s.replicationSlot(),
                s.publicationName(), s.batchFetchLimit(), s.replicationMethod(), null,
                Map.of(new TableId("lag", "tz"), "at", new TableId("lag", "ts"), "at", new TableId("lag", "d"), "day"),
                s.incrementalLag(), s.ssl());

        assertThat(firstRun(s)).isTrue();

        assertThat(destinationColumn("lag.tz", "id")).containsExactly("1");
        assertThat(destinationColumn("lag.ts", "id")).containsExactly("1");
        assertThat(destinationColumn("lag.d", "id")).containsExactly("1");

        // once a row's key is older than now() - lag, a later run picks it up
        sql("SET TimeZone = 'UTC'; UPDATE lag.tz SET at = now() - interval '1 hour' WHERE id = 3;"
                + " UPDATE lag.ts SET at = localtimestamp - interval '1 hour' WHERE id = 3; UPDATE lag.d SET day = current_date - 2 WHERE id = 3");
        assertThat(nextRun()).isTrue();

        assertThat(destinationColumn("lag.tz", "id")).containsExactly("1", "3");
        assertThat(destinationColumn("lag.ts", "id")).containsExactly("1", "3");
        assertThat(destinationColumn("lag.d", "id")).containsExactly("1", "3");
    }

    @Test
    void theBoundIsTheStartOfAnOpenTransactionInTheKeysTypeAndTheConfiguredTimeZone() throws Exception {
        SourceSettings s = settings(List.of("zone"), List.of(), 10, ReplicationMethod.INCREMENTAL, null, Duration.ZERO);
        s = new SourceSettings(s.host(), s.port(), s.database(), s.username(), s.password(), s.schemas(), s.tables(), s.replicationSlot(),
                s.publicationName(), s.batchFetchLimit(), s.replicationMethod(), null, Map.of(new TableId("zone", "tz"), "at",
                new TableId("zone", "ts"), "at", new TableId("zone", "d"), "day"), Duration.ZERO, "Asia/Tokyo", s.ssl());
        try (Connection open = TestPostgres.server().connect(database)) {
            // a transaction held open through the run: the bound is its start, exactly
            open.setAutoCommit(false);
            String began = query(open, "SELECT now()::text");
            sql("SET TimeZone = 'UTC';"
                    + " INSERT INTO zone.tz VALUES (1, '%1$s'::timestamptz - interval '1 microsecond'), (2, '%1$s');".formatted(began)
                    + " INSERT INTO zone.ts VALUES (1, ('%1$s'::timestamptz AT TIME ZONE 'Asia/Tokyo') - interval '1 microsecond'),"
                    .formatted(began) + " (2, '%1$s'::timestamptz AT TIME ZONE 'Asia/Tokyo');".formatted(began)
                    + " INSERT INTO zone.d VALUES (1, ('%1$s'::timestamptz AT TIME ZONE 'Asia/Tokyo')::date - 1),".formatted(began)
                    + " (2, ('%1$s'::timestamptz AT TIME ZONE 'Asia/Tokyo')::date);".formatted(began));

            assertThat(firstRun(s)).isTrue();
            open.rollback();
        }

        assertThat(destinationColumn("zone.tz", "id")).as("a microsecond before the start, not at it").containsExactly("1");
        // timestamp keys as Tokyo's wall clock shows the start (in UTC's, both rows would be 9 hours in the future)
        assertThat(destinationColumn("zone.ts", "id")).containsExactly("1");
        assertThat(destinationColumn("zone.d", "id")).as("a day is read once it is over in Tokyo").containsExactly("1");
    }

    private static String query(Connection c, String select) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(select)) {
            rs.next();
            return rs.getString(1);
        }
    }

    @Test
    void aTimeZoneTheSourceDoesNotKnowIsAClearError() {
        SourceSettings s = settings(List.of("zone"), List.of(), 10, ReplicationMethod.INCREMENTAL, "at", Duration.ZERO);
        SourceSettings unknown = new SourceSettings(s.host(), s.port(), s.database(), s.username(), s.password(), s.schemas(),
                s.tables(), s.replicationSlot(), s.publicationName(), s.batchFetchLimit(), s.replicationMethod(), "at", Map.of(),
                Duration.ZERO, "Mars/Olympus_Mons", s.ssl());

        assertThatThrownBy(() -> new BatchStreams(unknown, connections).streams())
                .isInstanceOf(io.pgsource.config.ConfigurationException.class)
                .hasMessage("sync.incremental_timezone=Mars/Olympus_Mons is not a time zone the source knows: use a name from"
                        + " pg_timezone_names, such as UTC or Europe/Berlin");
    }

    @Test
    void thePageSizeBoundsTheRowsOfEveryBatch() throws Exception {
        assertThat(firstRun(fullTable("mem", 7))).isTrue();

        assertThat(applied).allSatisfy(p -> assertThat(p.reads()).isLessThanOrEqualTo(7));
        assertThat(appliedFor("mem.keyed")).hasSize(15);
        assertThat(destinationColumn("mem.keyed", "id")).hasSize(100).doesNotHaveDuplicates();
        assertThat(destinationColumn("mem.nostats", "v")).containsExactlyInAnyOrderElementsOf(texts("SELECT v FROM mem.nostats"));
        assertThat(destinationColumn("mem.stale", "v")).containsExactlyInAnyOrderElementsOf(texts("SELECT v FROM mem.stale"));
        // 2000 rows in pages of at most 7
        assertThat(appliedFor("mem.stale").size()).isGreaterThanOrEqualTo(286);
    }

    private static ListAppender<ILoggingEvent> capture(Class<?> type) {
        Logger logger = (Logger) LoggerFactory.getLogger(type);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        return appender;
    }
}
