package io.pgsource.sink.mysql;

import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.delete;
import static io.pgsource.sink.TestChanges.deliver;
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
import io.pgsource.change.Position;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.reject.DestinationErrors;
import io.pgsource.testsupport.TestMariaDb;
import io.pgsource.types.Bytes;
import io.pgsource.types.Interval;
import io.pgsource.types.Json;
import io.pgsource.types.PgArray;
import io.pgsource.types.Special;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The mysql destination against a real MariaDB (skipped with a message when none runs, see {@link TestMariaDb}): the
 * type mapping and the values MySQL cannot hold as such, upserts, deletes, truncates, keyless tables, key changes with
 * unchanged TOAST values, added columns, the position in the batch's transaction, replays skipped.
 */
class MySqlSinkTest {
    private static TestMariaDb mysql;
    private static String db;
    private final List<MySqlSink> sinks = new ArrayList<>();

    @BeforeAll
    static void database() throws SQLException {
        mysql = TestMariaDb.server();
        db = mysql.createDatabase("pgsource_sink_test");
    }

    @AfterAll
    static void drop() throws SQLException {
        if (mysql != null) {
            mysql.dropDatabase(db);
        }
    }

    @AfterEach
    void stop() {
        sinks.forEach(MySqlSink::close);
    }

    private MySqlSink sink(String url) {
        MySqlSink s = new MySqlSink(new DestinationSettings("mysql", url, mysql.user, mysql.password, null, null));
        sinks.add(s);
        return s;
    }

    private MySqlSink sink() {
        return sink(mysql.url(db));
    }

    private static Position.Log at(long lsn) {
        return new Position.Log(lsn, lsn, OffsetDateTime.of(2024, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC));
    }

