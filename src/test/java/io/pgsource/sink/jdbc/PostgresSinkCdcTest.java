package io.pgsource.sink.jdbc;

import io.pgsource.sink.TestChanges;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.delete;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static io.pgsource.sink.TestChanges.truncate;
import static io.pgsource.sink.TestChanges.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.plan.WritePlanner;
import io.pgsource.sink.jdbc.PostgresSink.UpsertMethod;
import io.pgsource.testsupport.TestPostgres;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The PostgreSQL destination fed log-replication batches built by hand, shaped as the pgoutput component delivers
 * them: one source transaction per batch (or several parts), a {@code Position.Log} on the batch and its events,
 * UPDATEs without old row (REPLICA IDENTITY DEFAULT), with a key-only old row (key changed) or a full old row
 * (REPLICA IDENTITY FULL), and unchanged TOAST columns.
 */
class PostgresSinkCdcTest {
    private static final AtomicInteger SLOTS = new AtomicInteger();
    private static final OffsetDateTime T0 = OffsetDateTime.of(2024, 5, 6, 7, 8, 9, 123_456_000, ZoneOffset.UTC);

    private static TestPostgres pg;
    private static String db;
    private static final List<PostgresSink> SINKS = new ArrayList<>();
    /** Each test (and parameter) has its own slot, so the positions of one do not skip the batches of another. */
    private final String slot = "cdc_slot_" + SLOTS.incrementAndGet();

    @BeforeAll
    static void database() {
        pg = TestPostgres.server();
        db = pg.createDatabase("sink_cdc");
    }

    @AfterAll
    static void closeSinks() {
        SINKS.forEach(PostgresSink::stop);
    }

