package io.pgsource.pgoutput.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.Column;
import io.pgsource.change.Row;
import io.pgsource.change.TableSchema;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.SessionSettings;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Text mode sends each value as its type's output function prints it under the decoding session's settings: with
 * the shared SessionSettings, every decoded value equals what the batch query's {@code getString} reads, and
 * {@code SELECT col::text} too except for {@code bool} and {@code char(n)}, whose text casts differ from their output. Column type names equal the
 * catalog's {@code format_type} (schema-qualified user types), base names resolve domains and enums.
 */
class TextValuesTest {
    private static final Map<String, String> COLUMNS = new LinkedHashMap<>();
    private static int protocol;

    static {
        COLUMNS.put("c_int2", "int2 DEFAULT -32768");
        COLUMNS.put("c_int8", "int8 DEFAULT 9223372036854775807");
        COLUMNS.put("c_num", "numeric DEFAULT 1.500");
        COLUMNS.put("c_num_nan", "numeric DEFAULT 'NaN'");
        COLUMNS.put("c_num_inf", "numeric DEFAULT '-Infinity'");
        COLUMNS.put("c_num_scaled", "numeric(12,2) DEFAULT 3.1");
        COLUMNS.put("c_f4", "float4 DEFAULT 0.1");
        COLUMNS.put("c_f8", "float8 DEFAULT 0.1");
        COLUMNS.put("c_f8_tiny", "float8 DEFAULT 1e-310");
        COLUMNS.put("c_f8_inf", "float8 DEFAULT '-Infinity'");
        COLUMNS.put("c_bool", "bool DEFAULT true");
        COLUMNS.put("c_text", "text DEFAULT E'multi\\nline \"quoted\" \\\\ back ünïcødé 😀'");
        COLUMNS.put("c_varchar", "varchar(10) DEFAULT 'abc'");
        COLUMNS.put("c_char", "char(5) DEFAULT 'ab'");
        COLUMNS.put("c_bytea", "bytea DEFAULT '\\x00ff10'");
        COLUMNS.put("c_date_bc", "date DEFAULT '0044-03-15 BC'");
        COLUMNS.put("c_date_inf", "date DEFAULT 'infinity'");
        COLUMNS.put("c_ts", "timestamp DEFAULT '2024-02-29 12:34:56.789012'");
        COLUMNS.put("c_ts_inf", "timestamp DEFAULT '-infinity'");
        COLUMNS.put("c_tstz", "timestamptz DEFAULT '2024-01-01 12:00:00.5+05:30'");
        COLUMNS.put("c_time", "time DEFAULT '23:59:59.999999'");
        COLUMNS.put("c_timetz", "timetz DEFAULT '12:00+05:30'");
        COLUMNS.put("c_interval", "interval DEFAULT '1 year -2 months 3 days -04:05:06.789'");
        COLUMNS.put("c_money", "money DEFAULT -1234567.891");
        COLUMNS.put("c_uuid", "uuid DEFAULT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'");
        COLUMNS.put("c_json", "json DEFAULT '{\"b\": 1,  \"a\": [1, 2]}'");
        COLUMNS.put("c_jsonb", "jsonb DEFAULT '{\"b\": 1,  \"a\": [1, 2]}'");
        COLUMNS.put("c_inet", "inet DEFAULT '192.168.0.1/24'");
        COLUMNS.put("c_cidr", "cidr DEFAULT '10.0.0.0/8'");
        COLUMNS.put("c_macaddr", "macaddr DEFAULT '08:00:2b:01:02:03'");
        COLUMNS.put("c_int_arr", "int4[] DEFAULT '{1,NULL,3}'");
        COLUMNS.put("c_text_arr", "text[] DEFAULT '{\"a b\",\"c\\\"d\",NULL,\"\"}'");
        COLUMNS.put("c_int_2d", "int4[][] DEFAULT '{{1,2},{3,4}}'");
        COLUMNS.put("c_point", "point DEFAULT '(1.5,2)'");
        COLUMNS.put("c_range", "int4range DEFAULT '[1,10)'");
        COLUMNS.put("c_tstzrange", "tstzrange DEFAULT '[2024-01-01 00:00+02,infinity)'");
        COLUMNS.put("c_tsvector", "tsvector DEFAULT 'b:2 a:1'");
        COLUMNS.put("c_bit", "bit(4) DEFAULT B'1010'");
        COLUMNS.put("c_varbit", "varbit DEFAULT B'101'");
        COLUMNS.put("c_xml", "xml DEFAULT '<a>1</a>'");
        COLUMNS.put("c_mood", "mood DEFAULT 'happy'");
        COLUMNS.put("c_mood_arr", "mood[] DEFAULT '{sad,happy}'");
        COLUMNS.put("c_posint", "posint DEFAULT 5");
        COLUMNS.put("c_posint_arr", "posint[] DEFAULT '{1,2}'");
        COLUMNS.put("c_money_dom", "cash DEFAULT 12.5");
    }

