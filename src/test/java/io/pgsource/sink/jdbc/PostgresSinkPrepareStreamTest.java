package io.pgsource.sink.jdbc;

import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.row;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Position;
import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.TestChanges;
import io.pgsource.state.Positions;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link PostgresSink#prepareStream}: before log replication streams, the destination reads ahead what the first
 * transaction would ask for one at a time (the stored positions, the catalog of its tables), so that transaction sends
 * the destination its writes only; it creates nothing itself, and what it read serves a table's first check only.
 * The statements pgjdbc sends are taken from its own log (java.util.logging, FINEST), on a real server.
 */
class PostgresSinkPrepareStreamTest {
    private static final AtomicInteger NAMES = new AtomicInteger();
    private static TestPostgres pg;
    private static final List<PostgresSink> SINKS = new ArrayList<>();
    private final String slot = "prepare_" + NAMES.incrementAndGet();

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    @AfterAll
    static void close() {
        SINKS.forEach(PostgresSink::stop);
    }

    private static PostgresSink sink(String db) {
        PostgresSink s = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(), null, null,
                false));
        SINKS.add(s);
        return s;
    }

    @Test
    void theFirstTransactionAfterARestartSendsItsWritesOnly() throws Exception {
        String db = pg.createDatabase("sink_prepare");
        TableSchema t = shape("orders", false);
        PostgresSink before = sink(db);
        deliver(before, 0x1000, insert(row(t, 1, "a")));
        before.stop();

        PostgresSink sink = sink(db); // a restart
        sink.prepareStream(List.of(t.id()), streams(t.id()));
        TableSchema again = shape("orders", false); // the stream's own Relation message: a schema instance of its own
        List<String> sent = statements(() -> {
            // what the route asks first: whether the table needs a copy, then the transaction through the destination step
            assertThat(sink.copyReason(again)).isNull();
            deliver(sink, 0x2000, insert(row(again, 2, "b")));
        });

        assertThat(sent).as("statements of the first transaction").isNotEmpty()
                .noneMatch(s -> s.contains("PG_CATALOG") || s.contains("TO_REGCLASS") || s.startsWith("SELECT")
                        || s.startsWith("CREATE"));
        assertThat(rows(db, "SELECT id || v FROM warm.orders ORDER BY id")).containsExactly("1a", "2b");
        assertThat(rows(db, "SELECT position FROM \"_pgsource\".\"positions\" WHERE stream = 'slot:" + slot + "'"))
                .containsExactly("0/2000");
    }

    @Test
    void preparingAnEmptyDestinationCreatesNothingAndTheFirstTransactionCreatesWhatItNeeds() throws Exception {
        String db = pg.createDatabase("sink_prepare_empty");
        TableSchema t = shape("fresh", false);
        PostgresSink sink = sink(db);
        List<String> sent = statements(() -> sink.prepareStream(List.of(t.id()), streams(t.id())));

        assertThat(sent).isNotEmpty().allMatch(s -> s.startsWith("SELECT") || s.equals("COMMIT"));
        assertThat(rows(db, "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname IN ('warm', '_pgsource')")).containsExactly("0");
        assertThat(rows(db, "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname IN ('warm', '_pgsource')")).containsExactly("0");

        deliver(sink, 0x1000, insert(row(t, 1, "a")));
        assertThat(rows(db, "SELECT id || v FROM warm.fresh")).containsExactly("1a");
        assertThat(rows(db, "SELECT position FROM \"_pgsource\".\"positions\" WHERE stream = 'slot:" + slot + "'"))
                .containsExactly("0/1000");
    }

    @Test
    void whatWasReadAheadServesTheFirstCheckOnlyALaterShapeReadsTheCatalog() throws Exception {
        String db = pg.createDatabase("sink_prepare_later");
        TableSchema t = shape("evolving", false);
        PostgresSink before = sink(db);
        deliver(before, 0x1000, insert(row(t, 1, "a")));
        before.stop();

        PostgresSink sink = sink(db);
        sink.prepareStream(List.of(t.id()), streams(t.id()));
        deliver(sink, 0x2000, insert(row(shape("evolving", false), 2, "b")));
        // changed at the destination after the read ahead: the next check must see it, not what was read at the start
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            s.execute("ALTER TABLE warm.evolving ALTER COLUMN v TYPE varchar(5)");
        }
        // the source adds a column: a new shape, checked against the catalog as it is now (v is widened back to text; what
        // was read at the start would say it is text already)
        TableSchema wider = shape("evolving", true);
        deliver(sink, 0x3000, insert(row(wider, 3, "c", "w")));

        assertThat(rows(db, "SELECT format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute"
                + " WHERE attrelid = 'warm.evolving'::regclass AND attname = 'v'")).containsExactly("text");
        assertThat(rows(db, "SELECT id || v || coalesce(w, '') FROM warm.evolving ORDER BY id"))
                .containsExactly("1a", "2b", "3cw");
    }

    @Test
    void theFirstUseWorkRunsInMemoryWithoutFailing() throws Exception {
        // prepareStream logs a failure at DEBUG only and goes on: here it must not fail, with and without held records
        FirstUse.run(List.of());
        FirstUse.run(List.of("not a record"));
        String db = pg.createDatabase("sink_prepare_first_use");
        TableSchema t = shape("held", false);
        PostgresSink sink = sink(db);
        deliver(sink, 0x1000, insert(row(t, 1, "a")));
        String held = rows(db, "SELECT position FROM \"_pgsource\".\"positions\" WHERE stream = 'columns:warm.held'").get(0);
        FirstUse.run(List.of(held));
    }

    /** The streams log replication reads ahead: its slot's position and each table's copy record. */
    private List<String> streams(TableId table) {
        return List.of("slot:" + slot, Positions.copiedAt(slot, table));
    }

    /**
     * A table of columns id integer (its key) and v text, with w text when {@code withW}, as a Relation message brings it:
     * with what the source catalog says of its columns.
     */
    private static TableSchema shape(String name, boolean withW) {
        List<Column> columns = new ArrayList<>(List.of(col("id", "integer"), col("v", "text")));
        Map<String, SourceColumns.Attribute> catalog = new LinkedHashMap<>();
        catalog.put("id", new SourceColumns.Attribute(1, "integer", null, false));
        catalog.put("v", new SourceColumns.Attribute(2, "text", null, false));
        if (withW) {
            columns.add(col("w", "text"));
            catalog.put("w", new SourceColumns.Attribute(3, "text", null, false));
        }
        return new TableSchema(new TableId("warm", name), columns, List.of("id"), List.of(),
                new SourceColumns(77_000 + name.length(), catalog, columns.size(), Map.of(77_000L, 77_000L)));
    }

    /** A whole transaction committed at {@code lsn}, delivered as its route does. */
    private void deliver(PostgresSink sink, long lsn, ChangeEvent... events) throws Exception {
        TestChanges.deliver(sink, TestChanges.batch(new Position.Log(lsn, lsn, null), events), slot, null);
    }

    private interface Work {
        void run() throws Exception;
    }

    /** The statements pgjdbc sends to any server while {@code work} runs (its Parse messages, as it logs them). */
    private static List<String> statements(Work work) throws Exception {
        Logger logger = Logger.getLogger("org.postgresql.core.v3.QueryExecutorImpl");
        Level level = logger.getLevel();
        List<String> sent = Collections.synchronizedList(new ArrayList<>());
        SimpleFormatter format = new SimpleFormatter();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                String line = format.formatMessage(record);
                int at = line.indexOf("query=\"");
                if (line.contains("FE=> Parse") && at >= 0) {
                    String query = line.substring(at + "query=\"".length());
                    int end = query.lastIndexOf("\",oids=");
                    // upper case, so a check of its first word ignores how it was written
                    sent.add((end >= 0 ? query.substring(0, end) : query).strip().toUpperCase(Locale.ROOT));
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        handler.setLevel(Level.ALL);
        logger.setLevel(Level.FINEST);
        logger.addHandler(handler);
        try {
            work.run();
        } finally {
            logger.removeHandler(handler);
            logger.setLevel(level);
        }
        return new ArrayList<>(sent);
    }

    private static List<String> rows(String db, String sql) throws Exception {
        try (Connection c = pg.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            while (rs.next()) {
                out.add(rs.getString(1));
            }
            return out;
        }
    }
}