    @Test
    void everyTypeGetsItsDocumentedColumnAndValue() throws Exception {
        TableSchema t = table("public", "types", List.of("id"),
                col("id", "integer"), col("b", "boolean"), col("s", "smallint"), col("big", "bigint"), col("r", "real"),
                col("d", "double precision"), col("n", "numeric(12,2)"), col("huge", "numeric(70,0)"), col("free", "numeric"),
                col("v", "character varying(20)"), col("long_v", "character varying(1000)"), col("txt", "text"),
                col("day", "date"), col("ts", "timestamp without time zone"), col("tstz", "timestamp with time zone"),
                col("tm", "time without time zone"), col("ttz", "time with time zone"), col("iv", "interval"),
                col("arr", "integer[]"), col("rng", "int4range"), col("j", "jsonb"), col("u", "uuid"), col("bin", "bytea"),
                col("mood", "public.mood", "text"));
        OffsetDateTime tstz = OffsetDateTime.of(2024, 5, 6, 9, 8, 9, 123_456_000, ZoneOffset.ofHours(2));
        UUID uuid = UUID.fromString("123e4567-e89b-12d3-a456-426614174000");
        String huge = "1" + "0".repeat(69);
        deliver(sink(), batch(page("public.types", "b1"),
                read(row(t, 1, true, (short) 7, 9_000_000_000L, 1.5f, 2.25d, new BigDecimal("1234.50"), new BigDecimal(huge),
                        new BigDecimal("3.14159265358979323846264338327950288419716939937510"), "short", "x".repeat(1000), "text ✓",
                        LocalDate.of(2024, 2, 29), LocalDateTime.of(2024, 2, 29, 23, 59, 59, 999_999_000), tstz, LocalTime.of(12, 30),
                        java.time.OffsetTime.of(1, 2, 3, 0, ZoneOffset.ofHours(-5)), new Interval(14, 3, 4_000_000L),
                        PgArray.of(List.of(1, 2, 3)), "[1,10)", new Json("{\"a\": [1, 2]}"), uuid, Bytes.of(new byte[] {0, 1, (byte) 255}), "happy")),
                read(row(t, 2, false, null, null, null, null, null, null, null, null, null, null,
                        Special.INFINITY, Special.INFINITY, Special.NEGATIVE_INFINITY, null, null, null, null, null, null, null, null, null))),
                null, null);

        try (Connection c = mysql.connect(db); Statement s = c.createStatement()) {
            assertThat(columnTypes(s, "types")).containsExactly("int", "tinyint(1)", "smallint", "bigint", "float", "double",
                    "decimal(12,2)", "longtext", "longtext", "varchar(20)", "longtext", "longtext", "date", "datetime(6)", "datetime(6)",
                    "time(6)", "longtext", "longtext", "longtext", "longtext", "longtext", "char(36)", "longblob", "longtext");
            try (ResultSet rs = s.executeQuery("SELECT b, s, big, r, d, n, huge, free, v, long_v, txt, CAST(day AS CHAR), CAST(ts AS CHAR),"
                    + " CAST(tstz AS CHAR), CAST(tm AS CHAR), ttz, iv, arr, rng, j, u, HEX(bin), mood FROM types WHERE id = 1")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getInt(1)).isEqualTo(1);
                assertThat(rs.getInt(2)).isEqualTo(7);
                assertThat(rs.getLong(3)).isEqualTo(9_000_000_000L);
                assertThat(rs.getFloat(4)).isEqualTo(1.5f);
                assertThat(rs.getDouble(5)).isEqualTo(2.25d);
                assertThat(rs.getBigDecimal(6)).isEqualTo(new BigDecimal("1234.50"));
                assertThat(rs.getString(7)).isEqualTo(huge);
                assertThat(rs.getString(8)).isEqualTo("3.14159265358979323846264338327950288419716939937510");
                assertThat(rs.getString(9)).isEqualTo("short");
                assertThat(rs.getString(10)).hasSize(1000);
                assertThat(rs.getString(11)).isEqualTo("text ✓");
                assertThat(rs.getString(12)).isEqualTo("2024-02-29");
                assertThat(rs.getString(13)).isEqualTo("2024-02-29 23:59:59.999999");
                assertThat(rs.getString(14)).as("timestamptz in UTC").isEqualTo("2024-05-06 07:08:09.123456");
                assertThat(rs.getString(15)).isEqualTo("12:30:00.000000");
                assertThat(rs.getString(16)).isEqualTo("01:02:03-05:00");
                assertThat(rs.getString(17)).as("interval in ISO 8601").isEqualTo("P1Y2M3DT4S");
                assertThat(rs.getString(18)).isEqualTo("{1,2,3}");
                assertThat(rs.getString(19)).isEqualTo("[1,10)");
                assertThat(rs.getString(20)).isEqualTo("{\"a\": [1, 2]}");
                assertThat(rs.getString(21)).isEqualTo(uuid.toString());
                assertThat(rs.getString(22)).isEqualTo("0001FF");
                assertThat(rs.getString(23)).isEqualTo("happy");
            }
            try (ResultSet rs = s.executeQuery("SELECT CAST(day AS CHAR), CAST(ts AS CHAR), CAST(tstz AS CHAR) FROM types WHERE id = 2")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).as("date infinity").isEqualTo("9999-12-31");
                assertThat(rs.getString(2)).as("timestamp infinity").isEqualTo("9999-12-31 23:59:59.999999");
                assertThat(rs.getString(3)).as("timestamptz -infinity").isEqualTo("0001-01-01 00:00:00.000000");
            }
        }
    }

    @Test
    void aValueTheColumnCannotHoldStopsTheBatchWithTheFixAndATextColumnTakesIt() throws Exception {
        TableSchema t = table("public", "odd_values", List.of("id"), col("id", "integer"), col("day", "date"), col("d", "double precision"));
        TableSchema other = table("public", "odd_other", List.of("id"), col("id", "integer"));
        MySqlSink sink = sink();
        deliver(sink, batch(at(100), insert(row(t, 1, LocalDate.of(2000, 1, 1), 1.0d))), "odd", null);
        ChangeBatch bc = batch(at(200), insert(row(other, 7)), insert(row(t, 2, LocalDate.of(-43, 3, 15), 1.0d)));
        assertThatThrownBy(() -> deliver(sink, bc, "odd", null))
                .isInstanceOf(ValueNotHeldException.class)
                .hasMessageContaining("`day`").hasMessageContaining("0044-03-15 BC").hasMessageContaining("VARCHAR(64)")
                .satisfies(e -> assertThat(DestinationErrors.permanent(e)).as("pgsource stops with it, no retry").isTrue());
        assertThatThrownBy(() -> deliver(sink, batch(at(200), insert(row(t, 3, null, Double.NaN))), "odd", null))
                .isInstanceOf(ValueNotHeldException.class).hasMessageContaining("NaN");
        try (Connection c = mysql.connect(db); Statement s = c.createStatement()) {
            assertThat(count(s, "odd_other")).as("the batch's other rows rolled back with it").isZero();
            assertThat(position(s, "slot:odd")).as("its position not stored").isEqualTo("0/64");
            // the fix: the column as text, which receives PostgreSQL's text form
            s.execute("ALTER TABLE odd_values MODIFY day VARCHAR(64), MODIFY d VARCHAR(64)");
        }
        MySqlSink fixed = sink();
        deliver(fixed, bc, "odd", null);
        deliver(fixed, batch(at(300), insert(row(t, 3, LocalDate.of(2001, 1, 1), Double.NaN))), "odd", null);
        try (Connection c = mysql.connect(db); Statement s = c.createStatement()) {
            assertThat(strings(s, "SELECT CONCAT(id, ' ', day, ' ', d) FROM odd_values ORDER BY id"))
                    .containsExactly("1 2000-01-01 1", "2 0044-03-15 BC 1.0", "3 2001-01-01 NaN");
            assertThat(count(s, "odd_other")).isEqualTo(1);
        }
    }

    @Test
    void changesApplyAsTheSourceMadeThemAndAReplayChangesNothing() throws Exception {
        TableSchema t = table("public", "cdc", List.of("id"), col("id", "integer"), col("name", "text"), col("note", "text"));
        TableSchema log = table("public", "cdc_log", List.of(), col("msg", "text"), col("n", "integer"), col("r", "real"));
        TableSchema gone = table("public", "cdc_gone", List.of("id"), col("id", "integer"));
        MySqlSink sink = sink();
        List<ChangeBatch> batches = List.of(
                batch(at(100), insert(row(t, 1, "one", "big toast")), insert(row(t, 2, "two", null)), insert(row(t, 3, "three", null)),
                        insert(row(log, "a", 1, 4.6666665f)), insert(row(log, "a", 1, 4.6666665f)), insert(row(log, "b", 2, 0.1f)),
                        insert(row(gone, 1)), insert(row(gone, 2))),
                batch(at(200), update(null, row(t, 1, "uno", null), Set.of("note")), delete(row(t, 2, null, null)),
                        delete(row(log, "a", 1, 4.6666665f)),
                        // a key change of a row whose TOASTed note was not sent: moved, note kept
                        update(row(t, 1, null, null), row(t, 10, "ten", null), Set.of("note"))),
                batch(at(300), insert(row(t, 4, "four", "x")), delete(row(log, "a", 1, 4.6666665f)), truncate(gone), insert(row(gone, 3)),
                        insert(row(log, "c", 3, 0.1f)), insert(row(log, "d", 4, 0.1f)), delete(row(log, "c", 3, 0.1f))));
        for (ChangeBatch b : batches) {
            deliver(sink, b, "cdc", null);
        }
        for (ChangeBatch b : batches) {
            deliver(sink, b, "cdc", null); // the slot resends after a crash: skipped
        }
        MySqlSink restarted = sink();
        for (ChangeBatch b : batches) {
            deliver(restarted, b, "cdc", null);
        }
        try (Connection c = mysql.connect(db); Statement s = c.createStatement()) {
            assertThat(strings(s, "SELECT CONCAT_WS('|', id, name, IFNULL(note, 'NULL')) FROM cdc ORDER BY id"))
                    .containsExactly("3|three|NULL", "4|four|x", "10|ten|big toast");
            assertThat(strings(s, "SELECT CONCAT(msg, n) FROM cdc_log ORDER BY msg")).as("each delete removed one equal row, real values too")
                    .containsExactly("b2", "d4");
            assertThat(strings(s, "SELECT id FROM cdc_gone")).as("truncated (as DELETE, inside the transaction), then one insert")
                    .containsExactly("3");
            assertThat(position(s, "slot:cdc")).isEqualTo("0/12C");
        }
    }

    @Test
    void aTransactionInPartsIsAppliedOnceWhateverItsPartsAreAfterARestart() throws Exception {
        TableSchema log = table("public", "parts_log", List.of(), col("n", "integer"));
        Position.Log commit = at(500);
        List<ChangeEvent> events = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            events.add(new ChangeEvent(io.pgsource.change.Op.INSERT, log, null, row(log, i), Set.of(), new Position.Log(480, 500, null)));
        }
        MySqlSink sink = sink();
        // first run: parts of 2, crash after the second part
        deliver(sink, new ChangeBatch(events.subList(0, 2), new Position.Log(480, 500, null), false), "parts", 0L);
        deliver(sink, new ChangeBatch(events.subList(2, 4), new Position.Log(480, 500, null), false), "parts", 2L);
        // after the restart: parts of 3
        MySqlSink again = sink();
        deliver(again, new ChangeBatch(events.subList(0, 3), new Position.Log(480, 500, null), false), "parts", 0L);
        deliver(again, new ChangeBatch(events.subList(3, 6), commit, true), "parts", 3L);
        try (Connection c = mysql.connect(db); Statement s = c.createStatement()) {
            assertThat(strings(s, "SELECT n FROM parts_log ORDER BY n")).containsExactly("0", "1", "2", "3", "4", "5");
        }
    }

    @Test
    void columnsTheSourceAddsAreAddedAndKeysKeepCaseAndTrailingSpaces() throws Exception {
        TableSchema v1 = table("public", "grows", List.of("k"), col("k", "text"), col("a", "integer"));
        TableSchema v2 = table("public", "grows", List.of("k"), col("k", "text"), col("a", "integer"), col("b", "numeric(5,1)"));
        MySqlSink sink = sink();
        deliver(sink, batch(page("public.grows", "p1"), read(row(v1, "a", 1)), read(row(v1, "A", 2)), read(row(v1, "a ", 3))), null, null);
        deliver(sink, batch(at(100), insert(row(v2, "b", 4, new BigDecimal("1.5"))), update(null, row(v2, "a", 5, new BigDecimal("2.0")))), "grows", null);
        try (Connection c = mysql.connect(db); Statement s = c.createStatement()) {
            assertThat(strings(s, "SELECT CONCAT('[', k, ']', a, IFNULL(b, '-')) FROM grows ORDER BY k"))
                    .containsExactlyInAnyOrder("[A]2-", "[a]52.0", "[a ]3-", "[b]41.5");
            assertThat(position(s, "public.grows")).isEqualTo("p1");
        }
    }

    @Test
    void jdbcMysqlUrlsUseTheSameDriverAndOtherUrlsAreRefusedWithTheFix() throws Exception {
        TableSchema t = table("public", "via_mysql_url", List.of("id"), col("id", "integer"));
        deliver(sink("jdbc:mysql://" + mysql.host + ":" + mysql.port + "/" + db), batch(at(100), insert(row(t, 1))), "url", null);
        try (Connection c = mysql.connect(db); Statement s = c.createStatement()) {
            assertThat(count(s, "via_mysql_url")).isEqualTo(1);
        }
        assertThatThrownBy(() -> sink("jdbc:postgresql://localhost/x")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("jdbc:mariadb://host:3306/database");
        assertThatThrownBy(() -> new MySqlSink(new DestinationSettings("mysql", mysql.url(db), mysql.user, "", null, null, true)))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("soft_delete");
    }

    @Test
    void aWrongPasswordStopsTheStartWithTheFixAndWithoutThePassword() {
        MySqlSink wrong = new MySqlSink(new DestinationSettings("mysql", mysql.url(db), "pgsource_no_such_user", "hunter2-secret", null, null));
        sinks.add(wrong);
        assertThatThrownBy(wrong::checkConnection).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("cannot connect to the destination jdbc:mariadb://")
                .hasMessageContaining("check destination.username and destination.password")
                .hasMessageNotContaining("hunter2-secret");
    }

    @Test
    void aKeyOfTextColumnsFitsTheIndex() throws Exception {
        Column[] columns = {col("a", "text"), col("b", "character varying(2000)"), col("c", "bytea"), col("v", "text")};
        TableSchema t = table("public", "text_key", List.of("a", "b", "c"), columns);
        assertThat(MySqlTables.types(t)).containsExactly("VARCHAR(256)", "VARCHAR(256)", "VARBINARY(1024)", "LONGTEXT");
        deliver(sink(), batch(at(100), insert(row(t, "x".repeat(256), "y", Bytes.of(new byte[] {1}), "v"))), "key", null);
        assertThatThrownBy(() -> deliver(sink(), batch(at(200), insert(row(t, "x".repeat(257), "y", Bytes.of(new byte[] {1}), "v"))),
                "key", null)).hasMessageContaining("Data too long");
    }

    @Test
    void rowsTogetherBeyondMaxAllowedPacketGoInSeveralStatements() throws Exception {
        TableSchema t = table("public", "big_rows", List.of("id"), col("id", "integer"), col("body", "text"));
        long packet;
        try (Connection c = mysql.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @@max_allowed_packet")) {
            rs.next();
            packet = rs.getLong(1);
        }
        int size = 256 * 1024;
        int rows = (int) Math.min(400, 2 * packet / size + 2); // more than one packet holds, not beyond 100 MB
        List<ChangeEvent> events = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            events.add(read(row(t, i, Character.toString('a' + i % 26).repeat(size))));
        }
        deliver(sink(), batch(page("public.big_rows", "p"), events.toArray(ChangeEvent[]::new)), null, null);
        try (Connection c = mysql.connect(db); Statement s = c.createStatement()) {
            assertThat(strings(s, "SELECT CONCAT(COUNT(*), ' ', SUM(LENGTH(body))) FROM big_rows")).containsExactly(rows + " " + (long) rows * size);
        }
    }

    private static List<String> columnTypes(Statement s, String table) throws SQLException {
        // MySQL 8 prints no display width of integer types, MariaDB does
        return strings(s, "SELECT REGEXP_REPLACE(COLUMN_TYPE, '^(smallint|int|bigint)\\\\(\\\\d+\\\\)$', '\\\\1') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '"
                + table + "' ORDER BY ORDINAL_POSITION");
    }

    private static List<String> strings(Statement s, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    private static long count(Statement s, String table) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String position(Statement s, String stream) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT position FROM _pgsource_positions WHERE stream = '" + stream + "'")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }
}
