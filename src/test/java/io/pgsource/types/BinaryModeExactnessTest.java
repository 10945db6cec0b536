package io.pgsource.types;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Row;
import io.pgsource.pgoutput.protocol.CatalogTypeNames;
import io.pgsource.pgoutput.protocol.RelationCache;
import io.pgsource.pgoutput.protocol.TransactionAssembler;
import io.pgsource.pgoutput.protocol.TransactionPart;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.TypeRoundTripTest.Case;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.replication.LogSequenceNumber;

/**
 * The proof that pgoutput binary mode gives exactly the values of text mode: every type case of
 * {@link TypeRoundTripTest} (and more edge values of the types decoded from binary here) goes into one published
 * table; the same changes are read from two copies of one slot through the SQL interface, once with
 * {@code binary=true} and once in text mode, decoded with the pgoutput protocol classes, and every column of every
 * row must decode to the same canonical value, of the same class, with the same scale, order, lower bounds and
 * delimiter. Types with no exact binary decoder must fail with a message naming the type and binary=false.
 */
class BinaryModeExactnessTest {
    /** The case types whose binary form is not decoded (their text form is the value and cannot be rebuilt exactly). */
    private static final Set<String> UNSUPPORTED = Set.of("tsvector", "tsquery", "point", "line", "lseg", "box", "path", "polygon",
            "circle", "int4range", "numrange", "tstzrange", "comp", "int4multirange", "box[]", "int4range[]", "comp[]", "point[]");

    private static Connection conn;
    private static TypeRegistry registry;
    private static int serverVersion;