    private static Connection c;
    private static String slot;

    @TempDir
    Path spool;

    @BeforeAll
    static void setUp() throws SQLException {
        String database = TestPostgres.server().createDatabase("pgoutput_text");
        c = TestPostgres.server().connect(database);
        protocol = Wal.newestProtocol(c);
        if (TestPostgres.server().majorVersion() < 14) {
            COLUMNS.remove("c_num_inf"); // numeric ±Infinity came with PostgreSQL 14
        }
        // the decoding session's settings decide the text output, like the walsender's do for a replication stream
        SessionSettings.apply(c);
        exec("CREATE PUBLICATION pub FOR ALL TABLES");
        exec("CREATE TYPE mood AS ENUM ('sad', 'happy')");
        exec("CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)");
        exec("CREATE DOMAIN cash_base AS numeric(10,2)");
        exec("CREATE DOMAIN cash AS cash_base");
        StringBuilder ddl = new StringBuilder("CREATE TABLE alltypes (id int PRIMARY KEY");
        COLUMNS.forEach((name, type) -> ddl.append(", ").append(name).append(' ').append(type));
        exec(ddl.append(')').toString());
        slot = Wal.createSlot(c, "text");
        exec("INSERT INTO alltypes (id) VALUES (1)");
        StringBuilder nulls = new StringBuilder("INSERT INTO alltypes VALUES (2");
        COLUMNS.keySet().forEach(k -> nulls.append(", NULL"));
        exec(nulls.append(')').toString());
    }

    @AfterAll
    static void tearDown() throws SQLException {
        Wal.dropSlot(c, slot);
        c.close();
    }

    @Test
    void everyTextValueEqualsTheColumnCastToText() throws SQLException {
        Wal.Assembled a = new Wal.Assembled(protocol, new RelationCache(new CatalogTypeNames(c)), 100, spool)
                .feed(Wal.peek(c, slot, Wal.options(protocol)));
        Row row = a.events().get(0).after();
        Row nulls = a.events().get(1).after();
        assertThat(row.size()).isEqualTo(COLUMNS.size() + 1);

        Map<String, String> actual = new LinkedHashMap<>();
        COLUMNS.keySet().forEach(column -> actual.put(column, (String) row.get(column)));
        // the reference is the type's output function: what getString returns with binaryTransfer=false, the batch path
        Map<String, String> expected = textOf(String.join(", ", COLUMNS.keySet()));
        // a cast to text is the same but for two types whose cast is not their output function
        Map<String, String> cast = textOf(String.join(", ", COLUMNS.keySet().stream().map(k -> k + "::text").toList()));
        assertThat(cast).containsEntry("c_bool", "true").containsEntry("c_char", "ab");
        assertThat(actual).containsEntry("c_bool", "t").containsEntry("c_char", "ab   ");
        cast.remove("c_bool");
        cast.remove("c_char");
        assertThat(actual).containsAllEntriesOf(cast);
        assertThat(actual).isEqualTo(expected);
        assertThat(actual).doesNotContainValue(null);
        // a few exact spellings, so the comparison is not vacuous
        assertThat(actual).containsEntry("c_f8", "0.1").containsEntry("c_tstz", "2024-01-01 06:30:00.5+00")
                .containsEntry("c_interval", "P10M3DT-4H-5M-6.789S").containsEntry("c_bytea", "\\x00ff10")
                .containsEntry("c_num_scaled", "3.10").containsEntry("c_date_bc", "0044-03-15 BC");
        for (int i = 1; i < nulls.size(); i++) {
            assertThat(nulls.get(i)).isNull();
        }
    }

