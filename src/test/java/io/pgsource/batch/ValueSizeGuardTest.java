package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.TableId;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceSettings;
import io.pgsource.config.SslSettings;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.PgText;
import io.pgsource.types.TypeRegistry;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code source.max_value_bytes} in the page queries of both readers (keyset pages read by COPY, in its binary format
 * for these types, ctid pages of a table
 * without key): the rows before a value too large to fetch come out whole, large values below the limit included, and
 * the run stops at that value's row, naming the column and its size (the rows of its batch before it are not handed
 * out: pages of two rows here).
 */
class ValueSizeGuardTest {
    /** Stored sizes above max / 4096 = 9 bytes are measured exactly. */
    private static final long MAX = 40_000;
    private static String database;
    private static TestSourceConnections connections;
    private static TypeRegistry types;

    @BeforeAll
    static void createTables() throws SQLException {
        database = TestPostgres.server().createDatabase("valuesize");
        connections = new TestSourceConnections(database);
        try (Connection c = connections.open()) {
            types = TypeRegistry.load(c);
        }
        try (Connection c = TestPostgres.server().connect(database); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA guard");
            for (String table : List.of("keyed (id int PRIMARY KEY", "keyless (id int")) {
                s.execute("CREATE TABLE guard." + table + ", body text, doc jsonb, b bytea, n int)");
            }
        }
    }

    private static void sql(String statements) throws SQLException {
        try (Connection c = TestPostgres.server().connect(database); Statement s = c.createStatement()) {
            s.execute(statements);
        }
    }

    /** The rows before the one too large, as their values' text output read by a plain query, decoded as the pipeline does. */
    private static List<String> texts(StreamTask task) throws SQLException {
        List<ChangeEvent> rows = new ArrayList<>();
        try (Connection c = connections.open(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT id, body, doc, b, n FROM " + task.table().id().quoted() + " WHERE id < 3 ORDER BY id")) {
            while (rs.next()) {
                rows.add(ChangeEvent.read(PageReader.row(rs, task.table().schema(), 1), null));
            }
        }
        return decoded(rows);
    }

    /**
     * Each row's decoded values (the readers hand raw ones on: text, or binary where the page is read so) as their text,
     * joined by "|".
     */
    private static List<String> decoded(List<ChangeEvent> events) throws SQLException {
        new TypeMappingProcessor(types).map(events);
        List<String> out = new ArrayList<>();
        for (ChangeEvent e : events) {
            StringBuilder row = new StringBuilder();
            for (int i = 0; i < e.after().size(); i++) {
                row.append(i == 0 ? "" : "|").append(PgText.format(e.after().get(i)));
            }
            out.add(row.toString());
        }
        return out;
    }

    @Test
    void rowsBeforeAValueTooLargeComeOutWholeAndTheRunStopsAtIt() throws Exception {
        sql("""
                TRUNCATE guard.keyed, guard.keyless;
                INSERT INTO guard.keyed VALUES
                  (1, 'small', '{"a": 1}', '\\x00ff', 1),
                  (2, repeat('x', 30000), jsonb_build_object('big', repeat('é', 12000)), decode(repeat('ab', 15000), 'hex'), NULL),
                  (3, 'fine', jsonb_build_object('big', repeat('z', 50000)), NULL, 3),
                  (4, 'after', NULL, NULL, 4);
                INSERT INTO guard.keyless SELECT * FROM guard.keyed;
                """);
        for (String table : List.of("keyed", "keyless")) {
            StreamTask task = task(table);
            List<ChangeEvent> read = new ArrayList<>();
            Throwable failure;
            try (Connection c = connections.open()) {
                c.setAutoCommit(false);
                c.setReadOnly(true);
                PageReader reader = task.keyless() ? new CtidPageReader(task, c) : new KeysetPageReader(task, c, (Bookmark) null);
                failure = catchThrowable(() -> {
                    while (reader.more()) {
                        ChangeBatch page = reader.next();
                        for (ChangeEvent e : page) {
                            if (e.after() == null) {
                                continue; // a table without key is replaced as a whole: a TRUNCATE first
                            }
                            read.add(e);
                        }
                    }
                });
                reader.close();
            }
            assertThat(decoded(read)).as(table + ": " + failure).isEqualTo(texts(task)).hasSize(2);
            // keyset pages of these types are read in COPY's binary format (the guard's report too), ctid pages by a query
            assertThat(read.get(0).after().copyBinary() != null).as(table + " read in binary").isEqualTo(!task.keyless());
            assertThat(failure).as(table).isInstanceOf(ValueTooLargeException.class)
                    .hasMessageContaining("column \"doc\" (" + String.format("%,d", 50_000 + "{\"big\": \"\"}".length()) + " bytes)")
                    .hasMessageContaining("source.max_value_bytes = 40,000")
                    .hasMessageNotContaining("\"body\"");
            if (!task.keyless()) {
                assertThat(failure).hasMessageContaining("row \"id\" = 3");
            }
        }
    }

    private static StreamTask task(String table) throws SQLException {
        TestPostgres pg = TestPostgres.server();
        SourceSettings settings = new SourceSettings(pg.host(), pg.port(), database, pg.user(), pg.password(), List.of("guard"),
                List.of(new TableId("guard", table)), "slot", "pub", 2, ReplicationMethod.FULL_TABLE, null, Map.of(), Duration.ZERO,
                SslSettings.NONE);
        return new BatchStreams(settings, connections, MAX).streams().get(0);
    }
}