    @BeforeAll
    static void setUp() throws SQLException {
        TestPostgres pg = TestPostgres.server();
        Assumptions.assumeTrue(pg.majorVersion() >= 14, "pgoutput's binary mode came with PostgreSQL 14");
        String db = pg.createDatabase("types_binary");
        conn = TypeRoundTripTest.connect(pg, db);
        try (Statement s = conn.createStatement()) {
            s.execute("CREATE EXTENSION hstore");
            s.execute("CREATE EXTENSION citext");
            s.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'with \"quote')");
            s.execute("CREATE DOMAIN posnum AS numeric(10,2) CHECK (VALUE > 0)");
            s.execute("CREATE DOMAIN posnum2 AS posnum");
            s.execute("CREATE DOMAIN intarr AS int[]");
            s.execute("CREATE TYPE comp AS (a int, b text, c numeric)");
            s.execute("CREATE PUBLICATION pub FOR ALL TABLES");
            try (ResultSet rs = s.executeQuery("SHOW server_version_num")) {
                rs.next();
                serverVersion = rs.getInt(1);
            }
        }
        registry = TypeRegistry.load(conn);
    }

    @AfterAll
    static void tearDown() throws SQLException {
        if (conn != null) {
            try (Statement s = conn.createStatement()) {
                s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()");
            }
            conn.close();
        }
    }

    /** More edge values of the types the binary decoders print or compute themselves. */
    private static List<Case> extraCases() {
        List<Case> cases = new ArrayList<>(List.of(
                new Case("inet").v("'::ffff:1.2.3.4'", null).v("'::1.2.3.4'", null).v("'::2'", null).v("'1::'", null)
                        .v("'1:0:0:1:0:0:0:1'", null).v("'fe80::1/64'", null).v("'::'", null).v("'1:2:3:4:5:6:7:8'", null)
                        .v("'0.0.0.0/0'", null).v("'::ffff:0:0'", null).v("'1:0:0:2::3'", null).v("'255.255.255.255/32'", null)
                        .v("'2001:db8::/32'", null).v("'::0.0.0.1'", null).v("'1:2:3:4:5:6::'", null),
                new Case("cidr").v("'2001:db8::/32'", null).v("'::/0'", null).v("'192.168.0.0/16'", null).v("'1.2.3.4/32'", null)
                        .v("'::ffff:1.2.3.0/120'", null),
                new Case("\"char\"").v("'\\351'", null).v("''", null).v("'\\\\'", null).v("'\\001'", null),
                new Case("macaddr8").v("'08:00:2b:01:02:03'", null).v("'ff:ff:ff:ff:ff:ff:ff:ff'", null),
                new Case("bit(12)").v("B'101010101011'", null),
                new Case("bit varying").v("repeat('10', 37)::varbit", null).v("B'1'", null),
                new Case("xid8").v("'18446744073709551615'", null).v("'0'", null),
                new Case("pg_lsn").v("'0/0'", null).v("'FFFFFFFF/FFFFFFFF'", null).v("'1/A'", null),
                new Case("int2vector").v("'1 -2 3'", null).v("''", null),
                new Case("oidvector").v("'4294967295 0'", null),
                new Case("numeric").v("'0.0001'", null).v("'10000'", null).v("'9999.9999'", null).v("'-0.5'", null)
                        .v("'1e100'", null).v("'0.00010000'", null).v("'12345678.87654321'", null).v("'1e-1000'", null)
                        .v("'-123456789012345678901234567890.000000000000000000001'", null).v("'1000000000000000.0000000000000001'", null),
                new Case("numeric(30,10)").v("'1'", null).v("'-12345.6789'", null),
                new Case("money").v("'-0.01'", null).v("'0.10'", null),
                new Case("timestamp with time zone").v("'1999-12-31 23:59:59.999999+00'", null).v("'1970-01-01 00:00:00+00'", null)
                        .v("'2000-01-01 00:00:00.000001+00'", null).v("'4713-01-01 00:00:00+00 BC'", null),
                new Case("timestamp").v("'1999-12-31 23:59:59.999999'", null).v("'0001-01-01 00:00:00 BC'", null),
                new Case("time with time zone").v("'23:59:59.999999-12'", null).v("'00:00:00-00:00:01'", null),
                new Case("date").v("'2000-01-01'", null).v("'1999-12-31'", null).v("'1970-01-01'", null),
                new Case("character(3)").v("'é'", null),
                new Case("jsonb").v("'[1, 2.500, {\"é\": null, \"a\": \"\\\\u0000x\"}, true]'", null).v("'\"\"'", null)
                        .v("'{\"k\": {\"nested\": [[], {}]}}'", null),
                new Case("json").v("E'  [1,\\n2 ] '", null),
                new Case("xml").v("'<?xml version=\"1.0\"?><a>é</a>'", null).v("'text only'", null),
                new Case("interval[]").v("'[2:3]={PT1S,NULL}'", null),
                new Case("text[]").v("'{}'", null).v("'[-5:-5]={x}'", null),
                new Case("hstore").v("'\"é\"=>\"ü\", a=>b, aa=>NULL'", null)));
        return cases;
    }

    @Test
    void everyValueDecodedFromBinaryEqualsItsTextModeValue() throws Exception {
        List<Case> cases = new ArrayList<>(TypeRoundTripTest.cases(serverVersion));
        cases.addAll(extraCases());
        StringJoiner ddl = new StringJoiner(", ", "CREATE TABLE everything (id int PRIMARY KEY, ", ")");
        for (int i = 0; i < cases.size(); i++) {
            ddl.add("c" + i + " " + cases.get(i).type);
        }
        execute(ddl.toString(), "ALTER TABLE everything REPLICA IDENTITY FULL");
        String binarySlot = "bin_" + ProcessHandle.current().pid();
        String textSlot = "txt_" + ProcessHandle.current().pid();
        execute("SELECT pg_create_logical_replication_slot('" + binarySlot + "', 'pgoutput')",
                "SELECT pg_copy_logical_replication_slot('" + binarySlot + "', '" + textSlot + "')");

        int rows = cases.stream().mapToInt(c -> c.literals.size()).max().orElseThrow() + 1; // the last row: all NULL
        for (int r = 0; r < rows; r++) {
            StringJoiner insert = new StringJoiner(", ", "INSERT INTO everything VALUES (" + r + ", ", ")");
            for (Case c : cases) {
                insert.add(r < c.literals.size() ? c.literals.get(r) : "NULL");
            }
            execute(insert.toString());
        }
        // old tuples (REPLICA IDENTITY FULL) are sent in the same mode: an update and a delete carry every value again
        execute("UPDATE everything SET id = -1 WHERE id = 0", "DELETE FROM everything WHERE id = 1");

        List<ChangeEvent> binary = events(binarySlot, true);
        List<ChangeEvent> text = events(textSlot, false);
        assertThat(binary).hasSize(rows + 2).hasSameSizeAs(text);

        int binaryValues = 0;
        int checked = 0;
        int unsupported = 0;
        for (int e = 0; e < text.size(); e++) {
            for (boolean after : new boolean[] {false, true}) {
                Row t = after ? text.get(e).after() : text.get(e).before();
                Row b = after ? binary.get(e).after() : binary.get(e).before();
                assertThat(b == null).isEqualTo(t == null);
                if (t == null) {
                    continue;
                }
                for (int i = 1; i < t.size(); i++) {
                    Case c = cases.get(i - 1);
                    Column column = t.schema().columns().get(i);
                    Object raw = b.get(i);
                    assertThat(raw == null).as("null in both modes: %s", c.type).isEqualTo(t.get(i) == null);
                    if (raw == null) {
                        continue;
                    }
                    assertThat(t.get(i)).isInstanceOf(String.class);
                    Object textValue = registry.decoder(column.typeOid()).decode((String) t.get(i));
                    if (!(raw instanceof byte[] bytes)) {
                        // a type without a send function is sent as text even in binary mode
                        assertThat(registry.decoder(column.typeOid()).decode((String) raw)).isEqualTo(textValue);
                        continue;
                    }
                    binaryValues++;
                    if (UNSUPPORTED.contains(c.type)) {
                        assertThatThrownBy(() -> registry.binaryDecoder(column.typeOid()).decode(bytes))
                                .as(c.type).isInstanceOf(UnsupportedBinaryTypeException.class)
                                .hasMessageContaining("binary=false").hasMessageContaining(c.type.replace("[]", ""));
                        unsupported++;
                        continue;
                    }
                    Object binaryValue = registry.binaryDecoder(column.typeOid()).decode(bytes);
                    assertExactlyEqual(binaryValue, textValue, c.type + " " + t.get(i));
                    checked++;
                }
            }
        }
        assertThat(binaryValues).as("binary mode sent binary values").isGreaterThan(300);
        assertThat(checked).isGreaterThan(250);
        assertThat(unsupported).isGreaterThan(15);
    }

    @Test
    void theTypeMappingNamesTheColumnAndTypeItCannotDecodeFromBinary() throws Exception {
        execute("CREATE TABLE shapes (id int PRIMARY KEY, p point, n numeric)");
        String slot = "shapes_" + ProcessHandle.current().pid();
        execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')",
                "INSERT INTO shapes VALUES (1, '(1,2)', 1.50)");
        List<ChangeEvent> events = events(slot, true);
        assertThat(events.get(0).after().get("p")).isInstanceOf(byte[].class);
        // values are decoded when first read (a destination that writes them as they arrived never decodes them):
        // the read names the column and the type, and how to get text instead
        new TypeMappingProcessor(registry).map(events);
        assertThatThrownBy(() -> events.get(0).after().get("p"))
                .hasMessageContaining("\"shapes\".\"p\"").hasMessageContaining("type point")
                .hasMessageContaining("binary=false");

        execute("INSERT INTO shapes VALUES (2, NULL, 2.500)");
        List<ChangeEvent> numeric = events(slot, true);
        new TypeMappingProcessor(registry).map(numeric);
        assertThat(numeric.get(0).after().get("n")).isEqualTo(new java.math.BigDecimal("2.500"));
    }

    private static void assertExactlyEqual(Object actual, Object expected, String what) {
        if (expected == null) {
            assertThat(actual).as(what).isNull();
            return;
        }
        assertThat(actual).as(what).isNotNull();
        assertThat(actual.getClass()).as("class of %s", what).isEqualTo(expected.getClass());
        if (expected instanceof PgArray e) {
            PgArray a = (PgArray) actual;
            assertThat(a.lowerBounds()).as("lower bounds of %s", what).isEqualTo(e.lowerBounds());
            assertThat(a.delimiter()).as("delimiter of %s", what).isEqualTo(e.delimiter());
            assertThat(a.size()).as("size of %s", what).isEqualTo(e.size());
            for (int i = 0; i < e.size(); i++) {
                assertExactlyEqual(a.get(i), e.get(i), what + "[" + i + "]");
            }
        } else if (expected instanceof Map<?, ?> e) {
            assertThat(List.copyOf(((Map<?, ?>) actual).entrySet())).as(what).isEqualTo(List.copyOf(e.entrySet()));
        } else {
            assertThat(actual).as(what).isEqualTo(expected);
        }
    }

    /** The slot's pending changes through the SQL interface, decoded and assembled (values still raw). */
    private static List<ChangeEvent> events(String slot, boolean binary) throws Exception {
        // protocol 2: every server with binary mode (14+) speaks it, and tuples are the same in 2, 3 and 4
        List<String> options = new ArrayList<>(List.of("proto_version", "2", "publication_names", "pub"));
        if (binary) {
            options.addAll(List.of("binary", "true"));
        }
        List<TransactionPart> parts = new ArrayList<>();
        Path spool = Files.createTempDirectory("binary-exactness");
        try (TransactionAssembler assembler = new TransactionAssembler(2, new RelationCache(new CatalogTypeNames(conn)), 1_000_000,
                spool, parts::add, m -> { });
             PreparedStatement ps = conn.prepareStatement(
                     "SELECT lsn::text, data FROM pg_logical_slot_get_binary_changes(?, NULL, NULL, VARIADIC ?::text[])")) {
            ps.setString(1, slot);
            ps.setArray(2, conn.createArrayOf("text", options.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    assembler.accept(ByteBuffer.wrap(rs.getBytes(2)), LogSequenceNumber.valueOf(rs.getString(1)).asLong());
                }
            }
        }
        List<ChangeEvent> events = new ArrayList<>();
        for (TransactionPart p : parts) {
            ChangeBatch batch = p.batch();
            events.addAll(batch);
        }
        return events;
    }

    private static void execute(String... statements) throws SQLException {
        try (Statement s = conn.createStatement()) {
            for (String sql : statements) {
                s.execute(sql);
            }
        }
    }

}
