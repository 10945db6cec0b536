package io.pgsource.types;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import io.pgsource.testsupport.TestPostgres;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;

/**
 * Per type: edge values inserted as SQL literals are read with getString under {@link SessionSettings}, decoded
 * (asserting the exact canonical value where given), formatted back with {@link PgText}, written to a second table
 * through {@code ?::type} bind parameters and to a third through COPY, and all three tables must then hold the
 * same values: same text output, and equal under the type's own equality where it has one. The copies decode to
 * equal canonical values, and every value writes valid JSON.
 */
class TypeRoundTripTest {
    private static final Object UNCHECKED = new Object();
    private static final AtomicInteger TABLES = new AtomicInteger();

    private static Connection conn;
    private static TypeRegistry registry;

    @BeforeAll
    static void setUp() throws SQLException {
        TestPostgres pg = TestPostgres.server();
        String db = pg.createDatabase("types_roundtrip");
        conn = connect(pg, db);
        try (Statement s = conn.createStatement()) {
            s.execute("CREATE EXTENSION hstore");
            s.execute("CREATE EXTENSION citext");
            s.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'with \"quote')");
            s.execute("CREATE DOMAIN posnum AS numeric(10,2) CHECK (VALUE > 0)");
            s.execute("CREATE DOMAIN posnum2 AS posnum");
            s.execute("CREATE DOMAIN intarr AS int[]");
            s.execute("CREATE TYPE comp AS (a int, b text, c numeric)");
        }
        registry = TypeRegistry.load(conn);
    }

    @AfterAll
    static void tearDown() throws SQLException {
        if (conn != null) {
            conn.close();
        }
    }

    static Connection connect(TestPostgres pg, String db) throws SQLException {
        Properties p = SessionSettings.jdbcProperties();
        p.setProperty("user", pg.user());
        p.setProperty("password", pg.password());
        Connection c = DriverManager.getConnection(pg.jdbcUrl(db), p);
        SessionSettings.apply(c);
        return c;
    }

    static Stream<Case> cases() {
        return cases(serverVersion()).stream();
    }

    /** The cases for a server of this server_version_num (shared with the binary-mode exactness test). */
    static List<Case> cases(int serverVersion) {
        boolean numericInfinity = serverVersion >= 140000; // numeric ±Infinity came with PostgreSQL 14
        boolean hugeIntervalInput = serverVersion >= 150000; // before 15, interval input overflows past 2^31 hours
        List<Case> cases = new ArrayList<>(List.of(
                type("smallint").v("-32768", (short) -32768).v("32767", (short) 32767).v("0", (short) 0),
                type("integer").v("-2147483648", Integer.MIN_VALUE).v("2147483647", Integer.MAX_VALUE).v("-1", -1),
                type("bigint").v("-9223372036854775808", Long.MIN_VALUE).v("9223372036854775807", Long.MAX_VALUE),
                type("oid").v("0", 0L).v("4294967295", 4294967295L),
                type("xid").v("'4294967295'", 4294967295L),
                type("real").v("'NaN'", Float.NaN).v("'Infinity'", Float.POSITIVE_INFINITY).v("'-Infinity'", Float.NEGATIVE_INFINITY)
                        .v("'1e-45'", Float.MIN_VALUE).v("'3.4028235e38'", Float.MAX_VALUE).v("'0.1'", 0.1f).v("'-0'", -0.0f)
                        .v("'1.17549435e-38'", Float.MIN_NORMAL),
                type("double precision").v("'NaN'", Double.NaN).v("'Infinity'", Double.POSITIVE_INFINITY)
                        .v("'-Infinity'", Double.NEGATIVE_INFINITY).v("'1e-310'", 1e-310).v("'4.9e-324'", Double.MIN_VALUE)
                        .v("'1.7976931348623157e308'", Double.MAX_VALUE).v("'0.1'", 0.1).v("'-0'", -0.0).v("'123456.789'", 123456.789),
                type("numeric").v("'1.50'", new BigDecimal("1.50")).v("'0'", BigDecimal.ZERO).v("'-0.000'", new BigDecimal("0.000"))
                        .v("'NaN'", Special.NAN).v(numericInfinity, "'Infinity'", Special.INFINITY)
                        .v(numericInfinity, "'-Infinity'", Special.NEGATIVE_INFINITY)
                        .v("'1e-20'", new BigDecimal("0.00000000000000000001")).v("'1e20'", new BigDecimal("100000000000000000000"))
                        .v("(repeat('9', 600) || '.' || repeat('1', 400))::numeric",
                                new BigDecimal("9".repeat(600) + "." + "1".repeat(400)))
                        .v("'-12345678901234567890.123456789'", new BigDecimal("-12345678901234567890.123456789")),
                type("numeric(12,2)").v("'1.5'", new BigDecimal("1.50")).v("'-9999999999.99'", new BigDecimal("-9999999999.99")),
                type("money").v("'1234.56'", new BigDecimal("1234.56")).v("'-1234.56'", new BigDecimal("-1234.56"))
                        .v("'0'", new BigDecimal("0.00")).v("'92233720368547758.07'", new BigDecimal("92233720368547758.07"))
                        .v("'-92233720368547758.08'", new BigDecimal("-92233720368547758.08")),
                type("boolean").v("true", true).v("false", false),
                type("text").v("''", "").v("'é中文😀'", "é中文😀").v("'NULL'", "NULL")
                        .v("E'quote \" apostrophe '' backslash \\\\ newline \\n tab \\t cr \\r end'",
                                "quote \" apostrophe ' backslash \\ newline \n tab \t cr \r end")
                        .v("E'\\\\N'", "\\N").v("'  padded  '", "  padded  ")
                        .v("E'ctl \\x01\\x02\\x08\\x0b\\x0c\\x1f\\x7f end'", "ctl \u0001\u0002\b\u000b\f\u001f\u007f end"),
                type("varchar(10)").v("'abc'", "abc"),
                type("character(5)").v("'ab'", "ab   "),
                type("name").v("'pg_name'", "pg_name"),
                type("\"char\"").v("'x'", "x"),
                type("citext").v("'MiXeD'", "MiXeD"),
                type("xml").v("'<a b=\"c\">é &amp; x</a>'", "<a b=\"c\">é &amp; x</a>"),
                type("mood").v("'happy'", "happy").v("'with \"quote'", "with \"quote"),
                type("bytea").v("'\\x'", Bytes.of(new byte[0])).v("'\\x00ff'", Bytes.of(new byte[] {0, (byte) 0xff}))
                        .v("'\\x5c0a0d09'", Bytes.of(new byte[] {'\\', '\n', '\r', '\t'})),
                type("uuid").v("'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
                type("json").v("'{\"a\": \"é\\u00e9\", \"b\": [1, 2.50, 1e400], \"a\": null}'",
                                new Json("{\"a\": \"é\\u00e9\", \"b\": [1, 2.50, 1e400], \"a\": null}"))
                        .v("E'{\"x\":\\n 1}'", new Json("{\"x\":\n 1}")).v("'\"\\\\u0000\"'", UNCHECKED),
                type("jsonb").v("'{\"b\": [1, 2.50], \"a\": \"é\\u00e9 \\\"q\\\"\"}'", new Json("{\"a\": \"éé \\\"q\\\"\", \"b\": [1, 2.50]}"))
                        .v("'12345678901234567890.123456789'", new Json("12345678901234567890.123456789")),
                type("date").v("'0044-03-15 BC'", LocalDate.of(-43, 3, 15)).v("'infinity'", Special.INFINITY)
                        .v("'-infinity'", Special.NEGATIVE_INFINITY).v("'4713-01-01 BC'", LocalDate.of(-4712, 1, 1))
                        .v("'5874897-12-31'", LocalDate.of(5874897, 12, 31)).v("'2024-02-29'", LocalDate.of(2024, 2, 29))
                        .v("'0001-01-01'", LocalDate.of(1, 1, 1)).v("'0001-12-31 BC'", LocalDate.of(0, 12, 31)),
                type("time").v("'24:00:00'", LocalTime.MAX).v("'00:00:00'", LocalTime.MIDNIGHT)
                        .v("'23:59:59.999999'", LocalTime.of(23, 59, 59, 999_999_000)).v("'12:34:56.5'", LocalTime.of(12, 34, 56, 500_000_000)),
                type("time(2)").v("'12:34:56.789'", LocalTime.of(12, 34, 56, 790_000_000)),
                type("time with time zone").v("'24:00:00+05:30'", OffsetTime.of(LocalTime.MAX, ZoneOffset.ofHoursMinutes(5, 30)))
                        .v("'12:00:00+00:53:28'", OffsetTime.of(12, 0, 0, 0, ZoneOffset.ofHoursMinutesSeconds(0, 53, 28)))
                        .v("'12:00:00.000001-15:59:59'", OffsetTime.of(12, 0, 0, 1000, ZoneOffset.ofHoursMinutesSeconds(-15, -59, -59)))
                        .v("'00:00:00+00'", OffsetTime.of(0, 0, 0, 0, ZoneOffset.UTC)),
                type("timestamp").v("'0044-03-15 12:00:00.000001 BC'", LocalDateTime.of(-43, 3, 15, 12, 0, 0, 1000))
                        .v("'infinity'", Special.INFINITY).v("'-infinity'", Special.NEGATIVE_INFINITY)
                        .v("'294276-12-31 23:59:59.999999'", LocalDateTime.of(294276, 12, 31, 23, 59, 59, 999_999_000))
                        .v("'4713-01-01 00:00:00 BC'", LocalDateTime.of(-4712, 1, 1, 0, 0))
                        .v("'2024-01-01 00:00:00'", LocalDateTime.of(2024, 1, 1, 0, 0)),
                type("timestamp with time zone")
                        .v("'2024-01-01 12:00:00+05:30'", OffsetDateTime.of(2024, 1, 1, 6, 30, 0, 0, ZoneOffset.UTC))
                        .v("'2024-01-01 12:00:00.123456-08'", OffsetDateTime.of(2024, 1, 1, 20, 0, 0, 123_456_000, ZoneOffset.UTC))
                        .v("'1900-01-01 00:00:00+00:19:32'", OffsetDateTime.of(1899, 12, 31, 23, 40, 28, 0, ZoneOffset.UTC))
                        .v("'0044-03-15 12:00:00+01 BC'", OffsetDateTime.of(-43, 3, 15, 11, 0, 0, 0, ZoneOffset.UTC))
                        .v("'infinity'", Special.INFINITY).v("'-infinity'", Special.NEGATIVE_INFINITY)
                        .v("'294276-12-31 23:59:59.999999+00'", OffsetDateTime.of(294276, 12, 31, 23, 59, 59, 999_999_000, ZoneOffset.UTC)),
                type("interval").v("'P1Y2M3DT4H5M6.789S'", new Interval(14, 3, 14_706_789_000L))
                        .v("'1 year -2 months 3 days -04:05:06.789'", new Interval(10, 3, -14_706_789_000L))
                        .v("'0'", Interval.ZERO).v("'-1.5 seconds'", new Interval(0, 0, -1_500_000))
                        .v("'-0.000001 seconds'", new Interval(0, 0, -1))
                        .v(hugeIntervalInput, "'2562047788 hours 54.775807 seconds'", new Interval(0, 0, Long.MAX_VALUE))
                        .v(hugeIntervalInput, "'-2562047788 hours -54.775807 seconds'", new Interval(0, 0, -Long.MAX_VALUE))
                        .v("'178956970 years 7 months'", new Interval(Integer.MAX_VALUE, 0, 0))
                        .v("'-178956970 years -7 months -2147483648 days'", new Interval(-Integer.MAX_VALUE, Integer.MIN_VALUE, 0))
                        .v("'1000 hours 0.000001 sec'", new Interval(0, 0, 3_600_000_000_000L + 1)),
                type("hstore").v("'a=>1, \"b c\"=>NULL, \"q\\\"k\"=>\"v\\\\x\", \"\"=>\"\", x=>NULL'",
                                map("a", "1", "b c", null, "q\"k", "v\\x", "", "", "x", null))
                        .v("''", Map.of()).v("'\"NULL\"=>\"NULL\"'", map("NULL", "NULL")),
                type("inet").v("'192.168.0.1/24'", "192.168.0.1/24").v("'::1'", "::1"),
                type("cidr").v("'10.0.0.0/8'", "10.0.0.0/8"),
                type("macaddr").v("'08:00:2B:01:02:03'", "08:00:2b:01:02:03"),
                type("macaddr8").v("'08:00:2b:01:02:03:04:05'", "08:00:2b:01:02:03:04:05"),
                type("bit(4)").v("B'1010'", "1010"),
                type("bit varying").v("B''", "").v("B'10101'", "10101"),
                type("tsvector").v("'a fat cat''s'", UNCHECKED),
                type("tsquery").v("'fat & (rat | !cat)'", UNCHECKED),
                type("point").v("'(1,2)'", "(1,2)").v("'(1.5e300,-0.1)'", UNCHECKED),
                type("line").v("'{1,2,3}'", "{1,2,3}"),
                type("lseg").v("'[(0,0),(1,1)]'", "[(0,0),(1,1)]"),
                type("box").v("'(1,1),(0,0)'", "(1,1),(0,0)"),
                type("path").v("'[(0,0),(1,1),(2,0)]'", "[(0,0),(1,1),(2,0)]"),
                type("polygon").v("'((0,0),(1,1),(2,0))'", "((0,0),(1,1),(2,0))"),
                type("circle").v("'<(0,0),1.5>'", "<(0,0),1.5>"),
                type("int4range").v("'[1,5)'", "[1,5)").v("'empty'", "empty").v("'(,3]'", "(,4)"),
                type("numrange").v("'[1.50,2.5]'", "[1.50,2.5]"),
                type("tstzrange").v("'[2024-01-01 00:00+05:30,infinity)'", "[\"2023-12-31 18:30:00+00\",infinity)"),
                type("comp").v("ROW(1, 'x \"y\"', 1.50)::comp", "(1,\"x \"\"y\"\"\",1.50)").v("ROW(NULL, NULL, NULL)::comp", "(,,)"),
                type("pg_lsn").v("'16/B374D848'", "16/B374D848"),
                type("posnum").v("'1.5'", new BigDecimal("1.50")),
                type("posnum2").v("'2'", new BigDecimal("2.00")),
                type("intarr").v("'{1,NULL}'", Arrays.asList(1, null)),
                type("integer[]").v("'{1,2,3}'", List.of(1, 2, 3)).v("'[0:2]={1,2,3}'", List.of(1, 2, 3))
                        .v("'{{1,NULL},{3,4}}'", List.of(Arrays.asList(1, null), List.of(3, 4))).v("'{}'", List.of())
                        .v("'[0:1][-2:-1]={{1,2},{3,4}}'", List.of(List.of(1, 2), List.of(3, 4)))
                        .v("'{{{1},{2}},{{3},{NULL}}}'", List.of(List.of(List.of(1), List.of(2)), List.of(List.of(3), Arrays.asList((Object) null)))),
                type("text[]").v("'{{\"a b\",\"NULL\",NULL,\"x\\\"y\\\\z\",\"\"},{\"{\",\"}\",\",\",é,\" \"}}'",
                        List.of(Arrays.asList("a b", "NULL", null, "x\"y\\z", ""), List.of("{", "}", ",", "é", " ")))
                        .v("ARRAY[E'new\\nline', E'tab\\t', 'null', 'Null']", List.of("new\nline", "tab\t", "null", "Null")),
                type("box[]").v("'{(1,1),(0,0);(2,2),(1,1)}'", List.of("(1,1),(0,0)", "(2,2),(1,1)")),
                type("numeric[]").v(numericInfinity, "'{1.50,NaN,Infinity,-Infinity,NULL}'",
                        Arrays.asList(new BigDecimal("1.50"), Special.NAN, Special.INFINITY, Special.NEGATIVE_INFINITY, null))
                        .v("'{1.50,NaN,NULL}'", Arrays.asList(new BigDecimal("1.50"), Special.NAN, null)),
                type("double precision[]").v("'{NaN,-Infinity,1e-310,-0}'", List.of(Double.NaN, Double.NEGATIVE_INFINITY, 1e-310, -0.0)),
                type("date[]").v("'{0044-03-15 BC,infinity}'", List.of(LocalDate.of(-43, 3, 15), Special.INFINITY)),
                type("timestamp with time zone[]").v("'{\"2024-01-01 12:00:00+05:30\",-infinity}'",
                        List.of(OffsetDateTime.of(2024, 1, 1, 6, 30, 0, 0, ZoneOffset.UTC), Special.NEGATIVE_INFINITY)),
                type("interval[]").v("'{P1Y,PT-0.5S}'", List.of(new Interval(12, 0, 0), new Interval(0, 0, -500_000))),
                type("bytea[]").v("'{\"\\\\x00ff\",NULL}'", Arrays.asList(Bytes.of(new byte[] {0, (byte) 0xff}), null)),
                type("json[]").v("ARRAY['{\"a\": [1, \"}\"]}'::json, 'null'::json]", List.of(new Json("{\"a\": [1, \"}\"]}"), new Json("null"))),
                type("jsonb[]").v("ARRAY['{\"a\": \"\\\"\"}'::jsonb]", List.of(new Json("{\"a\": \"\\\"\"}"))),
                type("hstore[]").v("ARRAY['a=>NULL'::hstore, 'b=>\"c d\"']", List.of(map("a", null), map("b", "c d"))),
                type("mood[]").v("'{sad,\"with \\\"quote\"}'", List.of("sad", "with \"quote")),
                type("posnum[]").v("'{1.5,2}'", List.of(new BigDecimal("1.50"), new BigDecimal("2.00"))),
                type("int4range[]").v("'{\"[1,2)\",empty}'", List.of("[1,2)", "empty")),
                type("comp[]").v("ARRAY[ROW(1, 'a,b', NULL)::comp]", List.of("(1,\"a,b\",)")),
                type("uuid[]").v("'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", List.of(UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))),
                type("boolean[]").v("'{t,f,NULL}'", Arrays.asList(true, false, null)),
                type("character(3)[]").v("'{a,\"b \"}'", List.of("a  ", "b  ")),
                type("point[]").v("'{\"(1,2)\",\"(3,4)\"}'", List.of("(1,2)", "(3,4)")),
                type("time[]").v("'{24:00:00,00:00:00.5}'", List.of(LocalTime.MAX, LocalTime.of(0, 0, 0, 500_000_000))),
                type("oidvector").v("'1 2 3'", "1 2 3")));
        if (serverVersion >= 140000) {
            cases.add(type("int4multirange").v("'{[1,3), [5,7)}'", "{[1,3),[5,7)}"));
        }
        if (serverVersion >= 170000) {
            cases.add(type("interval").v("'infinity'", Special.INFINITY).v("'-infinity'", Special.NEGATIVE_INFINITY));
        }
        return cases;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void roundTrip(Case c) throws Exception {
        String src = "src_" + TABLES.incrementAndGet();
        String dst = src + "_bind";
        String cpy = src + "_copy";
        try (Statement s = conn.createStatement()) {
            for (String t : List.of(src, dst, cpy)) {
                s.execute("CREATE TABLE " + t + " (id int PRIMARY KEY, v " + c.type + ")");
            }
            for (int i = 0; i < c.literals.size(); i++) {
                s.execute("INSERT INTO " + src + " VALUES (" + i + ", " + c.literals.get(i) + ")");
            }
            s.execute("INSERT INTO " + src + " VALUES (" + c.literals.size() + ", NULL)");
        }
        int oid;
        String formatType;
        try (Statement s = conn.createStatement();
             ResultSet rs = s.executeQuery("SELECT atttypid, format_type(atttypid, atttypmod) FROM pg_attribute"
                     + " WHERE attrelid = '" + src + "'::regclass AND attname = 'v'")) {
            rs.next();
            oid = (int) rs.getLong(1);
            formatType = rs.getString(2);
        }
        List<Object> values = read(src, oid);
        // the batch query reads COPY's text output: parsed, it is exactly what getString gives
        assertThat(copyTexts(src)).as("%s read by COPY", c.type).isEqualTo(texts(src));

        for (int i = 0; i < c.literals.size(); i++) {
            Object expected = c.expected.get(i);
            if (expected != UNCHECKED) {
                assertThat(values.get(i)).as("%s %s", c.type, c.literals.get(i)).isEqualTo(expected);
                if (expected != null) {
                    assertThat(values.get(i)).as("class of %s", c.literals.get(i)).isInstanceOf(canonicalClass(expected));
                }
            }
        }
        assertThat(values.get(values.size() - 1)).isNull();

        try (PreparedStatement ps = conn.prepareStatement("INSERT INTO " + dst + " VALUES (?, ?::" + formatType + ")")) {
            for (int i = 0; i < values.size(); i++) {
                ps.setInt(1, i);
                ps.setString(2, PgText.format(values.get(i)));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        StringBuilder copy = new StringBuilder();
        for (int i = 0; i < values.size(); i++) {
            copy.append(i).append('\t').append(PgText.copyEscape(PgText.format(values.get(i)))).append('\n');
        }
        conn.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + cpy + " FROM STDIN", new StringReader(copy.toString()));

        for (String copied : List.of(dst, cpy)) {
            assertSameRows(src, copied);
            assertThat(read(copied, oid)).as("decoded %s", copied).isEqualTo(values);
        }
        for (Object v : values) {
            assertValidJson(v);
        }
    }

    private static List<String> texts(String table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT id, v FROM " + table + " ORDER BY id")) {
            while (rs.next()) {
                out.add(rs.getString(1) + "|" + rs.getString(2));
            }
        }
        return out;
    }

    private static List<String> copyTexts(String table) throws Exception {
        List<String> out = new ArrayList<>();
        CopyOut copy = conn.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (SELECT id, v FROM " + table + " ORDER BY id) TO STDOUT");
        byte[] line;
        while ((line = copy.readFromCopy()) != null) {
            Object[] fields = CopyText.parseLine(line, 2);
            out.add(fields[0] + "|" + fields[1]);
        }
        return out;
    }

    private static List<Object> read(String table, int oid) throws SQLException {
        ValueDecoder decoder = registry.decoder(oid);
        List<Object> values = new ArrayList<>();
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT v FROM " + table + " ORDER BY id")) {
            while (rs.next()) {
                String text = rs.getString(1);
                values.add(text == null ? null : decoder.decode(text));
            }
        }
        return values;
    }

    /** Same text output row for row; and, where the type has an equality operator, equal by it too. */
    private static void assertSameRows(String a, String b) throws SQLException {
        assertThat(count("SELECT id, v::text FROM " + a + " EXCEPT SELECT id, v::text FROM " + b)).as("%s minus %s", a, b).isZero();
        assertThat(count("SELECT id, v::text FROM " + b + " EXCEPT SELECT id, v::text FROM " + a)).as("%s minus %s", b, a).isZero();
        try {
            assertThat(count("SELECT * FROM " + a + " EXCEPT SELECT * FROM " + b)).isZero();
            assertThat(count("SELECT * FROM " + b + " EXCEPT SELECT * FROM " + a)).isZero();
        } catch (SQLException e) {
            // json, xml, point, box ...: no equality operator, the text comparison above decides
            assertThat(e.getSQLState()).as(e.getMessage()).isEqualTo("42883");
        }
    }

    private static long count(String query) throws SQLException {
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM (" + query + ") x")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void assertValidJson(Object value) throws Exception {
        StringWriter w = new StringWriter();
        JsonFactory f = new JsonFactory();
        try (JsonGenerator g = f.createGenerator(w)) {
            JsonValues.write(g, value);
        }
        String json = w.toString();
        assertThat(json).doesNotContain("\n");
        try (JsonParser p = f.createParser(json)) {
            while (p.nextToken() != null) {
                p.getText(); // reads every token: fails on invalid JSON
            }
        }
    }

    private static Class<?> canonicalClass(Object expected) {
        return expected instanceof List ? PgArray.class : expected instanceof Map ? Map.class : expected.getClass();
    }

    private static int serverVersion() {
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SHOW server_version_num")) {
            rs.next();
            return rs.getInt(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, String> map(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    private static Case type(String type) {
        return new Case(type);
    }

    /** One column type and its edge values: SQL literals, each with its expected canonical value. */
    static final class Case {
        final String type;
        final List<String> literals = new ArrayList<>();
        final List<Object> expected = new ArrayList<>();

        Case(String type) {
            this.type = type;
        }

        Case v(String literal, Object canonical) {
            literals.add(literal);
            expected.add(canonical);
            return this;
        }

        /** A value only a newer server accepts: added when {@code supported}. */
        Case v(boolean supported, String literal, Object canonical) {
            return supported ? v(literal, canonical) : this;
        }

        @Override
        public String toString() {
            return type;
        }
    }
}