    private static PostgresSink sink(boolean softDelete, UpsertMethod method) {
        PostgresSink s = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(), null, null,
                softDelete), method);
        SINKS.add(s);
        return s;
    }

    private static PostgresSink sink() {
        return sink(false, UpsertMethod.COPY);
    }

    /** A position whose commit time is T0 plus {@code lsn} seconds. */
    private static Position.Log at(long lsn, long txId) {
        return new Position.Log(lsn, txId, T0.plusSeconds(lsn));
    }

    /** One part of a transaction: every event carries the transaction's commit record LSN, as the component does. */
    private static ChangeBatch part(Position.Log batchPosition, long recordLsn, boolean last, ChangeEvent... events) {
        Position.Log eventPosition = new Position.Log(recordLsn, batchPosition.txId(), batchPosition.commitTime());
        List<ChangeEvent> out = new ArrayList<>();
        for (ChangeEvent e : events) {
            out.add(new ChangeEvent(e.op(), e.table(), e.before(), e.after(), e.unchanged(), eventPosition));
        }
        return new ChangeBatch(out, batchPosition, last);
    }

    /** A whole transaction in one batch. */
    private static ChangeBatch tx(long endLsn, long txId, ChangeEvent... events) {
        return part(at(endLsn, txId), endLsn - 8, true, events);
    }

    private void apply(PostgresSink sink, ChangeBatch batch) throws SQLException {
        TestChanges.deliver(sink, batch, slot, null);
    }

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

    private static void execute(String sql) throws SQLException {
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    /** A key-only old row, as pgoutput sends it when the key changed under REPLICA IDENTITY DEFAULT. */
    private static Row keyOnly(TableSchema t, Object... key) {
        Object[] values = new Object[t.size()];
        int[] positions = t.keyPositions();
        for (int i = 0; i < positions.length; i++) {
            values[positions[i]] = key[i];
        }
        return new Row(t, values);
    }

    @Test
    void aReplayedTransactionChangesNothing() throws SQLException {
        TableSchema t = table("replayed", "t", List.of("id"), col("id", "integer"), col("v", "text"));
        PostgresSink sink = sink();
        ChangeBatch first = tx(0x1000, 700, insert(row(t, 1, "a")), insert(row(t, 2, "b")));
        ChangeBatch second = tx(0x2000, 701, update(null, row(t, 1, "a2")), delete(keyOnly(t, 2)));
        apply(sink, first);
        apply(sink, second);
        assertThat(rows("SELECT * FROM replayed.t ORDER BY id")).containsExactly("1|a2");
        assertThat(sink.positions().load("slot:" + slot)).contains("0/2000");

        // the slot resends from an older confirmed position after a crash; a new sink instance, as after a restart
        PostgresSink restarted = sink();
        apply(restarted, first);
        assertThat(rows("SELECT * FROM replayed.t ORDER BY id")).containsExactly("1|a2");
        apply(restarted, second);
        assertThat(rows("SELECT * FROM replayed.t ORDER BY id")).containsExactly("1|a2");
        assertThat(restarted.positions().load("slot:" + slot)).contains("0/2000");

        // the next transaction is applied
        apply(restarted, tx(0x3000, 702, insert(row(t, 2, "b again"))));
        assertThat(rows("SELECT * FROM replayed.t ORDER BY id")).containsExactly("1|a2", "2|b again");
        assertThat(restarted.positions().load("slot:" + slot)).contains("0/3000");
    }

    @Test
    void aTransactionInThreePartsReplayedWholeAfterACrashConverges() throws SQLException {
        TableSchema t = table("parts", "t", List.of("id"), col("id", "integer"), col("v", "text"), col("body", "text"));
        String big = "B".repeat(5000);
        long stored0 = 0x5000;
        PostgresSink sink = sink();
        apply(sink, tx(stored0, 10, insert(row(t, 7, "seven", big + "7")), insert(row(t, 8, "eight", big + "8"))));

        // one transaction: commit record at 0x5100, end at 0x5130; the next one's commit record starts right at 0x5130
        long record = 0x5100;
        Position.Log earlier = new Position.Log(record, 11, T0);
        Position.Log end = new Position.Log(0x5130, 11, T0);
        ChangeBatch p0 = part(earlier, record, false, insert(row(t, 1, "one", "x")), insert(row(t, 2, "two", "y")),
                insert(row(t, 3, "three", "z")));
        ChangeBatch p1 = part(earlier, record, false, update(null, row(t, 1, "uno", null), Set.of("body")), delete(keyOnly(t, 2)),
                update(keyOnly(t, 7), row(t, 70, "seventy", null), Set.of("body")));
        ChangeBatch p2 = part(end, record, true, insert(row(t, 2, "dos", "w")), update(keyOnly(t, 3), row(t, 30, "thirty", "zz")),
                update(null, row(t, 70, "setenta", null), Set.of("body")));
        apply(sink, p0);
        apply(sink, p1);
        assertThat(sink.positions().load("slot:" + slot)).contains("0/5100");
        List<String> expected = List.of("1|uno|x", "2|dos|w", "8|eight|" + big + "8", "30|thirty|zz", "70|setenta|" + big + "7");

        // crash before p2: the slot sends the whole transaction again to a restarted sink
        PostgresSink restarted = sink();
        apply(restarted, p0);
        apply(restarted, p1);
        apply(restarted, p2);
        assertThat(rows("SELECT id, v, body FROM parts.t ORDER BY id")).isEqualTo(expected);
        assertThat(restarted.positions().load("slot:" + slot)).contains("0/5130");

        // the next transaction's first part carries the LSN just stored (its commit record starts there): applied
        Position.Log next = new Position.Log(0x5130, 12, T0);
        apply(restarted, part(next, 0x5130, false, insert(row(t, 4, "four", "q")), update(null, row(t, 1, "later", "x"))));
        apply(restarted, part(new Position.Log(0x5160, 12, T0), 0x5130, true, insert(row(t, 5, "five", "r"))));
        assertThat(rows("SELECT id, v FROM parts.t WHERE id IN (1, 4, 5) ORDER BY id")).containsExactly("1|later", "4|four", "5|five");
        assertThat(restarted.positions().load("slot:" + slot)).contains("0/5160");
        List<String> now = rows("SELECT id, v, body FROM parts.t ORDER BY id");

        // a later replay of the earlier transaction is skipped, every part of it
        apply(restarted, p0);
        apply(restarted, p1);
        apply(restarted, p2);
        assertThat(rows("SELECT id, v, body FROM parts.t ORDER BY id")).isEqualTo(now);
        assertThat(restarted.positions().load("slot:" + slot)).contains("0/5160");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void softDeleteMarksRowsAndAnUpsertRevivesThem(UpsertMethod method) throws SQLException {
        String schema = "soft_" + method.name().toLowerCase();
        TableSchema t = table(schema, "t", List.of("id"), col("id", "integer"), col("v", "text"), col("body", "text"));
        TableSchema onlyKey = table(schema, "k", List.of("id"), col("id", "integer"));
        TableSchema keyless = table(schema, "log", List.of(), col("msg", "text"));
        PostgresSink sink = sink(true, method);
        apply(sink, tx(0x100, 1, insert(row(t, 1, "a", "A")), insert(row(t, 2, "b", "B")), insert(row(t, 5, "e", "E")),
                insert(row(t, 6, "f", "F")), insert(row(onlyKey, 1)), insert(row(keyless, "m")), insert(row(keyless, "m"))));
        assertThat(rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '" + schema
                + ".t'::regclass AND attname = '_deleted_at'")).containsExactly("timestamp with time zone");

        apply(sink, tx(0x200, 2, delete(keyOnly(t, 1)), delete(keyOnly(t, 5)), delete(row(onlyKey, 1)), delete(row(keyless, "m"))));
        String deletedAt = "2024-05-06 07:16:41.123456+00"; // T0 + 0x200 seconds
        assertThat(rows("SELECT id, v, body, _deleted_at FROM " + schema + ".t ORDER BY id")).containsExactly(
                "1|a|A|" + deletedAt, "2|b|B|null", "5|e|E|" + deletedAt, "6|f|F|null");
        assertThat(rows("SELECT id, _deleted_at FROM " + schema + ".k")).containsExactly("1|" + deletedAt);
        assertThat(rows("SELECT msg, _deleted_at FROM " + schema + ".log ORDER BY _deleted_at NULLS LAST"))
                .containsExactly("m|" + deletedAt, "m|null");

        // the source inserts key 1 again; key 6 moves to the freed key 5, its body unchanged (not sent)
        apply(sink, tx(0x300, 3, insert(row(t, 1, "a2", "A2")), update(keyOnly(t, 6), row(t, 5, "f5", null), Set.of("body")),
                insert(row(onlyKey, 1))));
        assertThat(rows("SELECT id, v, body, _deleted_at FROM " + schema + ".t ORDER BY id")).containsExactly(
                "1|a2|A2|null", "2|b|B|null", "5|f5|F|null");
        assertThat(rows("SELECT id, _deleted_at FROM " + schema + ".k")).containsExactly("1|null");

        // a later delete marks the revived row with its own time; a replay of it changes nothing
        ChangeBatch again = tx(0x400, 4, delete(keyOnly(t, 1)));
        apply(sink, again);
        apply(sink(true, method), again);
        assertThat(rows("SELECT _deleted_at FROM " + schema + ".t WHERE id = 1")).containsExactly("2024-05-06 07:25:13.123456+00");
    }

    @Test
    void softDeleteAddsItsColumnToAnExistingTable() throws SQLException {
        TableSchema t = table("soft_late", "t", List.of("id"), col("id", "integer"));
        apply(sink(), tx(0x100, 1, insert(row(t, 1)), insert(row(t, 2))));
        apply(sink(true, UpsertMethod.COPY), tx(0x200, 2, delete(keyOnly(t, 2))));
        assertThat(rows("SELECT id, _deleted_at IS NOT NULL FROM soft_late.t ORDER BY id")).containsExactly("1|f", "2|t");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void unchangedToastIsKeptOnUpdate(UpsertMethod method) throws SQLException {
        String schema = "toast_cdc_" + method.name().toLowerCase();
        TableSchema t = table(schema, "docs", List.of("id"), col("id", "integer"), col("title", "text"), col("body", "text"),
                col("meta", "jsonb"));
        String big = "t".repeat(20_000);
        PostgresSink sink = sink(false, method);
        apply(sink, tx(0x100, 1, insert(row(t, 1, "a", big, "{\"k\": 1}")), insert(row(t, 2, "b", big + "2", "{\"k\": 2}"))));
        // REPLICA IDENTITY DEFAULT, key unchanged: no old row; body and meta not sent
        apply(sink, tx(0x200, 2, update(null, row(t, 1, "a2", null, null), Set.of("body", "meta")),
                update(null, row(t, 2, "b2", null, "{\"k\": 3}"), Set.of("body"))));
        assertThat(rows("SELECT id, title, length(body), meta FROM " + schema + ".docs ORDER BY id"))
                .containsExactly("1|a2|20000|{\"k\": 1}", "2|b2|20001|{\"k\": 3}");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void aPrimaryKeyChangeRemovesTheOldKey(UpsertMethod method) throws SQLException {
        String schema = "pk_" + method.name().toLowerCase();
        TableSchema t = table(schema, "t", List.of("a", "b"), col("a", "integer"), col("b", "text"), col("v", "text"),
                col("body", "text"));
        String big = "p".repeat(9000);
        PostgresSink sink = sink(false, method);
        apply(sink, tx(0x100, 1, insert(row(t, 1, "x", "one", big + "1")), insert(row(t, 2, "y", "two", big + "2")),
                insert(row(t, 3, "z", "three", big + "3"))));
        apply(sink, tx(0x200, 2,
                // every column sent
                update(keyOnly(t, 1, "x"), row(t, 10, "x", "ten", "short")),
                // body unchanged (TOAST not sent): the row moves and keeps it
                update(keyOnly(t, 2, "y"), row(t, 2, "yy", "two2", null), Set.of("body")),
                // two key changes of the same row in one transaction
                update(keyOnly(t, 3, "z"), row(t, 4, "z", "four", null), Set.of("body")),
                update(keyOnly(t, 4, "z"), row(t, 5, "z", "five", null), Set.of("body"))));
        assertThat(rows("SELECT a, b, v, length(body) FROM " + schema + ".t ORDER BY a, b"))
                .containsExactly("2|yy|two2|9001", "5|z|five|9001", "10|x|ten|5");
    }

    @ParameterizedTest
    @EnumSource(UpsertMethod.class)
    void keylessTablesWithReplicaIdentityFull(UpsertMethod method) throws SQLException {
        String schema = "full_" + method.name().toLowerCase();
        TableSchema t = table(schema, "events", List.of(), col("kind", "text"), col("n", "integer"), col("doc", "json"),
                col("body", "text"));
        String big = "k".repeat(12_000);
        PostgresSink sink = sink(false, method);
        Row a = row(t, "a", 1, "{\"x\":  1}", big);
        Row b = row(t, "b", 2, null, "short");
        apply(sink, tx(0x100, 1, insert(a), insert(a), insert(b), insert(row(t, "c", 3, "[]", big))));
        // REPLICA IDENTITY FULL: the old row is complete; unchanged TOAST of the new row comes from it
        apply(sink, tx(0x200, 2,
                update(b, row(t, "b", 20, null, "short2")),
                delete(a),
                update(row(t, "c", 3, "[]", big), row(t, "c", 30, "[]", null), Set.of("body"))));
        assertThat(rows("SELECT kind, n, doc, length(body) FROM " + schema + ".events ORDER BY kind, n"))
                .containsExactly("a|1|{\"x\":  1}|12000", "b|20|null|6", "c|30|[]|12000");
    }

    @Test
    void aColumnAddedMidStreamIsAddedBeforeItsRows() throws SQLException {
        TableSchema v1 = table("grow_cdc", "t", List.of("id"), col("id", "integer"), col("a", "text"));
        TableSchema v2 = table("grow_cdc", "t", List.of("id"), col("id", "integer"), col("a", "text"), col("b", "numeric(10,2)"));
        TableSchema v3 = table("grow_cdc", "t", List.of("id"), col("id", "integer"), col("a", "text"), col("b", "numeric(10,2)"),
                col("c", "text[]"));
        PostgresSink sink = sink();
        apply(sink, tx(0x100, 1, insert(row(v1, 1, "one"))));
        // ALTER TABLE ADD COLUMN at the source: the next transaction carries a new schema instance, old rows with the old one
        apply(sink, tx(0x200, 2, update(null, row(v1, 1, "uno")), insert(row(v2, 2, "two", new BigDecimal("2.50")))));
        assertThat(rows("SELECT * FROM grow_cdc.t ORDER BY id")).containsExactly("1|uno|null", "2|two|2.50");

        // a restarted sink meets the existing table with a newer schema
        PostgresSink restarted = sink();
        apply(restarted, tx(0x300, 3, insert(row(v3, 3, "three", null, "{x,y}")), update(null, row(v2, 2, "dos", new BigDecimal("2.75")))));
        assertThat(rows("SELECT * FROM grow_cdc.t ORDER BY id")).containsExactly("1|uno|null|null", "2|dos|2.75|null", "3|three|null|{x,y}");
    }

    @Test
    void anIncompatibleTypeChangeStopsWithTheFix() throws SQLException {
        TableSchema v1 = table("retype", "t", List.of("id"), col("id", "integer"), col("v", "integer"));
        TableSchema v2 = table("retype", "t", List.of("id"), col("id", "integer"), col("v", "text"));
        PostgresSink sink = sink();
        apply(sink, tx(0x100, 1, insert(row(v1, 1, 5))));
        ChangeBatch changed = tx(0x200, 2, insert(row(v2, 2, "not a number")));

        assertThatThrownBy(() -> apply(sink, changed))
                .isInstanceOf(SchemaChangeException.class)
                .hasMessageContaining("column \"v\" of \"retype\".\"t\" from integer to text")
                .hasMessageContaining("ALTER TABLE \"retype\".\"t\" ALTER COLUMN \"v\" TYPE text")
                .hasMessageContaining("sync.resnapshot");
        assertThat(rows("SELECT * FROM retype.t")).containsExactly("1|5");
        assertThat(sink.positions().load("slot:" + slot)).contains("0/100");

        // the fix: the user changes the destination column; the same batch goes through
        execute("ALTER TABLE retype.t ALTER COLUMN v TYPE text");
        apply(sink, changed);
        assertThat(rows("SELECT * FROM retype.t ORDER BY id")).containsExactly("1|5", "2|not a number");
    }

    @Test
    void allowedWideningsAlterTheDestinationColumn() throws SQLException {
        TableSchema v1 = table("widen", "t", List.of("id"), col("id", "smallint"), col("n", "integer"), col("s", "character varying(5)"),
                col("d", "numeric(5,2)"), col("w", "character varying(10)"), col("arr", "integer[]"), col("narrow", "character varying(10)"));
        TableSchema v2 = table("widen", "t", List.of("id"), col("id", "integer"), col("n", "bigint"), col("s", "character varying(12)"),
                col("d", "numeric(9,3)"), col("w", "text"), col("arr", "bigint[]"), col("narrow", "character varying(3)"));
        PostgresSink sink = sink();
        apply(sink, tx(0x100, 1, insert(row(v1, 1, 7, "abcde", new BigDecimal("123.45"), "ten chars!", "{1,2}", "0123456789"))));
        apply(sink, tx(0x200, 2, insert(row(v2, 40_000, 5_000_000_000L, "twelve chars", new BigDecimal("123456.789"),
                "x".repeat(50), "{3000000000}", "abc"))));

        assertThat(rows("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'widen.t'::regclass"
                + " AND attnum > 0 ORDER BY attnum")).containsExactly("id|integer", "n|bigint", "s|character varying(12)",
                "d|numeric(9,3)", "w|text", "arr|bigint[]", "narrow|character varying(10)");
        assertThat(rows("SELECT id, n, s, d, length(w), arr, narrow FROM widen.t ORDER BY id")).containsExactly(
                "1|7|abcde|123.450|10|{1,2}|0123456789", "40000|5000000000|twelve chars|123456.789|50|{3000000000}|abc");
    }

    @Test
    void truncateEmptiesTheTableInsideTheTransaction() throws SQLException {
        TableSchema t = table("trunc_cdc", "t", List.of("id"), col("id", "integer"));
        PostgresSink sink = sink();
        apply(sink, tx(0x100, 1, insert(row(t, 1)), insert(row(t, 2))));
        apply(sink, tx(0x200, 2, insert(row(t, 3)), truncate(t), insert(row(t, 4))));
        assertThat(rows("SELECT id FROM trunc_cdc.t")).containsExactly("4");
    }
}
