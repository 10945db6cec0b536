package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Values at the limits of their types, end to end through the batch query and log replication (the copy and the stream)
 * into PostgreSQL, compared row by row as text with the source, and into JSON Lines, checked value by value: integer
 * bounds, a 1000-digit numeric, NaN and ±Infinity, 4713 BC and 294276 AD, ±infinity, empty strings next to NULL, every
 * control character but NUL, backslashes, the COPY null marker as text, 100,000-element and nested arrays, and varchar
 * filled to its length with multi-byte characters.
 */
class TypeLimitsEndToEndTest {
    private static TestPostgres pg;

    @BeforeAll
    static void setUp() {
        pg = TestPostgres.server();
    }

    private static final String TABLE = """
            CREATE TABLE limits (
              id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, n numeric, n_scaled numeric(1000, 500), f8 float8,
              d date, ts timestamp, tstz timestamptz, t text, v varchar(1000), c char(3), b bytea,
              a_int int[], a_text text[], a_2d text[][], j json, jb jsonb);
            """;

    /** Rows 1-4 at the limits; insert them with an id offset to send them again through the WAL. */
    private static String rows(int offset) {
        String sql = """
                INSERT INTO limits VALUES
                (%1$d + 1, 32767, 2147483647, 9223372036854775807, repeat('9', 1000)::numeric, ('0.' || repeat('1', 500))::numeric,
                 1.7976931348623157e308, '5874897-12-31', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00',
                 (SELECT string_agg(chr(g), '') FROM generate_series(1, 127) g), repeat('ü', 1000), 'abc',
                 (SELECT string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea) FROM generate_series(0, 255) g),
                 (SELECT array_agg(g) FROM generate_series(-50000, 49999) g),
                 ARRAY['a,b', '"q"', 'NULL', NULL, '', '\\', E'tab\\there', E'line\\nnext', '{}'],
                 '{{"x","y"},{NULL,"z"}}', '{"deep":[[[[{"é":"\\u00e9"}]]]],"n":1e308}', '{"big":123456789012345678901234567890.5}'),
                (%1$d + 2, -32768, -2147483648, -9223372036854775808, ('-' || repeat('9', 500) || '.' || repeat('9', 499))::numeric,
                 'NaN', '-Infinity', '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC',
                 '', '', '', '\\x', '{}', '{}', '{}', '[]', '{}'),
                (%1$d + 3, 0, 0, 0, 'Infinity', NULL, 'NaN', 'infinity', 'infinity', 'infinity',
                 E'\\\\N', E'\\\\', '\\N', NULL, '{NULL}', '{NULL,""}', NULL, 'null', 'null'),
                (%1$d + 4, NULL, NULL, NULL, '-Infinity', 0.000000000000000000001, '-0', '-infinity', '-infinity', '-infinity',
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
                """.formatted(offset);
        // numeric ±Infinity came with PostgreSQL 14
        return numericInfinity() ? sql : sql.replace("'Infinity', NULL, 'NaN'", "'NaN', NULL, 'NaN'")
                .replace("'-Infinity', 0.000000000000000000001", "'NaN', 0.000000000000000000001");
    }

    private static boolean numericInfinity() {
        return pg.majorVersion() >= 14;
    }

