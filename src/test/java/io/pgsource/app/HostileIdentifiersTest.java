package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgsource.change.TableId;
import io.pgsource.sink.jsonl.FileNames;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile identifiers through log replication (the copy inside the slot's snapshot, then the stream) into PostgreSQL
 * and into JSON Lines: schema, table and column names with double and single quotes, semicolons, commas, dots, spaces,
 * a newline, URI characters, Unicode, SQL keywords, and exactly 63 bytes (of multi-byte characters too), with a
 * publication name that needs quoting. Every row must arrive exactly; a bad slot or publication name stops at once.
 */
class HostileIdentifiersTest {
    /** 31 two-byte characters and one more byte: 63 bytes, PostgreSQL's longest name. */
    static final String LONG_UNICODE = "é".repeat(31) + "x";
    /** 63 one-byte characters. */
    static final String LONG_ASCII = "t".repeat(63);
    static final String SCHEMA = "Sch;ema \"q\" 'ü' (x) &a=b%20+c#";
    static final String KEYWORD_TABLE = "select";
    static final String DROP_TABLE = "t\"; DROP TABLE x; --";
    static final String COMMA_TABLE = "a,b.c";

    private static TestPostgres pg;

    @BeforeAll
    static void setUp() {
        pg = TestPostgres.server();
        assertThat(LONG_UNICODE.getBytes(StandardCharsets.UTF_8)).hasSize(63);
    }

    /** (schema, table) of every hostile table. */
    private static List<TableId> tables() {
        return List.of(new TableId(SCHEMA, KEYWORD_TABLE), new TableId(SCHEMA, DROP_TABLE), new TableId(LONG_UNICODE, LONG_ASCII),
                new TableId(LONG_UNICODE, COMMA_TABLE));
    }

    private static String q(String identifier) {
        return TableId.quoteIdent(identifier);
    }

    /** Every hostile table: a composite key of hostile column names, and hostile value columns. */
    private static String fixture() {
        StringBuilder sql = new StringBuilder();
        sql.append("CREATE SCHEMA ").append(q(SCHEMA)).append("; CREATE SCHEMA ").append(q(LONG_UNICODE)).append(";\n");
        for (TableId t : tables()) {
            sql.append("CREATE TABLE ").append(t.quoted()).append(" (")
                    .append(q("Key \"Col\"")).append(" int, ")
                    .append(q("from")).append(" text, ")
                    .append(q("a;b, 'c'")).append(" text, ")
                    .append(q("naïve ü 🙂")).append(" int, ")
                    .append(q("line\nbreak\ttab")).append(" text, ")
                    .append(q("ü".repeat(31) + "c")).append(" text, ")
                    .append("PRIMARY KEY (").append(q("Key \"Col\"")).append(", ").append(q("from")).append("));\n");
            sql.append("INSERT INTO ").append(t.quoted()).append(" SELECT g, 'k' || (g % 3), 'v;'';--\"' || g, g * 7,")
                    .append(" E'multi\\nline\\t' || g, repeat('ü', g % 5) FROM generate_series(1, 20) g;\n");
        }
        return sql.toString();
    }

    /** Changes of every kind on every hostile table, in several transactions. */
    private static String changes() {
        StringBuilder sql = new StringBuilder();
        for (TableId t : tables()) {
            String k = q("Key \"Col\"");
            sql.append("INSERT INTO ").append(t.quoted()).append(" VALUES (100, 'new', 'x''y\"z;', 1, NULL, '');\n")
                    .append("UPDATE ").append(t.quoted()).append(" SET ").append(q("a;b, 'c'")).append(" = 'changed ' || ").append(k)
                    .append(" WHERE ").append(k).append(" % 4 = 0;\n")
                    .append("DELETE FROM ").append(t.quoted()).append(" WHERE ").append(k).append(" % 5 = 0;\n")
                    .append("UPDATE ").append(t.quoted()).append(" SET ").append(k).append(" = ").append(k).append(" + 1000 WHERE ")
                    .append(k).append(" BETWEEN 1 AND 3;\n");
        }
        sql.append("TRUNCATE ").append(tables().get(1).quoted()).append(";\n")
                .append("INSERT INTO ").append(tables().get(1).quoted()).append(" VALUES (7, 'after truncate', NULL, NULL, 'x', 'y');\n");
        return sql.toString();
    }

    private static Map<String, String> env(String source, String slot) {
        Map<String, String> env = SourceFixture.env(pg, source, "\"" + SCHEMA.replace("\"", "\"\"") + "\",\"" + LONG_UNICODE + "\"");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        // the publication is created and named in the replication command: quotes, a semicolon, spaces, Unicode
        env.put("SOURCE_PUBLICATION_NAME", "Pub \"" + slot + "\"; 'ü' (y) &p=1%");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "6");
        return env;
    }

    @Test
    void logReplicationCopiesAndStreamsHostileNamesIntoPostgres() throws Exception {
        String source = pg.createDatabase("hostile_src");
        String target = pg.createDatabase("hostile_dst");
        SourceFixture.execute(pg, source, fixture());
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, "hostile_pg"), target);

        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);
        SourceFixture.execute(pg, source, changes());
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);
    }

    @Test
    void logReplicationCopiesAndStreamsHostileNamesIntoJsonLines(@TempDir Path out) throws Exception {
        String source = pg.createDatabase("hostile_jsonl_src");
        SourceFixture.execute(pg, source, fixture());
        Map<String, String> env = env(source, "hostile_jsonl");
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", out.toString());

        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        SourceFixture.execute(pg, source, changes());
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        for (TableId t : tables()) {
            Path file = out.resolve(FileNames.of(t));
            assertThat(file).as(t.quoted()).exists();
            assertThat(replay(file)).as(t.quoted()).isEqualTo(sourceRows(source, t));
        }
    }

    @Test
    void aSlotNameOutsideWhatPostgresAllowsStopsWithTheRule() {
        for (String bad : List.of("My-Slot", "slot;drop", "ü_slot", "s".repeat(64))) {
            Map<String, String> env = SourceFixture.env(pg, "postgres", "public");
            env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
            env.put("SOURCE_REPLICATION_SLOT", bad);
            env.put("DESTINATION", "log");
            try (LogCapture logs = new LogCapture()) {
                assertThat(PgSourceMain.run(env, new Properties())).isEqualTo(2);
                assertThat(logs.text()).contains("source.replication_slot=" + bad + " is not a valid replication slot name")
                        .contains("lower-case letters, digits and underscores, at most 63");
            }
        }
        Map<String, String> env = SourceFixture.env(pg, "postgres", "public");
        env.put("SOURCE_PUBLICATION_NAME", "ü".repeat(32));
        try (LogCapture logs = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).isEqualTo(2);
            assertThat(logs.text()).contains("source.publication_name is 64 bytes long").contains("at most 63 bytes");
        }
    }

    @Test
    void namesHoldingCamelPlaceholderBracesStopWithTheWayAround() throws Exception {
        String source = pg.createDatabase("hostile_braces_src");
        SourceFixture.execute(pg, source, "CREATE TABLE " + q("{{t}}") + " (id int PRIMARY KEY)");
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("DESTINATION", "log");
        try (LogCapture logs = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).isEqualTo(2);
            assertThat(logs.text()).contains("table \"public\".\"{{t}}\" has {{ or }} in its name")
                    .contains("CREATE PUBLICATION \"pgsource_pub\" FOR TABLE \"public\".\"{{t}}\";").contains("source.create_publication=false");
        }
        env.put("SOURCE_PUBLICATION_NAME", "pub {{x}}");
        try (LogCapture logs = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).isEqualTo(2);
            assertThat(logs.text()).contains("source.publication_name must not contain {{ or }}");
        }
    }

    /** The destination's final state from the change envelopes: upserts by key, deletes, truncates. */
    private static List<JsonNode> replay(Path file) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, JsonNode> rows = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file)) {
            JsonNode e = json.readTree(line);
            switch (e.get("op").asText()) {
                case "t" -> rows.clear();
                case "d" -> rows.remove(key(e.get("before")));
                default -> {
                    if (e.hasNonNull("before")) {
                        rows.remove(key(e.get("before")));
                    }
                    rows.put(key(e.get("after")), e.get("after"));
                }
            }
        }
        List<JsonNode> out = new ArrayList<>(rows.values());
        out.sort((a, b) -> key(a).compareTo(key(b)));
        return out;
    }

    private static String key(JsonNode row) {
        return row.get("Key \"Col\"").asText() + "|" + row.get("from").asText();
    }

    /** The source rows as JSON objects with the same names and value types (ints and text only here). */
    private static List<JsonNode> sourceRows(String db, TableId t) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> rows = new ArrayList<>();
        try (Connection c = pg.connect(db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT row_to_json(r)::text FROM " + t.quoted() + " r")) {
            while (rs.next()) {
                rows.add((ObjectNode) json.readTree(rs.getString(1)));
            }
        }
        rows.sort((a, b) -> key(a).compareTo(key(b)));
        return rows;
    }

    private static void assertSame(String source, String target) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            for (TableId t : tables()) {
                List<String> columns = TableCompare.columns(s, t.schema(), t.name());
                assertThat(columns).hasSize(6);
                assertThat(SourceFixture.rows(d, t.quoted(), columns)).as(t.quoted()).isEqualTo(SourceFixture.rows(s, t.quoted(), columns));
            }
        }
    }

    static Map<String, String> copy(Map<String, String> env) {
        return new HashMap<>(env);
    }
}
