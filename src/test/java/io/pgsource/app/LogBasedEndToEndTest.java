package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LOG_BASED end to end, run the way users run it (sync.once: copy if needed, stream until everything committed
 * before the start is applied and acknowledged): the initial copy, then inserts, updates, deletes, truncates and
 * key changes from the WAL, every type through the WAL, and the seed's manual slot and publication setup.
 */
class LogBasedEndToEndTest {
    private static final String TABLES = "public.customers,sales.customers,public.all_types,\"Odd Schema\".\"Select\"";
    private static final List<String[]> COMPARED = List.of(new String[] {"public", "customers"}, new String[] {"sales", "customers"},
            new String[] {"public", "all_types"}, new String[] {"Odd Schema", "Select"});

    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    private static Map<String, String> env(String source, String target, String slot) {
        Map<String, String> env = SourceFixture.env(pg, source, "public,sales,Odd Schema");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", TABLES);
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "33");
        return SourceFixture.postgresDestination(pg, env, target);
    }

    private static final String CHANGES = """
            INSERT INTO public.customers SELECT g, 'new ' || g, now() FROM generate_series(1001, 1100) g;
            UPDATE public.customers SET name = 'updated' WHERE id % 7 = 0;
            DELETE FROM public.customers WHERE id % 11 = 0;
            UPDATE public.customers SET id = id + 5000 WHERE id BETWEEN 20 AND 25;
            UPDATE sales.customers SET score = score * 2, region = NULL WHERE id < 50;
            TRUNCATE "Odd Schema"."Select";
            INSERT INTO "Odd Schema"."Select" VALUES (7, 'seven', '"', 'ß');
            INSERT INTO public.all_types (c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric, c_numeric_scaled, c_money, c_bool,
                c_text, c_varchar, c_char, c_name, c_citext, c_bytea, c_uuid, c_json, c_jsonb, c_xml, c_date, c_time, c_timetz,
                c_timestamp, c_timestamptz, c_interval, c_inet, c_cidr, c_macaddr, c_bit, c_varbit, c_mood, c_amount, c_int_array,
                c_text_array2, c_ts_array, c_int4range, c_tstzrange, c_hstore, c_tsvector, c_point, c_box, c_circle, c_oid)
              SELECT c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric, c_numeric_scaled, c_money, c_bool,
                c_text, c_varchar, c_char, c_name, c_citext, c_bytea, c_uuid, c_json, c_jsonb, c_xml, c_date, c_time, c_timetz,
                c_timestamp, c_timestamptz, c_interval, c_inet, c_cidr, c_macaddr, c_bit, c_varbit, c_mood, c_amount, c_int_array,
                c_text_array2, c_ts_array, c_int4range, c_tstzrange, c_hstore, c_tsvector, c_point, c_box, c_circle, c_oid
              FROM public.all_types ORDER BY id;
            """;

    @Test
    void createdSlotCopiesInsideItsSnapshotThenStreamsEveryKindOfChange() throws Exception {
        String source = SourceFixture.createSource(pg, "log_src");
        String target = pg.createDatabase("log_dst");
        Map<String, String> env = env(source, target, "e2e_created");

        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);

        SourceFixture.execute(pg, source, CHANGES);
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);
        assertThat(count(target, "public.all_types")).as("every type also through the WAL").isEqualTo(6);
    }

    @Test
    void theSeedsManualSlotAndPublicationAreUsedAsTheyAre() throws Exception {
        String source = SourceFixture.createSource(pg, "log_manual_src");
        String target = pg.createDatabase("log_manual_dst");
        SourceFixture.execute(pg, source, """
                SELECT pg_create_logical_replication_slot('manual_slot', 'pgoutput');
                CREATE PUBLICATION manual_slot_pub FOR ALL TABLES;""");
        Map<String, String> env = env(source, target, "manual_slot");
        env.put("SOURCE_CREATE_SLOT", "false");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        // changes after the slot's position but before the first run: the copy sees them, the stream replays them
        SourceFixture.execute(pg, source, CHANGES);

        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);
        SourceFixture.execute(pg, source, "UPDATE public.customers SET name = 'again' WHERE id < 100; DELETE FROM sales.customers WHERE id > 150");
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        assertSame(source, target);
    }

    /** A source of one's own tables in schema public, streamed LOG_BASED into a fresh destination database. */
    private static Map<String, String> ownEnv(String source, String target, String slot) {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        return target == null ? env : SourceFixture.postgresDestination(pg, env, target);
    }

    private static void sync(Map<String, String> env) {
        assertThat(PgSourceMain.run(env, new Properties())).as("sync.once exit code").isZero();
    }

    @Test
    void theDestinationReadsAheadForTheFirstTransactionBeforeStreaming() throws Exception {
        String source = pg.createDatabase("log_ahead_src");
        String target = pg.createDatabase("log_ahead_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE t (id int PRIMARY KEY, v text);
                INSERT INTO t VALUES (1, 'a');""");
        Map<String, String> env = ownEnv(source, target, "e2e_ahead");
        sync(env);
        SourceFixture.execute(pg, source, "INSERT INTO t VALUES (2, 'b');");
        ch.qos.logback.classic.Logger sinkLog = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
                io.pgsource.sink.jdbc.PostgresSink.class);
        ch.qos.logback.classic.Level level = sinkLog.getLevel();
        sinkLog.setLevel(ch.qos.logback.classic.Level.DEBUG);
        try (LogCapture log = new LogCapture()) {
            sync(env);
            // the stream's start (LogReplicationStart) had the destination read its positions and its table's catalog
            assertThat(log.lines(ch.qos.logback.classic.Level.DEBUG))
                    .anyMatch(l -> l.startsWith("read ahead ") && l.contains("the columns of 1 of 1 destination table(s)"));
        } finally {
            sinkLog.setLevel(level);
        }
        assertThat(count(target, "public.t")).isEqualTo(2);
    }

    /** About 1 MB of hex digits: barely compressible, so PostgreSQL stores it out of line (TOAST). */
    private static final String ONE_MB = "(SELECT string_agg(md5(g::text || '%s'), '') FROM generate_series(1, 32768) g)";

    @Test
    void unchangedToastedValuesStayWhenOtherColumnsChange() throws Exception {
        String source = pg.createDatabase("log_toast_src");
        String target = pg.createDatabase("log_toast_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, doc text);
                INSERT INTO big VALUES (1, 0, %s), (2, 0, %s), (3, 0, 'small');""".formatted(ONE_MB.formatted("a"), ONE_MB.formatted("b")));
        Map<String, String> env = ownEnv(source, target, "e2e_toast");
        sync(env);

        // the WAL carries the 1 MB values of these updates as 'unchanged TOAST', not as values
        SourceFixture.execute(pg, source, """
                UPDATE big SET n = n + 1;
                UPDATE big SET n = n + 10 WHERE id = 1;
                UPDATE big SET id = 20 WHERE id = 2;
                BEGIN;
                INSERT INTO big VALUES (4, 0, %s);
                COMMIT;
                BEGIN;
                UPDATE big SET n = 5 WHERE id = 4;
                INSERT INTO big VALUES (5, 0, %s);
                UPDATE big SET n = 6 WHERE id = 5;
                UPDATE big SET id = 50, n = 7 WHERE id = 5;
                COMMIT;""".formatted(ONE_MB.formatted("c"), ONE_MB.formatted("d")));
        sync(env);

        String q = "SELECT id, n, md5(doc), length(doc) FROM big ORDER BY id";
        List<String> expected = SourceFixture.query(pg, source, q);
        assertThat(expected).as("the fixture really holds 1 MB values").anyMatch(r -> r.endsWith("|1048576"));
        assertThat(SourceFixture.query(pg, target, q)).isEqualTo(expected);
        assertThat(SourceFixture.query(pg, target, "SELECT id FROM big WHERE doc IS NULL")).isEmpty();
    }

    /**
     * REPLICA IDENTITY FULL flags every column as replica identity in the WAL: a keyless table must stay keyless (one
     * copy of duplicate rows removed, not an upsert on every column), a table with a primary key keeps that key.
     */
    @Test
    void replicaIdentityFullTablesWithAndWithoutPrimaryKey() throws Exception {
        String source = pg.createDatabase("log_full_src");
        String target = pg.createDatabase("log_full_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE ledger (account int NOT NULL, amount numeric NOT NULL, memo text);
                ALTER TABLE ledger REPLICA IDENTITY FULL;
                CREATE TABLE keyed (id int PRIMARY KEY, v text, body text);
                ALTER TABLE keyed REPLICA IDENTITY FULL;
                INSERT INTO ledger VALUES (1, 1.5, 'a'), (1, 1.5, 'a'), (2, 3, 'b');
                INSERT INTO keyed VALUES (1, 'one', %s), (2, 'two', 'small');""".formatted(ONE_MB.formatted("f")));
        Map<String, String> env = ownEnv(source, target, "e2e_full");
        sync(env);

        SourceFixture.execute(pg, source, """
                INSERT INTO ledger VALUES (3, 4, 'c'), (3, 4, 'c');
                UPDATE ledger SET amount = 9 WHERE account = 2;
                DELETE FROM ledger WHERE ctid = (SELECT min(ctid) FROM ledger WHERE account = 1);
                UPDATE ledger SET memo = 'one of two' WHERE ctid = (SELECT min(ctid) FROM ledger WHERE account = 3);
                UPDATE keyed SET v = 'uno' WHERE id = 1;
                UPDATE keyed SET id = 20 WHERE id = 2;
                INSERT INTO keyed VALUES (3, 'three', NULL);""");
        sync(env);

        assertTableSame(source, target, "ledger");
        assertTableSame(source, target, "keyed");
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM ledger")).containsExactly("4");
    }

    /**
     * The slot exists but the destination has no complete copy (a run killed during its initial copy, or the manual
     * setup): the copy must meet the slot's stream exactly. Copying the current rows and replaying every change since
     * the slot's position onto them cannot: an update that leaves a TOASTed value unchanged, replayed for a key the
     * copy no longer has, knows no value for it, and the key change after it moved that NULL over the copied row.
     */
    @Test
    void anExistingSlotWithoutACompleteCopyKeepsUnchangedToastedValues() throws Exception {
        String source = pg.createDatabase("log_late_src");
        String target = pg.createDatabase("log_late_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE docs (id int PRIMARY KEY, version int NOT NULL, body text);
                INSERT INTO docs VALUES (1, 0, %s), (2, 0, %s);
                CREATE PUBLICATION e2e_late_pub FOR TABLE docs;""".formatted(ONE_MB.formatted("a"), ONE_MB.formatted("b")));
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('e2e_late', 'pgoutput')");
        SourceFixture.execute(pg, source, """
                UPDATE docs SET version = 1 WHERE id = 1;
                UPDATE docs SET id = 10 WHERE id = 1;
                UPDATE docs SET version = 2 WHERE id = 10;
                UPDATE docs SET version = 1 WHERE id = 2;
                DELETE FROM docs WHERE id = 2;""");
        Map<String, String> env = ownEnv(source, target, "e2e_late");
        sync(env);

        String q = "SELECT id, version, md5(body), length(body) FROM docs ORDER BY id";
        assertThat(SourceFixture.query(pg, target, q)).isEqualTo(SourceFixture.query(pg, source, q));
        SourceFixture.execute(pg, source, "UPDATE docs SET version = 3; INSERT INTO docs VALUES (3, 0, 'small')");
        sync(env);
        assertThat(SourceFixture.query(pg, target, q)).isEqualTo(SourceFixture.query(pg, source, q));
    }

    /**
     * A transaction in parts whose last part the destination rejected: its earlier parts are committed there, and the
     * next run applies every part again. Replaying an update that leaves a TOASTed value unchanged, for a key a later
     * part of the same transaction moved, must not lose the value.
     */
    @Test
    void replayedPartsOfATransactionKeepUnchangedToastedValues() throws Exception {
        String source = pg.createDatabase("log_parts_src");
        String target = pg.createDatabase("log_parts_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE docs (id int PRIMARY KEY, version int NOT NULL, body text);
                CREATE TABLE flags (id int PRIMARY KEY);
                INSERT INTO docs VALUES (1, 0, %s);""".formatted(ONE_MB.formatted("a")));
        Map<String, String> env = ownEnv(source, target, "e2e_parts");
        env.put("SOURCE_MAX_BATCH_SIZE", "1");
        sync(env);
        // the destination rejects the transaction's last part once
        SourceFixture.execute(pg, target, """
                CREATE FUNCTION reject() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'rejected once'; END $$;
                CREATE TRIGGER reject BEFORE INSERT ON flags FOR EACH ROW EXECUTE FUNCTION reject();""");
        SourceFixture.execute(pg, source, """
                BEGIN;
                UPDATE docs SET version = 1 WHERE id = 1;
                UPDATE docs SET id = 10 WHERE id = 1;
                INSERT INTO flags VALUES (1);
                COMMIT;""");
        assertThat(PgSourceMain.run(env, new Properties())).as("the destination rejected the last part").isEqualTo(1);
        SourceFixture.execute(pg, target, "DROP TRIGGER reject ON flags");
        sync(env);

        String q = "SELECT id, version, md5(body), length(body) FROM docs ORDER BY id";
        assertThat(SourceFixture.query(pg, target, q)).isEqualTo(SourceFixture.query(pg, source, q));
        assertThat(SourceFixture.query(pg, target, "SELECT id FROM flags")).containsExactly("1");
    }

    /**
     * A keyless REPLICA IDENTITY FULL table, a transaction in parts partly applied when the destination rejected its
     * last part; the next runs cut it into parts of other sizes. The destination stored how many of its changes it
     * applied, so each run skips exactly those, whatever the parts: no row doubled, none lost.
     */
    @Test
    void aPartlyAppliedTransactionOfAKeylessTableIsAppliedExactlyWhateverTheNextPartSize() throws Exception {
        String source = pg.createDatabase("log_keyless_parts_src");
        String target = pg.createDatabase("log_keyless_parts_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE history (account int NOT NULL, delta int NOT NULL);
                ALTER TABLE history REPLICA IDENTITY FULL;
                CREATE TABLE flags (id int PRIMARY KEY);""");
        Map<String, String> env = ownEnv(source, target, "e2e_keyless_parts");
        env.put("SOURCE_MAX_BATCH_SIZE", "4");
        sync(env);
        SourceFixture.execute(pg, target, """
                CREATE FUNCTION reject() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'rejected once'; END $$;
                CREATE TRIGGER reject BEFORE INSERT ON flags FOR EACH ROW EXECUTE FUNCTION reject();""");
        // 10 history rows (two of each) and the flag last: parts of 4 are 0-3, 4-7, 8-10; the last is rejected
        SourceFixture.execute(pg, source, """
                BEGIN;
                INSERT INTO history SELECT g % 5, 1 FROM generate_series(1, 10) g;
                INSERT INTO flags VALUES (1);
                COMMIT;""");
        assertThat(PgSourceMain.run(env, new Properties())).as("the destination rejected the last part").isEqualTo(1);
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM history")).as("two parts applied").containsExactly("8");
        assertThat(SourceFixture.query(pg, target, "SELECT position FROM _pgsource.positions WHERE stream = 'slot:e2e_keyless_parts'"))
                .singleElement().asString().endsWith("#8");

        // again rejected, now in parts of 3 (0-2, 3-5 skipped; 6-8 applied from 8 on; 9-10 rejected)
        env.put("SOURCE_MAX_BATCH_SIZE", "3");
        assertThat(PgSourceMain.run(env, new Properties())).isEqualTo(1);
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM history")).containsExactly("9");
        SourceFixture.execute(pg, target, "DROP TRIGGER reject ON flags");
        env.put("SOURCE_MAX_BATCH_SIZE", "100");
        sync(env);
        assertTableSame(source, target, "history");
        assertThat(SourceFixture.query(pg, target, "SELECT id FROM flags")).containsExactly("1");
    }

    @Test
    void addedColumnsArriveBetweenRunsAndInsideTheStream() throws Exception {
        String source = pg.createDatabase("log_ddl_src");
        String target = pg.createDatabase("log_ddl_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE items (id int PRIMARY KEY, name text);
                INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g;""");
        Map<String, String> env = ownEnv(source, target, "e2e_ddl");
        sync(env);

        // between two runs: the column exists before the stream sees any change of the table
        SourceFixture.execute(pg, source, """
                ALTER TABLE items ADD COLUMN color text;
                UPDATE items SET color = 'red' WHERE id % 3 = 0;
                INSERT INTO items VALUES (51, 'item 51', 'blue');""");
        sync(env);
        assertTableSame(source, target, "items");

        // inside the stream: changes with the old shape, the ALTER, changes with the new shape, all in one run
        SourceFixture.execute(pg, source, """
                INSERT INTO items VALUES (52, 'item 52', 'green');
                UPDATE items SET name = 'renamed' WHERE id = 1;
                ALTER TABLE items ADD COLUMN weight numeric(10,2), ADD COLUMN tags text[];
                INSERT INTO items VALUES (53, 'item 53', 'black', 12.50, '{a,b}');
                UPDATE items SET weight = id * 1.5 WHERE id <= 10;
                BEGIN;
                INSERT INTO items (id, name) VALUES (54, 'no weight');
                ALTER TABLE items ADD COLUMN size int;
                INSERT INTO items VALUES (55, 'inside one transaction', NULL, 1.00, '{}', 42);
                COMMIT;""");
        sync(env);
        assertTableSame(source, target, "items");
        assertThat(SourceFixture.query(pg, target, "SELECT column_name FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position"))
                .containsExactly("id", "name", "color", "weight", "tags", "size");
    }

    @Test
    void interleavedTransactionsApplyInCommitOrder() throws Exception {
        String source = pg.createDatabase("log_tx_src");
        String target = pg.createDatabase("log_tx_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL, note text);
                INSERT INTO acct SELECT g, 100, 'initial' FROM generate_series(1, 100) g;""");
        Map<String, String> env = ownEnv(source, target, "e2e_tx");
        sync(env);

        try (Connection a = pg.connect(source); Connection b = pg.connect(source); Statement sa = a.createStatement();
             Statement sb = b.createStatement()) {
            a.setAutoCommit(false);
            b.setAutoCommit(false);
            sa.execute("INSERT INTO acct VALUES (1001, 1, 'a first')");                           // A's first change
            sb.execute("INSERT INTO acct VALUES (1002, 2, 'b')");                                 // B starts after A
            sa.execute("UPDATE acct SET balance = balance - 10, note = 'a' WHERE id BETWEEN 1 AND 40");
            sb.execute("UPDATE acct SET balance = balance + 10, note = 'b' WHERE id BETWEEN 41 AND 80");
            sb.execute("DELETE FROM acct WHERE id BETWEEN 81 AND 85");
            sa.execute("INSERT INTO acct SELECT g, g, 'a bulk' FROM generate_series(2000, 4999) g");
            b.commit();                                                                            // B commits first
            // A now sees B's committed rows: applied in first-change order, these would come before B's insert
            sa.execute("UPDATE acct SET balance = 999, note = 'a after b' WHERE id = 1002 OR id BETWEEN 41 AND 45");
            sa.execute("DELETE FROM acct WHERE id BETWEEN 76 AND 80");
            a.commit();
        }
        sync(env);
        assertTableSame(source, target, "acct");
        assertThat(SourceFixture.query(pg, target, "SELECT balance, note FROM acct WHERE id = 1002")).containsExactly("999|a after b");
    }

    @Test
    void softDeleteKeepsDeletedRowsWithTheirDeletionTime() throws Exception {
        String source = pg.createDatabase("log_soft_src");
        String target = pg.createDatabase("log_soft_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE people (id int PRIMARY KEY, name text);
                INSERT INTO people SELECT g, 'person ' || g FROM generate_series(1, 20) g;""");
        Map<String, String> env = ownEnv(source, target, "e2e_soft");
        env.put("DESTINATION_SOFT_DELETE", "true");
        sync(env);

        SourceFixture.execute(pg, source, """
                DELETE FROM people WHERE id IN (3, 4, 5);
                UPDATE people SET name = 'renamed' WHERE id = 6;
                INSERT INTO people VALUES (4, 'back again');""");
        sync(env);

        assertThat(SourceFixture.query(pg, target, "SELECT id FROM people WHERE _deleted_at IS NOT NULL ORDER BY id")).containsExactly("3", "5");
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM people WHERE _deleted_at > now() - interval '10 minutes' AND _deleted_at <= now()"))
                .as("the deletion time is the recent source commit time").containsExactly("2");
        // the live rows equal the source; the re-inserted key is alive again
        assertThat(SourceFixture.query(pg, target, "SELECT id, name FROM people WHERE _deleted_at IS NULL ORDER BY id"))
                .isEqualTo(SourceFixture.query(pg, source, "SELECT id, name FROM people ORDER BY id"));
        assertThat(SourceFixture.query(pg, target, "SELECT name FROM people WHERE id = 4")).containsExactly("back again");
        assertThat(SourceFixture.query(pg, target, "SELECT name FROM people WHERE id = 3")).containsExactly("person 3");
    }

    @Test
    void jsonLinesGetEveryChangeOnceWithItsLsn(@TempDir Path out) throws Exception {
        String source = pg.createDatabase("log_jsonl_src");
        SourceFixture.execute(pg, source, """
                CREATE TABLE things (id int PRIMARY KEY, label text);
                CREATE TABLE scratch (id int PRIMARY KEY);
                INSERT INTO things SELECT g, 'thing ' || g FROM generate_series(1, 10) g;
                INSERT INTO scratch SELECT generate_series(1, 5);""");
        Map<String, String> env = ownEnv(source, null, "e2e_jsonl");
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", out.toString());
        sync(env);
        Path things = out.resolve("public.things.jsonl");
        Path scratch = out.resolve("public.scratch.jsonl");
        int thingsCopied = Files.readAllLines(things).size();
        int scratchCopied = Files.readAllLines(scratch).size();
        assertThat(thingsCopied).as("the initial copy wrote the rows").isGreaterThanOrEqualTo(10);

        SourceFixture.execute(pg, source, """
                INSERT INTO things VALUES (11, 'eleven'), (12, 'twelve');
                UPDATE things SET label = 'changed' WHERE id IN (1, 2, 11);
                DELETE FROM things WHERE id IN (3, 12);
                TRUNCATE scratch;""");
        sync(env);

        List<JsonNode> thingChanges = lines(things, thingsCopied);
        assertThat(thingChanges).allSatisfy(l -> assertThat(l.at("/source/lsn").asText()).matches("[0-9A-F]+/[0-9A-F]+"));
        assertThat(thingChanges.stream().map(l -> l.get("op").asText() + ":" + key(l)).toList())
                .containsExactly("c:11", "c:12", "u:1", "u:2", "u:11", "d:3", "d:12");
        assertThat(thingChanges.get(2).at("/after/label").asText()).isEqualTo("changed");
        List<JsonNode> scratchChanges = lines(scratch, scratchCopied);
        assertThat(scratchChanges.stream().map(l -> l.get("op").asText()).toList()).containsExactly("t");
        assertThat(scratchChanges.get(0).at("/source/lsn").asText()).isNotBlank();

        long thingsSize = Files.size(things);
        long scratchSize = Files.size(scratch);
        sync(env);
        assertThat(Files.size(things)).as("a run with nothing new adds nothing").isEqualTo(thingsSize);
        assertThat(Files.size(scratch)).isEqualTo(scratchSize);
    }

    private static List<JsonNode> lines(Path file, int skip) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> nodes = new ArrayList<>();
        for (String line : Files.readAllLines(file).subList(skip, Files.readAllLines(file).size())) {
            nodes.add(json.readTree(line));
        }
        return nodes;
    }

    private static String key(JsonNode line) {
        JsonNode row = line.get("after").isNull() ? line.get("before") : line.get("after");
        return row.get("id").asText();
    }

    private static void assertTableSame(String source, String target, String table) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            List<String> columns = TableCompare.columns(s, "public", table);
            String q = SourceFixture.qualified("public", table);
            assertThat(SourceFixture.rows(d, q, columns)).as(table).isEqualTo(SourceFixture.rows(s, q, columns));
        }
    }

    

    private static void assertSame(String source, String target) throws Exception {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            for (String[] t : COMPARED) {
                List<String> columns = TableCompare.columns(s, t[0], t[1]);
                String q = SourceFixture.qualified(t[0], t[1]);
                assertThat(SourceFixture.rows(d, q, columns)).as(t[0] + "." + t[1]).isEqualTo(SourceFixture.rows(s, q, columns));
            }
        }
    }

    private static long count(String db, String table) throws Exception {
        try (Connection c = pg.connect(db); var s = c.createStatement(); var rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