    /** @param slot a slot name of this test's own: slots are per server */
    private static Map<String, String> env(String source, String method, String slot) {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("SOURCE_REPLICATION_METHOD", method);
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "3");
        return env;
    }

    @Test
    void theBatchQueryAndLogReplicationCopyEveryLimitExactlyIntoPostgres() throws Exception {
        for (String method : List.of("FULL_TABLE", "LOG_BASED")) {
            String source = pg.createDatabase("limits_src");
            String target = pg.createDatabase("limits_dst");
            SourceFixture.execute(pg, source, TABLE + rows(0));
            Map<String, String> env = SourceFixture.postgresDestination(pg, env(source, method, "limits_pg"), target);
            assertThat(PgSourceMain.run(env, new Properties())).isZero();
            assertSame(source, target, method + " copy");
            // the same values again, and changed, through the WAL (LOG_BASED) or the next run (FULL_TABLE)
            // (FULL_TABLE cannot see deletes: only log replication gets one)
            SourceFixture.execute(pg, source, rows(100) + "UPDATE limits SET t = t || E'\\r' WHERE id = 101;"
                    + (method.equals("LOG_BASED") ? " DELETE FROM limits WHERE id = 4;" : ""));
            assertThat(PgSourceMain.run(env, new Properties())).isZero();
            assertSame(source, target, method + " after changes");
        }
    }

    @Test
    void theBatchQueryAndLogReplicationWriteEveryLimitExactlyAsJson(@TempDir Path dir) throws Exception {
        for (String method : List.of("FULL_TABLE", "LOG_BASED")) {
            String source = pg.createDatabase("limits_json_src");
            SourceFixture.execute(pg, source, TABLE + rows(0));
            Map<String, String> env = env(source, method, "limits_jsonl");
            Path out = dir.resolve(method);
            env.put("DESTINATION", "jsonl");
            env.put("DESTINATION_DIRECTORY", out.toString());
            assertThat(PgSourceMain.run(env, new Properties())).isZero();
            SourceFixture.execute(pg, source, rows(100));
            assertThat(PgSourceMain.run(env, new Properties())).isZero();

            Map<Integer, JsonNode> latest = new HashMap<>();
            ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                    .setNodeFactory(JsonNodeFactory.withExactBigDecimals(true));
            for (String line : Files.readAllLines(out.resolve("public.limits.jsonl"))) {
                JsonNode after = json.readTree(line).get("after");
                if (after != null && !after.isNull()) {
                    latest.put(after.get("id").asInt(), after);
                }
            }
            assertThat(latest.keySet()).as(method).containsExactlyInAnyOrder(1, 2, 3, 4, 101, 102, 103, 104);
            for (int offset : new int[] {0, 100}) {
                String as = method + " row offset " + offset;
                JsonNode max = latest.get(offset + 1);
                JsonNode min = latest.get(offset + 2);
                JsonNode special = latest.get(offset + 3);
                JsonNode nulls = latest.get(offset + 4);
                assertThat(max.get("i8").bigIntegerValue()).as(as).isEqualTo(new java.math.BigInteger("9223372036854775807"));
                assertThat(min.get("i8").bigIntegerValue()).as(as).isEqualTo(new java.math.BigInteger("-9223372036854775808"));
                assertThat(max.get("n").decimalValue().toPlainString()).as(as).isEqualTo("9".repeat(1000));
                assertThat(max.get("n_scaled").decimalValue().toPlainString()).as(as).isEqualTo("0." + "1".repeat(500));
                assertThat(min.get("n").decimalValue().toPlainString()).as(as).isEqualTo("-" + "9".repeat(500) + "." + "9".repeat(499));
                assertThat(min.get("n_scaled").asText()).as(as).isEqualTo("NaN");
                assertThat(special.get("n").asText()).as(as).isEqualTo(numericInfinity() ? "Infinity" : "NaN");
                assertThat(nulls.get("n").asText()).as(as).isEqualTo(numericInfinity() ? "-Infinity" : "NaN");
                assertThat(max.get("ts").asText()).as(as).isEqualTo("+294276-12-31T23:59:59.999999");
                assertThat(min.get("d").asText()).as(as).isEqualTo("-4712-01-01");
                assertThat(special.get("tstz").asText()).as(as).isEqualTo("Infinity");
                assertThat(nulls.get("tstz").asText()).as(as).isEqualTo("-Infinity");
                StringBuilder controls = new StringBuilder();
                for (int ch = 1; ch <= 127; ch++) {
                    controls.append((char) ch);
                }
                assertThat(max.get("t").asText()).as(as).isEqualTo(controls.toString());
                assertThat(max.get("v").asText()).as(as).isEqualTo("ü".repeat(1000));
                assertThat(min.get("t").asText()).as(as + ": an empty string is not NULL").isEmpty();
                assertThat(nulls.get("t").isNull()).as(as).isTrue();
                assertThat(special.get("t").asText()).as(as + ": the COPY null marker as text").isEqualTo("\\N");
                assertThat(special.get("c").asText()).as(as).isEqualTo("\\N ");
                assertThat(max.get("a_int")).as(as).hasSize(100_000);
                assertThat(max.get("a_int").get(0).asInt()).as(as).isEqualTo(-50_000);
                assertThat(max.get("a_text").toString()).as(as).isEqualTo("[\"a,b\",\"\\\"q\\\"\",\"NULL\",null,\"\",\"\\\\\",\"tab\\there\",\"line\\nnext\",\"{}\"]");
                assertThat(special.get("a_text").toString()).as(as).isEqualTo("[null,\"\"]");
                assertThat(max.get("a_2d").toString()).as(as).isEqualTo("[[\"x\",\"y\"],[null,\"z\"]]");
                assertThat(max.at("/jb/big").decimalValue().toPlainString()).as(as).isEqualTo("123456789012345678901234567890.5");
            }
        }
    }

    private static void assertSame(String source, String target, String as) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            List<String> columns = TableCompare.columns(s, "public", "limits");
            List<String> expected = SourceFixture.rows(s, "public.limits", columns);
            assertThat(expected).as("the fixture has rows").isNotEmpty();
            assertThat(SourceFixture.rows(d, "public.limits", columns)).as(as).isEqualTo(expected);
        }
    }
}
