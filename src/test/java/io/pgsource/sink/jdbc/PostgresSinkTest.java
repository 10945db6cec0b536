package io.pgsource.sink.jdbc;

import io.pgsource.sink.TestChanges;
import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.delete;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.page;
import static io.pgsource.sink.TestChanges.read;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static io.pgsource.sink.TestChanges.truncate;
import static io.pgsource.sink.TestChanges.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.plan.WritePlanner;
import io.pgsource.sink.jdbc.PostgresSink.UpsertMethod;
import io.pgsource.testsupport.TestPostgres;
import java.math.BigDecimal;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class PostgresSinkTest {
    private static TestPostgres pg;
    private static String db;
    private static final List<PostgresSink> SINKS = new ArrayList<>();

    @BeforeAll
    static void database() {
        pg = TestPostgres.server();
        db = pg.createDatabase("sink_pg");
    }

    @AfterAll
    static void closeSinks() {
        SINKS.forEach(PostgresSink::stop);
    }

    private static DestinationSettings settings(String schema) {
        return new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(), schema, null);
    }

    private static PostgresSink sink(UpsertMethod method) {
        return sink(settings(null), method);
    }

    private static PostgresSink sink(DestinationSettings settings, UpsertMethod method) {
        PostgresSink s = new PostgresSink(settings, method);
        SINKS.add(s);
        return s;
    }

    private static void apply(PostgresSink sink, ChangeBatch batch) throws SQLException {
        TestChanges.deliver(sink, batch, null, null);
    }

    /** Rows as text, one string per row ("a|b|c"), in the given order. */
    private static List<String> rows(String sql) throws SQLException {
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            s.execute("SET TimeZone = 'UTC'");
            try (ResultSet rs = s.executeQuery(sql)) {
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
    }

    private static TableSchema items(String schema) {
        return table(schema, "items", List.of("id"),
                col("id", "bigint"), col("n", "integer"), col("name", "text"), col("price", "numeric(12,2)"),
                col("at", "timestamp with time zone"), col("flag", "boolean"), col("doc", "jsonb"),
                col("tags", "text[]"), col("mood", "public.mood", "text"), col("ci", "citext"),
                col("moods", "public.mood[]", "text[]"), col("h", "public.hstore"));
    }

    private static Row item(TableSchema t, long id, String name) {
        return row(t, id, (int) id * 10, name, new BigDecimal("12.50"),
                OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 0, ZoneOffset.ofHours(2)), true, "{\"a\": 1}",
                "{x,\"y z\"}", "happy", "MiXeD", "{sad,happy}", "\"a\"=>\"1\"");
    }

    /**
     * Values not decoded yet go to the destination as they arrived: pgoutput's binary form (the types' send output,
     * made here by the server's own send functions) in COPY's binary format, the source's text output in text format;
     * only the key is decoded (the plan needs it) and money, whose text depends on lc_monetary. Rows a snapshot read
     * as COPY text lines go as those lines (without money among the columns) or value by value (with it). The
     * destination holds exactly the source's values, whether the rows were copied into the new table or upserted
     * through staging.
     */
    @Test
    void valuesAsTheyArrivedGoUndecodedAndStayExact() throws SQLException {
        String values = "g::bigint, ('2024-01-02 03:04:05.123456+02'::timestamptz + g * interval '1 day'), (g / 8.0)::numeric(12,2), "
                + "jsonb_build_object('k', g, 'é', E'tab\\there'), ARRAY['x', NULL, E'back\\\\slash', 'y z'], 'NaN'::float8, NULL::int";
        String sends = "int8send(g::bigint), timestamptz_send('2024-01-02 03:04:05.123456+02'::timestamptz + g * interval '1 day'), "
                + "numeric_send((g / 8.0)::numeric(12,2)), jsonb_send(jsonb_build_object('k', g, 'é', E'tab\\there')), "
                + "array_send(ARRAY['x', NULL, E'back\\\\slash', 'y z']), float8send('NaN'::float8), NULL::bytea";
        TableSchema t = table("raw_src", "things", List.of("id"), new Column("id", 20, "bigint", "bigint"),
                new Column("at", 1184, "timestamp with time zone", "timestamp with time zone"), new Column("price", 1700, "numeric(12,2)", "numeric(12,2)"),
                new Column("doc", 3802, "jsonb", "jsonb"), new Column("tags", 1009, "text[]", "text[]"),
                new Column("f", 701, "double precision", "double precision"), new Column("none", 23, "integer", "integer"));
        TableSchema l = table("raw_src", "lines", List.of("id"), t.columns().toArray(Column[]::new));
        TableSchema lm = table("raw_src", "money_lines", List.of("id"), new Column("id", 20, "bigint", "bigint"),
                new Column("doc", 3802, "jsonb", "jsonb"), new Column("cash", 790, "money", "money"));
        TableSchema m = table("raw_src", "money", List.of("id"), new Column("id", 20, "bigint", "bigint"), new Column("at", 1184,
                "timestamp with time zone", "timestamp with time zone"), new Column("cash", 790, "money", "money"));
        Row.Decoding keysOnly = (row, i, raw) -> {
            if (i == 0) {
                return raw instanceof byte[] b ? java.nio.ByteBuffer.wrap(b).getLong() : Long.valueOf((String) raw);
            }
            if (row.schema().columns().get(i).typeOid() == 790) {
                return new BigDecimal(((String) raw).replaceAll("[$,]", ""));
            }
            throw new AssertionError("column " + i + " was decoded");
        };
        PostgresSink sink = sink(UpsertMethod.COPY);
        for (int round = 0; round < 2; round++) {
            // round 0: new rows, copied into the table; round 1: the same keys, other values (upserts through staging)
            String from = " FROM generate_series(" + (1 + round) + ", " + (100 + round) + ") g";
            List<ChangeEvent> binary = new ArrayList<>();
            List<ChangeEvent> text = new ArrayList<>();
            try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
                try (ResultSet rs = s.executeQuery("SELECT " + sends + from)) {
                    while (rs.next()) {
                        Object[] raw = new Object[t.size()];
                        for (int i = 0; i < raw.length; i++) {
                            raw[i] = rs.getBytes(i + 1);
                        }
                        Row r = new Row(t, raw);
                        r.decodeLazily(keysOnly);
                        binary.add(read(r));
                    }
                }
                try (ResultSet rs = s.executeQuery("SELECT g::bigint::text, ('2024-01-02 03:04:05.123456+02'::timestamptz + g * interval '1 day')::text, "
                        + "(g * 1000.5)::money::text" + from)) {
                    while (rs.next()) {
                        Row r = new Row(m, new Object[] {rs.getString(1), rs.getString(2), rs.getString(3)});
                        r.decodeLazily(keysOnly);
                        text.add(read(r));
                    }
                }
                org.postgresql.copy.CopyManager copies = c.unwrap(org.postgresql.PGConnection.class).getCopyAPI();
                for (TableSchema table : List.of(l, lm)) {
                    String select = table == l ? values : "g::bigint, jsonb_build_object('k', g, 'é', E'tab\\there'), (g * 1000.5)::money";
                    org.postgresql.copy.CopyOut out = copies.copyOut("COPY (SELECT " + select + from + ") TO STDOUT");
                    byte[] line;
                    while ((line = out.readFromCopy()) != null) {
                        Row r = Row.ofCopyText(table, line, line.length - 1);
                        r.decodeLazily(keysOnly);
                        text.add(read(r));
                    }
                }
            }
            binary.addAll(text);
            apply(sink, batch(page("raw_src", Integer.toString(round)), binary.toArray(ChangeEvent[]::new)));
            assertThat(rows("SELECT count(*) FROM raw_src.lines t JOIN (SELECT " + values + from + ") s (id, at, price, doc, tags, f, none)"
                    + " ON (t.*)::text = (s.*)::text")).containsExactly("100");
            assertThat(rows("SELECT count(*) FROM raw_src.money_lines t JOIN (SELECT g::bigint, jsonb_build_object('k', g, 'é', E'tab\\there'),"
                    + " (g * 1000.5)::money" + from + ") s (id, doc, cash) ON (t.*)::text = (s.*)::text")).containsExactly("100");
            assertThat(rows("SELECT count(*) FROM raw_src.things t JOIN (SELECT " + values + from + ") s (id, at, price, doc, tags, f, none)"
                    + " ON (t.*)::text = (s.*)::text")).containsExactly("100");
            assertThat(rows("SELECT count(*) FROM raw_src.money t JOIN (SELECT g::bigint, '2024-01-02 03:04:05.123456+02'::timestamptz"
                    + " + g * interval '1 day', (g * 1000.5)::money" + from + ") s (id, at, cash) ON (t.*)::text = (s.*)::text"))
                    .containsExactly("100");
        }
        assertThat(rows("SELECT count(*) FROM raw_src.things")).containsExactly("101");
    }

    @Test
    void createsSchemaAndTableWithKeyAndTypes() throws SQLException {
        TableSchema t = items("create_src");
        apply(sink(UpsertMethod.COPY), batch(page("create_src.items", "1"), read(item(t, 1, "one"))));

        assertThat(rows("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                + " WHERE a.attrelid = 'create_src.items'::regclass AND a.attnum > 0 ORDER BY a.attnum"))
                .containsExactly("id|bigint", "n|integer", "name|text", "price|numeric(12,2)",
                        "at|timestamp with time zone", "flag|boolean", "doc|jsonb", "tags|text[]", "mood|text", "ci|citext", "moods|text[]", "h|hstore");
        assertThat(rows("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                + " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'create_src.items'::regclass AND i.indisprimary"))
                .containsExactly("id");
        assertThat(rows("SELECT * FROM create_src.items"))
                .containsExactly("1|10|one|12.50|2024-01-02 01:04:05+00|t|{\"a\": 1}|{x,\"y z\"}|happy|MiXeD|{sad,happy}|\"a\"=>\"1\"");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void upsertsUpdatesDeletesAndTruncates(UpsertMethod method) throws SQLException {
        String schema = "crud_" + method.name().toLowerCase();
        TableSchema t = items(schema);
        PostgresSink sink = sink(method);
        apply(sink, batch(page(schema + ".items", "1"), insert(item(t, 1, "one")), insert(item(t, 2, "two")), insert(item(t, 3, "three"))));
        apply(sink, batch(page(schema + ".items", "2"), update(null, item(t, 1, "uno")), delete(item(t, 2, null)),
                update(item(t, 3, null), item(t, 30, "thirty"))));
        assertThat(rows("SELECT id, name FROM " + schema + ".items ORDER BY id")).containsExactly("1|uno", "30|thirty");

        apply(sink, batch(page(schema + ".items", "3"), insert(item(t, 4, "four")), truncate(t), insert(item(t, 5, "five"))));
        assertThat(rows("SELECT id, name FROM " + schema + ".items ORDER BY id")).containsExactly("5|five");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void keepsTheValuesOfUnchangedToastColumns(UpsertMethod method) throws SQLException {
        String schema = "toast_" + method.name().toLowerCase();
        TableSchema t = table(schema, "docs", List.of("id"), col("id", "integer"), col("title", "text"), col("body", "text"));
        PostgresSink sink = sink(method);
        String big = "x".repeat(10_000);
        apply(sink, batch(page("x", "1"), insert(row(t, 1, "a", big + "1")), insert(row(t, 2, "b", big + "2")), insert(row(t, 3, "c", big + "3"))));

        apply(sink, batch(page("x", "2"),
                update(null, row(t, 1, "a2", null), Set.of("body")),
                update(row(t, 2, null, null), row(t, 20, "b2", null), Set.of("body")),
                update(null, row(t, 3, "c2", "new body"))));

        assertThat(rows("SELECT id, title, length(body), right(body, 1) FROM " + schema + ".docs ORDER BY id"))
                .containsExactly("1|a2|10001|1", "3|c2|8|y", "20|b2|10001|2");
    }

    @Test
    void addsTheColumnsTheSourceGained() throws SQLException {
        TableSchema v1 = table("grow", "t", List.of("id"), col("id", "integer"), col("a", "text"));
        TableSchema v2 = table("grow", "t", List.of("id"), col("id", "integer"), col("a", "text"), col("b", "numeric"));
        PostgresSink sink = sink(UpsertMethod.COPY);
        apply(sink, batch(page("grow.t", "1"), insert(row(v1, 1, "one"))));
        apply(sink, batch(page("grow.t", "2"), insert(row(v2, 2, "two", new BigDecimal("2.5"))), update(null, row(v1, 1, "uno"))));

        assertThat(rows("SELECT * FROM grow.t ORDER BY id")).containsExactly("1|uno|null", "2|two|2.5");
    }

    @Test
    void sameNamedTablesInTwoSchemasStayApart() throws SQLException {
        TableSchema a = table("apart_a", "t", List.of("id"), col("id", "integer"), col("v", "text"));
        TableSchema b = table("apart_b", "t", List.of("id"), col("id", "integer"), col("v", "text"));
        apply(sink(UpsertMethod.COPY), batch(page("p", "1"), insert(row(a, 1, "from a")), insert(row(b, 1, "from b")), delete(row(a, 1, null)), insert(row(a, 2, "a2"))));

        assertThat(rows("SELECT id, v FROM apart_a.t")).containsExactly("2|a2");
        assertThat(rows("SELECT id, v FROM apart_b.t")).containsExactly("1|from b");
    }

    @Test
    void destinationSchemaOverridesTheSourceSchema() throws SQLException {
        TableSchema t = table("some_source", "t", List.of("id"), col("id", "integer"));
        apply(sink(settings("flat"), UpsertMethod.COPY), batch(page("some_source.t", "1"), insert(row(t, 7))));

        assertThat(rows("SELECT id FROM flat.t")).containsExactly("7");
        assertThat(rows("SELECT 1 FROM pg_namespace WHERE nspname = 'some_source'")).isEmpty();
    }

    @Test
    void aSecondSourceTableMappedOntoTheSameDestinationTableStopsTheBatch() throws SQLException {
        TableSchema a = table("share_a", "t", List.of("id"), col("id", "integer"));
        TableSchema b = table("share_b", "t", List.of("id"), col("id", "integer"));
        PostgresSink sink = sink(settings("shared"), UpsertMethod.COPY);
        apply(sink, batch(page("share_a.t", "1"), insert(row(a, 1))));

        assertThatThrownBy(() -> apply(sink, batch(page("share_b.t", "1"), insert(row(b, 2)))))
                .isInstanceOf(SchemaChangeException.class)
                .hasMessageContaining("destination.schema=shared maps both \"share_a\".\"t\" and \"share_b\".\"t\"");
        assertThat(rows("SELECT id FROM shared.t")).containsExactly("1");
    }

    @Test
    void generatedColumnsAreComputedThereAndNeverWritten() throws SQLException {
        Column area = new Column("area", 23, "integer", "integer", "(w * h)");
        // as a stream before PostgreSQL 18 sees the table: the rows lack the generated column, the schema knows it
        TableSchema streamed = new TableSchema(new TableId("gen_sink", "rect"), List.of(col("id", "integer"), col("w", "integer"),
                col("h", "integer")), List.of("id"), List.of(area));
        // as the batch query reads it, generated column and all
        TableSchema read = table("gen_sink", "rect", List.of("id"), col("id", "integer"), col("w", "integer"), col("h", "integer"), area);
        PostgresSink sink = sink(UpsertMethod.COPY);
        apply(sink, batch(page("gen_sink.rect", "1"), insert(row(streamed, 1, 2, 3))));
        apply(sink, batch(page("gen_sink.rect", "2"), read(row(read, 2, 4, 5, 20)), update(null, row(read, 1, 10, 3, 30))));

        assertThat(rows("SELECT attname, attgenerated FROM pg_attribute WHERE attrelid = 'gen_sink.rect'::regclass AND attnum > 0"
                + " ORDER BY attnum")).containsExactly("id|", "w|", "h|", "area|s");
        assertThat(rows("SELECT * FROM gen_sink.rect ORDER BY id")).containsExactly("1|10|3|30", "2|4|5|20");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void hostileIdentifiers(UpsertMethod method) throws SQLException {
        String schema = "we\"ird sch " + method.ordinal();
        String long63 = "c".repeat(63);
        String nonAscii63 = "é".repeat(31) + "x"; // 63 bytes in UTF-8
        TableSchema t = table(schema, "select \"Ta ble\"", List.of("order", "ñandú"),
                col("order", "integer"), col("ñandú", "text"), col(long63, "text"), col(nonAscii63, "text"), col("A\"b c", "text"));
        PostgresSink sink = sink(method);
        apply(sink, batch(page("h", "1"), insert(row(t, 1, "ü", "l1", "n1", "q1")), insert(row(t, 2, "ü", "l2", "n2", "q2"))));
        apply(sink, batch(page("h", "2"), update(null, row(t, 1, "ü", "L1", "N1", "Q1")), delete(row(t, 2, "ü", null, null, null))));

        String q = io.pgsource.change.TableId.quoteIdent(schema) + "." + io.pgsource.change.TableId.quoteIdent("select \"Ta ble\"");
        assertThat(rows("SELECT * FROM " + q)).containsExactly("1|ü|L1|N1|Q1");
        assertThat(rows("SELECT attname FROM pg_attribute WHERE attrelid = '" + q.replace("'", "''") + "'::regclass AND attnum > 0 ORDER BY attnum"))
                .containsExactly("order", "ñandú", long63, nonAscii63, "A\"b c");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void keylessTablesKeepDuplicatesAndRemoveOneCopy(UpsertMethod method) throws SQLException {
        String schema = "keyless_" + method.name().toLowerCase();
        TableSchema t = table(schema, "events", List.of(), col("msg", "text"), col("doc", "json"), col("n", "integer"));
        PostgresSink sink = sink(method);
        Row a = row(t, "a", "{\"k\":  1}", 1);
        Row b = row(t, "b\ttab\nline\\", null, 2);
        apply(sink, batch(page("k", "1"), insert(a), insert(a), insert(b), insert(a)));
        apply(sink, batch(page("k", "2"), delete(a), update(b, row(t, "b2", null, 3))));

        assertThat(rows("SELECT msg, doc, n FROM " + schema + ".events ORDER BY msg"))
                .containsExactly("a|{\"k\":  1}|1", "a|{\"k\":  1}|1", "b2|null|3");
    }

    @Test
    void storesThePositionWithTheData() throws SQLException {
        TableSchema t = table("pos", "t", List.of("id"), col("id", "integer"));
        PostgresSink sink = sink(UpsertMethod.COPY);
        assertThat(sink.positions().load("pos.t")).isEmpty();

        apply(sink, batch(page("pos.t", "{\"id\":1}"), insert(row(t, 1))));
        TestChanges.deliver(sink, batch(new Position.Log(0x16B3748L, 77, OffsetDateTime.now()), insert(row(t, 2))), "my_slot", null);

        assertThat(sink.positions().load("pos.t")).contains("{\"id\":1}");
        assertThat(sink.positions().load("slot:my_slot")).contains("0/16B3748");
        assertThat(rows("SELECT stream, position FROM _pgsource.positions WHERE stream IN ('pos.t', 'slot:my_slot') ORDER BY stream"))
                .containsExactly("pos.t|{\"id\":1}", "slot:my_slot|0/16B3748");
        // another instance reads what was committed
        assertThat(sink(UpsertMethod.COPY).positions().load("pos.t")).contains("{\"id\":1}");
    }

    @Test
    void recordsStoredAfterTheDataAreMadeDurableWhenTheSinkStops() throws SQLException {
        PostgresSink sink = new PostgresSink(settings(null), UpsertMethod.COPY); // stopped here, not after all tests
        sink.positions().saveAll(java.util.Map.of("after.durable", "1"));
        java.util.Map<String, String> records = new java.util.LinkedHashMap<>();
        records.put("after.a", "1");
        records.put("after.lazy", "2");
        sink.positions().saveAllAfterData(records);
        assertThat(sink(UpsertMethod.COPY).positions().load("after.lazy")).contains("2"); // committed, only not waited for
        List<String> before = rows("SELECT stream, xmin::text FROM _pgsource.positions WHERE stream LIKE 'after.%' ORDER BY stream");

        sink.stop();

        // stopping re-stored the last record that did not wait, durably (which waits for every earlier commit too),
        // and nothing else
        List<String> after = rows("SELECT stream, xmin::text FROM _pgsource.positions WHERE stream LIKE 'after.%' ORDER BY stream");
        assertThat(after.subList(0, 2)).isEqualTo(before.subList(0, 2));
        assertThat(after.get(2)).isNotEqualTo(before.get(2)).startsWith("after.lazy|");
        assertThat(rows("SELECT position FROM _pgsource.positions WHERE stream = 'after.lazy'")).containsExactly("2");
    }

    @Test
    void combinedTransactionsThatTheStoredPositionCoversAreNotAppliedAgain() throws SQLException {
        // a keyless table: a change applied twice would show as a duplicate row
        TableSchema t = table("combined", "t", List.of(), col("v", "text"));
        PostgresSink sink = sink(UpsertMethod.COPY);
        // the initial copy, taken at 0/250, holds transactions 1 and 2 (commit records at 0/100 and 0/200)
        TestChanges.deliver(sink, batch(new Position.Log(0x250, 0, OffsetDateTime.now()), insert(row(t, "one")),
                insert(row(t, "two"))), "combined_slot", null);
        // the slot, behind the copy, sends 1, 2 and 3 combined in one exchange (its position: 3's end LSN)
        List<ChangeEvent> events = new ArrayList<>();
        String[] values = {"one", "two", "three"};
        for (int tx = 1; tx <= 3; tx++) {
            Position.Log record = new Position.Log(0x100L * tx, tx, OffsetDateTime.now());
            events.add(new ChangeEvent(Op.INSERT, t, null, row(t, values[tx - 1]), Set.of(), record));
        }
        ChangeBatch combined = new ChangeBatch(events, new Position.Log(0x380, 3, OffsetDateTime.now()), true);
        TestChanges.deliver(sink, combined, "combined_slot", 0L);

        assertThat(rows("SELECT v FROM combined.t ORDER BY v")).containsExactly("one", "three", "two");
        assertThat(sink.positions().load("slot:combined_slot")).contains("0/380");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void aFailedBatchLeavesNeitherRowsNorPosition(UpsertMethod method) throws SQLException {
        String schema = "fail_" + method.name().toLowerCase();
        TableSchema t = table(schema, "t", List.of("id"), col("id", "integer"), col("v", "text"));
        TableSchema fresh = table(schema, "fresh", List.of("id"), col("id", "integer"));
        PostgresSink sink = sink(method);
        apply(sink, batch(page(schema, "1"), insert(row(t, 1, "one"))));

        // a NULL key violates the primary key's NOT NULL, after other rows and a new table were written
        ChangeBatch bad = batch(page(schema, "2"), insert(row(fresh, 1)), update(null, row(t, 1, "changed")), insert(row(t, null, "bad")));
        assertThatThrownBy(() -> apply(sink, bad)).isInstanceOf(SQLException.class).hasMessageContaining("rolled back");

        assertThat(rows("SELECT id, v FROM " + schema + ".t")).containsExactly("1|one");
        assertThat(rows("SELECT to_regclass('" + schema + ".fresh') IS NULL")).containsExactly("t");
        assertThat(sink.positions().load(schema)).contains("1");

        // the same sink recovers: the table whose creation was rolled back is created again
        apply(sink, batch(page(schema, "3"), insert(row(fresh, 1)), update(null, row(t, 1, "changed"))));
        assertThat(rows("SELECT id FROM " + schema + ".fresh")).containsExactly("1");
        assertThat(rows("SELECT id, v FROM " + schema + ".t")).containsExactly("1|changed");
        assertThat(sink.positions().load(schema)).contains("3");
    }

    @Test
    void replayingABatchChangesNothing() throws SQLException {
        TableSchema t = table("replay", "t", List.of("id"), col("id", "integer"), col("v", "text"));
        PostgresSink sink = sink(UpsertMethod.COPY);
        apply(sink, batch(page("replay.t", "1"), insert(row(t, 1, "a")), insert(row(t, 2, "b")), insert(row(t, 3, "c"))));
        ChangeBatch second = batch(page("replay.t", "2"), update(null, row(t, 1, "a2")), delete(row(t, 2, null)),
                update(row(t, 3, null), row(t, 4, "c")), insert(row(t, 5, "e")));
        apply(sink, second);
        List<String> once = rows("SELECT * FROM replay.t ORDER BY id");

        apply(sink, second);
        assertThat(rows("SELECT * FROM replay.t ORDER BY id")).isEqualTo(once).containsExactly("1|a2", "4|c", "5|e");
        assertThat(sink.positions().load("replay.t")).contains("2");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void newRowsAreInsertedPlainlyAndExistingKeysStillUpserted(UpsertMethod method) throws SQLException {
        String schema = "plain_" + method.name().toLowerCase();
        TableSchema t = table(schema, "t", List.of("id"), col("id", "integer"), col("v", "text"));
        TableSchema other = table(schema, "other", List.of("id"), col("id", "integer"));
        PostgresSink sink = sink(method);
        apply(sink, batch(page(schema + ".t", "run1"), read(row(t, 1, "a")), read(row(t, 2, "b"))));
        apply(sink, batch(page(schema + ".other", "o1"), insert(row(other, 1)), insert(row(other, 2))));

        // a second run reads rows the destination holds: the plain insert meets key 1, the whole batch is redone with
        // upserts (the delete of another table in it applied once), and its position is stored with it
        apply(sink, batch(page(schema + ".t", "run2"), delete(row(other, 1)), read(row(t, 1, "a2")), read(row(t, 3, "c"))));
        assertThat(rows("SELECT id, v FROM " + schema + ".t ORDER BY id")).containsExactly("1|a2", "2|b", "3|c");
        assertThat(rows("SELECT id FROM " + schema + ".other ORDER BY id")).containsExactly("2");
        assertThat(sink.positions().load(schema + ".t")).contains("run2");

        // an insert of a key that exists (a replayed transaction) converges the same way
        apply(sink, batch(page(schema + ".other", "o2"), insert(row(other, 2)), insert(row(other, 3))));
        assertThat(rows("SELECT id FROM " + schema + ".other ORDER BY id")).containsExactly("2", "3");

        // after a truncate the table is empty again: plain inserts, and the rows are right
        apply(sink, batch(page(schema + ".t", "run3"), truncate(t), read(row(t, 5, "e")), read(row(t, 6, "f"))));
        assertThat(rows("SELECT id, v FROM " + schema + ".t ORDER BY id")).containsExactly("5|e", "6|f");
        assertThat(sink.positions().load(schema + ".t")).contains("run3");
    }

    @Test
    void reconnectsWhenTheConnectionDiedBetweenBatches() throws SQLException {
        TableSchema t = table("reconnect", "t", List.of("id"), col("id", "integer"));
        PostgresSink sink = sink(UpsertMethod.COPY);
        apply(sink, batch(page("reconnect.t", "1"), insert(row(t, 1))));
        assertThat(rows("SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity"
                + " WHERE application_name = 'pgsource' AND datname = current_database()")).containsExactly("t");

        apply(sink, batch(page("reconnect.t", "2"), insert(row(t, 2))));
        assertThat(rows("SELECT id FROM reconnect.t ORDER BY id")).containsExactly("1", "2");
        assertThat(sink.positions().load("reconnect.t")).contains("2");
    }

    @Test
    void manyRowsGoInSeveralStatementsAndDeletesInOne() throws SQLException {
        TableSchema t = table("many", "t", List.of("a", "b"), col("a", "integer"), col("b", "text"), col("v", "text"));
        List<io.pgsource.change.ChangeEvent> events = new ArrayList<>();
        for (int i = 0; i < 12_000; i++) {
            events.add(insert(row(t, i, "k\"" + i, "v" + i)));
        }
        PostgresSink insertValues = sink(UpsertMethod.INSERT_VALUES);
        apply(insertValues, batch(page("many", "1"), events.toArray(io.pgsource.change.ChangeEvent[]::new)));
        events.clear();
        for (int i = 0; i < 12_000; i += 2) {
            events.add(delete(row(t, i, "k\"" + i, null)));
        }
        apply(insertValues, batch(page("many", "2"), events.toArray(io.pgsource.change.ChangeEvent[]::new)));

        assertThat(rows("SELECT count(*), min(a), max(a), sum(a % 2) FROM many.t")).containsExactly("6000|1|11999|6000");
    }

    @Test
    void wrongCredentialsGiveAClearErrorWithoutThePassword() throws Exception {
        String secret = "s3cr3t-Pa55word";
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            s.execute("DROP ROLE IF EXISTS pgsource_pw_test");
            s.execute("CREATE ROLE pgsource_pw_test LOGIN PASSWORD 'right-one'");
        }
        TableSchema t = table("pw", "t", List.of("id"), col("id", "integer"));
        ChangeBatch b = batch(page("pw.t", "1"), insert(row(t, 1)));

        // a role that does not exist fails under every authentication method
        DestinationSettings noRole = new DestinationSettings("postgres", pg.jdbcUrl(db) + "?password=" + secret,
                "pgsource_no_such_role", secret, null, null);
        assertThatThrownBy(() -> TestChanges.deliver(new PostgresSink(noRole), b, null, null))
                .isInstanceOf(SQLException.class)
                .hasMessageContaining("PostgreSQL at " + pg.jdbcUrl(db))
                .hasMessageContaining("destination.")
                .satisfies(e -> assertThat(fullText(e)).doesNotContain(secret));

        // a wrong password, where the server checks passwords for this client
        DestinationSettings wrong = new DestinationSettings("postgres", pg.jdbcUrl(db), "pgsource_pw_test", secret, null, null);
        PostgresSink wrongSink = new PostgresSink(wrong);
        try {
            TestChanges.deliver(wrongSink, b, null, null);
            // trust authentication: the password is not checked; nothing more to assert here
        } catch (SQLException e) {
            if ("28P01".equals(e.getSQLState())) {
                assertThat(e.getMessage()).contains(pg.jdbcUrl(db)).contains("Check destination.password");
            }
            assertThat(fullText(e)).doesNotContain(secret);
        } finally {
            wrongSink.stop();
        }
    }

    @Test
    void anUnreachableDestinationNamesTheUrlAndTheFix() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String url = "jdbc:postgresql://127.0.0.1:" + port + "/nowhere";
        DestinationSettings down = new DestinationSettings("postgres", url, "someone", "hunter2-secret", null, null);
        TableSchema t = table("x", "t", List.of("id"), col("id", "integer"));
        assertThatThrownBy(() -> TestChanges.deliver(new PostgresSink(down), batch(page("x.t", "1"), insert(row(t, 1))), null, null))
                .hasMessageContaining(url)
                .hasMessageContaining("Check the host and port in destination.url")
                .satisfies(e -> assertThat(fullText(e)).doesNotContain("hunter2-secret"));
    }

    private static String fullText(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable x = e; x != null; x = x.getCause()) {
            sb.append(x).append('\n');
        }
        return sb.toString();
    }
}
