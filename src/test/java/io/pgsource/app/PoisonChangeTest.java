package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A change the destination refuses (a CHECK constraint, a NOT NULL the source lacks, a column narrower than the value),
 * end to end through log replication and the batch query into PostgreSQL. By default pgsource stops with exit code 1
 * and an error naming the table, the key, the position, the database's message and the fix, and acknowledges nothing
 * past it, also when running continuously (not sync.once); with destination.dead_letter_uri the refused change goes
 * there as a JSON envelope, the rest is applied, and a WARN line says so.
 */
class PoisonChangeTest {
    private static final Duration RUN_LIMIT = Duration.ofSeconds(90);
    private static TestPostgres pg;
    private static ExecutorService runner;

    @BeforeAll
    static void setUp() {
        pg = TestPostgres.server();
        runner = Executors.newSingleThreadExecutor();
    }

    @AfterAll
    static void tearDown() {
        runner.shutdownNow();
    }

    private record Outcome(int exitCode, String log, List<String> warnings) {
    }

    /** Runs pgsource (continuously unless SYNC_ONCE is set), which must end by itself. */
    private static Outcome run(Map<String, String> env) throws Exception {
        try (LogCapture logs = new LogCapture()) {
            Future<Integer> code = runner.submit(() -> PgSourceMain.run(env, new Properties()));
            int exit = code.get(RUN_LIMIT.toSeconds(), TimeUnit.SECONDS);
            return new Outcome(exit, logs.text(), logs.lines(Level.WARN));
        }
    }