    @Test
    void columnTypeNamesComeFromTheCatalog() throws SQLException {
        Wal.Assembled a = new Wal.Assembled(protocol, new RelationCache(new CatalogTypeNames(c)), 100, spool)
                .feed(Wal.peek(c, slot, Wal.options(protocol)));
        TableSchema schema = a.events().get(0).table();

        List<String> catalog = new ArrayList<>();
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute("SET LOCAL search_path = pg_catalog");
            try (ResultSet rs = s.executeQuery("SELECT attname, atttypid, format_type(atttypid, atttypmod) FROM pg_attribute "
                    + "WHERE attrelid = 'public.alltypes'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")) {
                while (rs.next()) {
                    catalog.add(rs.getString(1) + " " + rs.getLong(2) + " " + rs.getString(3));
                }
            }
        } finally {
            c.rollback();
            c.setAutoCommit(true);
        }
        assertThat(schema.columns()).extracting(col -> col.name() + " " + Integer.toUnsignedLong(col.typeOid()) + " " + col.typeName())
                .containsExactlyElementsOf(catalog);

        Map<String, Column> byName = new LinkedHashMap<>();
        schema.columns().forEach(col -> byName.put(col.name(), col));
        assertThat(byName.get("c_mood")).extracting(Column::typeName, Column::baseTypeName).containsExactly("public.mood", "text");
        assertThat(byName.get("c_mood_arr")).extracting(Column::typeName, Column::baseTypeName).containsExactly("public.mood[]", "text[]");
        assertThat(byName.get("c_posint")).extracting(Column::typeName, Column::baseTypeName).containsExactly("public.posint", "integer");
        assertThat(byName.get("c_posint_arr")).extracting(Column::typeName, Column::baseTypeName)
                .containsExactly("public.posint[]", "integer[]");
        assertThat(byName.get("c_money_dom")).extracting(Column::typeName, Column::baseTypeName)
                .containsExactly("public.cash", "numeric(10,2)");
        assertThat(byName.get("c_varchar")).extracting(Column::typeName, Column::baseTypeName)
                .containsExactly("character varying(10)", "character varying(10)");
    }

    @Test
    void typeNamesReadWhenTheStreamStartsAreTheOnesReadWhenFirstSeen() throws SQLException {
        TestPostgres pg = TestPostgres.server();
        List<TypeNames.Names> asSeen = new ArrayList<>();
        List<TypeNames.Names> ahead = new ArrayList<>();
        List<int[]> types = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT atttypid, atttypmod FROM pg_attribute"
                + " WHERE attrelid = 'public.alltypes'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")) {
            while (rs.next()) {
                types.add(new int[] {(int) rs.getLong(1), rs.getInt(2)});
            }
        }
        CatalogTypeNames seen = new CatalogTypeNames(c);
        types.forEach(t -> asSeen.add(seen.names(t[0], t[1])));
        try (Connection own = pg.connect(c.getCatalog())) {
            CatalogTypeNames prefetched = new CatalogTypeNames(own);
            assertThat(prefetched.prefetch(List.of("no_such_publication"))).isZero();
            assertThat(prefetched.prefetch(List.of("pub"))).as("each distinct type once")
                    .isEqualTo((int) types.stream().map(t -> List.of(t[0], t[1])).distinct().count());
            own.close(); // every name must now come from what was read ahead: a look-up would fail on the closed connection
            types.forEach(t -> ahead.add(prefetched.names(t[0], t[1])));
        }
        assertThat(ahead).containsExactlyElementsOf(asSeen).doesNotContainNull();
        assertThat(ahead).contains(new TypeNames.Names("public.posint[]", "integer[]"), new TypeNames.Names("public.cash", "numeric(10,2)"));
    }

    /** The columns of row 1 as text, read like the batch query reads them (SessionSettings, binaryTransfer=false). */
    private static Map<String, String> textOf(String selectList) throws SQLException {
        TestPostgres pg = TestPostgres.server();
        Properties p = SessionSettings.jdbcProperties();
        p.setProperty("user", pg.user());
        p.setProperty("password", pg.password());
        Map<String, String> text = new LinkedHashMap<>();
        try (Connection batch = DriverManager.getConnection(pg.jdbcUrl(c.getCatalog()), p)) {
            SessionSettings.apply(batch);
            try (Statement s = batch.createStatement(); ResultSet rs = s.executeQuery("SELECT " + selectList + " FROM alltypes WHERE id = 1")) {
                rs.next();
                int i = 1;
                for (String column : COLUMNS.keySet()) {
                    text.put(column, rs.getString(i++));
                }
            }
        }
        return text;
    }

    private static void exec(String statement) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }
}
