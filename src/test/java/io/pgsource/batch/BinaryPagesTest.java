package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceSettings;
import io.pgsource.config.SslSettings;
import io.pgsource.route.TypeMappingProcessor;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Keyset pages read in COPY's binary format: the rows, once decoded as the pipeline decodes them, are exactly the rows
 * the text path gives (a plain query's text output, decoded), for every built-in type with a binary decoder and its
 * edge values; the bookmark of every batch holds exactly the key's text output, as the text path stores it; and a
 * table with a column of a type not decoded from binary is read as text.
 */
public class BinaryPagesTest {
    /** A table of every built-in type with a binary decoder, edge values and NULLs (used by the end-to-end test too). */
    public static final String MANY_TYPES = """
            CREATE TABLE many (id bigint PRIMARY KEY, i int, s smallint, t text, v varchar(20), c char(3), n numeric(12,2),
                nn numeric, f4 real, f8 double precision, b boolean, ts timestamp, tz timestamptz, d date, tm time, ttz timetz,
                iv interval, j json, jb jsonb, by bytea, u uuid, ia int[], ta text[], na numeric[], tza timestamptz[],
                ad inet, nw cidr, mac macaddr, bits bit(4), vb varbit, o oid);
            INSERT INTO many VALUES
              (1, 1, 1, 'plain', 'v', 'abc', 1.50, 3.14159, 1.5, 2.25, true, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+02',
               '2024-02-29', '12:34:56.5', '12:00:00+05:30', '1 year 2 mons 3 days 04:05:06.7', '{"a": [1, 2]}', '{"b": {"c": null}}',
               '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,NULL,3}', '{"a b","c\\"d",NULL,""}', '{1.5,NaN}',
               '{"2024-01-01 00:00:00+00",infinity}', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', B'1010', B'11', 42),
              (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
              (3, -2147483648, -32768, E'tab\\there\\nnew line\\\\back slash\\r', E'ünï\\tcødé', 'é', -9999999999.99, 'NaN',
               'NaN', '-Infinity', false, 'infinity', '-infinity', '-infinity', '24:00:00', '00:00:00-14:59', '-1 years -2 mons -3 days -04:05:06',
               '"just a string"', '[1, "two", {"3": [4.0]}]', '\\x', '00000000-0000-0000-0000-000000000000', '{}', '{{a,b},{c,d}}',
               '{}', '{}', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', B'0000', B'', 0),
              (4, 2147483647, 32767, '', '', '', 0, '-0.000001', '-Infinity', 'Infinity', true, '0044-03-15 12:00:00 BC',
               '1999-12-31 23:59:59.999999+00', '0001-01-01 BC', '00:00:00', '23:59:59.999999+14', '0 seconds', 'null', '"😀 ☃"',
               decode(repeat('ab', 300), 'hex'), 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{2147483647}', E'{"tab\\there"}', '{-0.001}',
               '{NULL}', '::ffff:1.2.3.4', '::/0', '00:00:00:00:00:00', B'1111', B'101010101', 4294967295);
            INSERT INTO many (id, t, jb, n) SELECT g, 'row ' || g, jsonb_build_object('g', g), g / 7.0 FROM generate_series(5, 40) g;
            """;

    private static String database;
    private static TestSourceConnections connections;
    private static TypeRegistry types;

    @BeforeAll
    static void createTables() throws SQLException {
        database = TestPostgres.server().createDatabase("binpages");
        connections = new TestSourceConnections(database);
        try (Connection c = TestPostgres.server().connect(database); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA bin; SET search_path = bin");
            s.execute(MANY_TYPES);
            s.execute("""
                    CREATE TABLE keyed (t text, n numeric, id bigint, u uuid, v int, PRIMARY KEY (t, n, id, u));
                    INSERT INTO keyed SELECT CASE g % 4 WHEN 0 THEN 'a' WHEN 1 THEN E'tab\\tb' WHEN 2 THEN 'ü' ELSE '' END,
                        CASE g % 5 WHEN 0 THEN 'NaN' WHEN 1 THEN -1.50 WHEN 2 THEN 1e20 WHEN 3 THEN 0.000 ELSE 2.5 END,
                        g % 3 - 1, md5(g::text)::uuid, g FROM generate_series(1, 50) g;
                    CREATE TABLE pointed (id int PRIMARY KEY, p point, t text);
                    INSERT INTO pointed SELECT g, point(g, -g), 't' || g FROM generate_series(1, 10) g;
                    """);
        }
        try (Connection c = TestPostgres.server().connect(database)) {
            types = TypeRegistry.load(c);
            if (c.getMetaData().getDatabaseMajorVersion() >= 14) {
                try (Statement s = c.createStatement()) {
                    // numeric infinities: PostgreSQL 14 and later
                    s.execute("UPDATE bin.many SET nn = 'Infinity', na = '{-Infinity,1}' WHERE id = 4;"
                            + " UPDATE bin.keyed SET n = 'Infinity' WHERE v = 4");
                }
            }
        }
    }

    @Test
    void rowsReadInBinaryDecodeToExactlyTheValuesOfTheTextOutput() throws Exception {
        StreamTask task = task("many", 7);
        assertThat(KeysetPageReader.binary(task)).isTrue();
        List<ChangeEvent> read = readAll(task);
        assertThat(read).hasSize(40).allSatisfy(e -> assertThat(e.after().copyBinary()).isNotNull());
        new TypeMappingProcessor(types).map(read);
        List<ChangeEvent> text = textRows(task, "id");
        new TypeMappingProcessor(types).map(text);
        for (int r = 0; r < read.size(); r++) {
            Row binary = read.get(r).after();
            Row expected = text.get(r).after();
            for (int i = 0; i < binary.size(); i++) {
                assertThat(binary.get(i)).as("row %s column %s", expected.get(0), binary.schema().columns().get(i).name())
                        .isEqualTo(expected.get(i));
            }
            assertThat(binary).isEqualTo(expected);
            // still the tuple as read: a PostgreSQL destination writes it unchanged
            assertThat(binary.copyBinary()).isNotNull();
        }
    }

    @Test
    void everyBatchsBookmarkHoldsTheKeysTextOutputAsTheTextPathStoresIt() throws Exception {
        StreamTask task = task("keyed", 3);
        assertThat(KeysetPageReader.binary(task)).isTrue();
        List<List<String>> keys = new ArrayList<>();
        for (ChangeEvent e : textRows(task, "t, n, id, u")) {
            Row row = e.after();
            keys.add(List.of((String) row.get(0), (String) row.get(1), (String) row.get(2), (String) row.get(3)));
        }
        List<List<String>> bookmarks = new ArrayList<>();
        List<List<String>> lastRows = new ArrayList<>();
        int rows = 0;
        try (Connection c = connections.open()) {
            c.setAutoCommit(false);
            try (KeysetPageReader reader = new KeysetPageReader(task, c, (Bookmark) null)) {
                while (reader.more()) {
                    ChangeBatch batch = reader.next();
                    rows += batch.size();
                    if (!batch.isEmpty()) {
                        bookmarks.add(Bookmark.parse(((Position.Batch) batch.position()).bookmark()).values());
                        lastRows.add(keys.get(rows - 1));
                    }
                }
            }
        }
        assertThat(rows).isEqualTo(50);
        assertThat(bookmarks).hasSize(17).isEqualTo(lastRows);
        assertThat(bookmarks).anySatisfy(b -> assertThat(b.get(1)).isEqualTo("NaN"))
                .anySatisfy(b -> assertThat(b.get(1)).isEqualTo("-1.50"))
                .anySatisfy(b -> assertThat(b.get(1)).isEqualTo("0.000"));

        // and resuming after a bookmark made of binary keys reads exactly the rest
        Bookmark middle = new Bookmark(ReplicationMethod.FULL_TABLE, task.keyColumnNames(), bookmarks.get(7), false);
        int rest = 0;
        try (Connection c = connections.open()) {
            c.setAutoCommit(false);
            try (KeysetPageReader reader = new KeysetPageReader(task, c, middle)) {
                while (reader.more()) {
                    rest += reader.next().size();
                }
            }
        }
        assertThat(rest).isEqualTo(50 - 8 * 3);
    }

    @Test
    void aTableWithATypeNotDecodedFromBinaryIsReadAsText() throws Exception {
        StreamTask task = task("pointed", 4);
        assertThat(KeysetPageReader.binary(task)).isFalse();
        List<ChangeEvent> read = readAll(task);
        assertThat(read).hasSize(10).allSatisfy(e -> {
            assertThat(e.after().copyText()).isNotNull();
            assertThat(e.after().copyBinary()).isNull();
        });
        assertThat(read.get(2).after().get("p")).isEqualTo("(3,-3)");
    }

    private static List<ChangeEvent> readAll(StreamTask task) throws SQLException {
        List<ChangeEvent> read = new ArrayList<>();
        try (Connection c = connections.open()) {
            c.setAutoCommit(false);
            try (KeysetPageReader reader = new KeysetPageReader(task, c, (Bookmark) null)) {
                while (reader.more()) {
                    reader.next().forEach(read::add);
                }
            }
        }
        return read;
    }

    /** The table's rows as a plain query's text output, raw (as the text path reads them), in the given order. */
    private static List<ChangeEvent> textRows(StreamTask task, String orderBy) throws SQLException {
        List<ChangeEvent> rows = new ArrayList<>();
        try (Connection c = connections.open(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT * FROM " + task.table().id().quoted() + " ORDER BY " + orderBy)) {
            while (rs.next()) {
                rows.add(ChangeEvent.read(PageReader.row(rs, task.table().schema(), 1), null));
            }
        }
        return rows;
    }

    private static StreamTask task(String table, int pageSize) throws SQLException {
        TestPostgres pg = TestPostgres.server();
        SourceSettings settings = new SourceSettings(pg.host(), pg.port(), database, pg.user(), pg.password(), List.of("bin"),
                List.of(new TableId("bin", table)), "slot", "pub", pageSize, ReplicationMethod.FULL_TABLE, null, Map.of(), Duration.ZERO,
                SslSettings.NONE);
        return new BatchStreams(settings, connections, 1L << 20).streams().get(0);
    }
}