    private static Map<String, String> logEnv(String source, String target, String slot) {
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), target);
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        return env;
    }

    private static final String ITEMS = """
            CREATE TABLE items (id int PRIMARY KEY, name text, qty int);
            INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 5) g;""";

    /** Three transactions after the copy; the second one updates item 3 to a quantity the destination refuses. */
    private static long poisonTransactions(String source) throws Exception {
        long xid;
        try (Connection c = pg.connect(source); Statement s = c.createStatement()) {
            s.execute("INSERT INTO items VALUES (10, 'ten', 10)");
            c.setAutoCommit(false);
            s.execute("INSERT INTO items VALUES (11, 'eleven', 11)");
            s.execute("UPDATE items SET qty = 500 WHERE id = 3");
            s.execute("INSERT INTO items VALUES (12, 'twelve', 12)");
            try (ResultSet rs = s.executeQuery("SELECT txid_current()")) {
                rs.next();
                xid = rs.getLong(1);
            }
            c.commit();
            c.setAutoCommit(true);
            s.execute("INSERT INTO items VALUES (13, 'thirteen', 13)");
        }
        return xid;
    }

    @Test
    void logReplicationStopsAtTheRefusedChangeAndAcknowledgesNothingPastIt() throws Exception {
        String source = pg.createDatabase("poison_log_src");
        String target = pg.createDatabase("poison_log_dst");
        SourceFixture.execute(pg, source, ITEMS);
        Map<String, String> env = logEnv(source, target, "poison_log");
        assertThat(run(once(env)).exitCode()).isZero();
        SourceFixture.execute(pg, target, "ALTER TABLE items ADD CONSTRAINT qty_below_100 CHECK (qty < 100)");
        long xid = poisonTransactions(source);

        Outcome o = run(env); // continuously: it must stop by itself
        assertThat(o.exitCode()).as(o.log()).isEqualTo(1);
        assertThat(o.log()).contains("rejected the change of \"public\".\"items\" key {\"id\":3} at LSN ")
                .contains("(transaction " + xid + ")").contains("qty_below_100").contains("SQLSTATE 23514")
                .contains("destination.dead_letter_uri").contains("pgsource stopped (exit code 1)");
        assertThat(SourceFixture.query(pg, target, "SELECT id FROM items ORDER BY id")).as("the transaction before it is applied, nothing after")
                .containsExactly("1", "2", "3", "4", "5", "10");
        assertThat(SourceFixture.query(pg, source, "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('poison_log', NULL, NULL,"
                + " 'proto_version', '1', 'publication_names', 'poison_log_pub') WHERE xid::text::bigint = " + xid))
                .as("the refused transaction is still in the slot").doesNotContain("0");

        // fixed at the destination, the next run continues with that transaction
        SourceFixture.execute(pg, target, "ALTER TABLE items DROP CONSTRAINT qty_below_100");
        assertThat(run(once(env)).exitCode()).isZero();
        assertSameItems(source, target);
    }

    @Test
    void aRowTheDestinationRefusesInTheInitialCopyStopsLogReplication() throws Exception {
        String source = pg.createDatabase("poison_copy_src");
        String target = pg.createDatabase("poison_copy_dst");
        SourceFixture.execute(pg, source, ITEMS + "; UPDATE items SET name = NULL WHERE id = 4");
        SourceFixture.execute(pg, target, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int)");

        Outcome o = run(logEnv(source, target, "poison_copy")); // continuously: it must stop by itself
        assertThat(o.exitCode()).as(o.log()).isEqualTo(1);
        assertThat(o.log()).contains("rejected the change of \"public\".\"items\" key {\"id\":4} at stream public.items")
                .contains("SQLSTATE 23502");
    }

    @Test
    void logReplicationSendsTheRefusedChangeToTheDeadLetterEndpointAndAppliesTheRest(@TempDir Path dir) throws Exception {
        String source = pg.createDatabase("poison_dlq_src");
        String target = pg.createDatabase("poison_dlq_dst");
        SourceFixture.execute(pg, source, ITEMS);
        Map<String, String> env = once(logEnv(source, target, "poison_dlq"));
        Path deadLetters = dir.resolve("dead letters");
        env.put("DESTINATION_DEAD_LETTER_URI", "file:" + deadLetters);
        assertThat(run(env).exitCode()).isZero();
        SourceFixture.execute(pg, target, "ALTER TABLE items ADD CONSTRAINT qty_below_100 CHECK (qty < 100)");
        long xid = poisonTransactions(source);

        Outcome o = run(env);
        assertThat(o.exitCode()).as(o.log()).isZero();
        assertThat(SourceFixture.query(pg, target, "SELECT id, qty FROM items ORDER BY id")).as("everything but the refused update")
                .containsExactly("1|1", "2|2", "3|3", "4|4", "5|5", "10|10", "11|11", "12|12", "13|13");
        List<JsonNode> letters = letters(deadLetters);
        assertThat(letters).hasSize(1);
        JsonNode letter = letters.get(0);
        assertThat(letter.at("/error/sqlState").asText()).isEqualTo("23514");
        assertThat(letter.at("/error/message").asText()).contains("qty_below_100");
        assertThat(letter.at("/table/name").asText()).isEqualTo("items");
        assertThat(letter.at("/key/id").asInt()).isEqualTo(3);
        assertThat(letter.at("/change/op").asText()).isEqualTo("u");
        assertThat(letter.at("/change/after/qty").asInt()).isEqualTo(500);
        assertThat(letter.at("/change/source/txId").asLong()).isEqualTo(xid);
        assertThat(letter.at("/change/source/lsn").asText()).matches("[0-9A-F]+/[0-9A-F]+");
        assertThat(o.warnings()).anySatisfy(w -> assertThat(w).contains("\"public\".\"items\" key {\"id\":3}")
                .contains("dead-letter endpoint file://"));

        // the position was stored with the rest: a rerun neither repeats the letter nor fails
        assertThat(run(env).exitCode()).isZero();
        assertThat(letters(deadLetters)).hasSize(1);
    }

    @Test
    void theBatchQueryStopsAtARefusedRowAlsoWhenRunningContinuously() throws Exception {
        String source = pg.createDatabase("poison_batch_src");
        String target = pg.createDatabase("poison_batch_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE people (id int PRIMARY KEY, name text, nick text);
                INSERT INTO people SELECT g, 'person ' || g, 'p' || g FROM generate_series(1, 40) g;
                UPDATE people SET nick = NULL WHERE id = 25;""");
        // the user made the destination stricter than the source
        SourceFixture.execute(pg, target, "CREATE TABLE people (id int PRIMARY KEY, name text, nick text NOT NULL)");
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), target);
        env.remove("SYNC_ONCE");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "10");
        env.put("SYNC_INTERVAL", "500ms");

        Outcome o = run(env);
        assertThat(o.exitCode()).as(o.log()).isEqualTo(1);
        assertThat(o.log()).contains("rejected the change of \"public\".\"people\" key {\"id\":25} at stream public.people, in the page up to bookmark")
                .contains("SQLSTATE 23502").contains("\"nick\"");
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM people")).as("the two pages before it").containsExactly("20");
    }

    @Test
    void theBatchQuerySendsRefusedRowsToTheDeadLetterEndpoint(@TempDir Path dir) throws Exception {
        String source = pg.createDatabase("poison_bdlq_src");
        String target = pg.createDatabase("poison_bdlq_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE people (id int PRIMARY KEY, name text);
                INSERT INTO people SELECT g, repeat('x', g) FROM generate_series(1, 30) g;""");
        // (a destination column narrower than the source's is widened to it: a constraint is what refuses long values)
        SourceFixture.execute(pg, target, "CREATE TABLE people (id int PRIMARY KEY, name text CHECK (char_length(name) <= 20))");
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), target);
        env.put("SOURCE_BATCH_FETCH_LIMIT", "7");
        env.put("DESTINATION_DEAD_LETTER_URI", "file:" + dir);

        Outcome o = run(env);
        assertThat(o.exitCode()).as(o.log()).isZero();
        assertThat(SourceFixture.query(pg, target, "SELECT count(*), max(id) FROM people")).containsExactly("20|20");
        List<JsonNode> letters = letters(dir);
        assertThat(letters.stream().map(l -> l.at("/key/id").asInt()).sorted().toList())
                .isEqualTo(java.util.stream.IntStream.rangeClosed(21, 30).boxed().toList());
        assertThat(letters).allSatisfy(l -> {
            assertThat(l.at("/error/sqlState").asText()).isEqualTo("23514");
            assertThat(l.at("/change/op").asText()).isEqualTo("r");
            assertThat(l.at("/change/source/bookmark").asText()).isNotBlank();
        });
        assertThat(o.warnings().stream().filter(w -> w.contains("dead-letter endpoint"))).hasSize(10);
    }

    private static Map<String, String> once(Map<String, String> env) {
        Map<String, String> copy = new java.util.HashMap<>(env);
        copy.put("SYNC_ONCE", "true");
        return copy;
    }

    private static List<JsonNode> letters(Path dir) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.add(json.readTree(Files.readString(f)));
            }
        }
        return out;
    }

    private static void assertSameItems(String source, String target) throws Exception {
        String q = "SELECT id, name, qty FROM items ORDER BY id";
        assertThat(SourceFixture.query(pg, target, q)).isEqualTo(SourceFixture.query(pg, source, q));
    }
}
