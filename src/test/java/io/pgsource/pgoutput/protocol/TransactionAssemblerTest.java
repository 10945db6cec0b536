package io.pgsource.pgoutput.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.catalog.CatalogReader;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.SessionSettings;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The assembler over real pgoutput output (the server's newest protocol, text mode) read through the SQL interface. */
class TransactionAssemblerTest {
    private static String database;
    private static Connection c;
    private static int protocol;

    @TempDir
    Path spool;

    private final List<String> slots = new ArrayList<>();

    @BeforeAll
    static void setUp() throws SQLException {
        database = TestPostgres.server().createDatabase("pgoutput_tx");
        c = TestPostgres.server().connect(database);
        SessionSettings.apply(c);
        protocol = Wal.newestProtocol(c);
        sql("CREATE PUBLICATION pub FOR ALL TABLES");
    }

    @AfterAll
    static void tearDown() throws SQLException {
        c.close();
    }

    @AfterEach
    void dropSlots() throws SQLException {
        for (String slot : slots) {
            Wal.dropSlot(c, slot);
        }
    }

    @Test
    void insertUpdateDeleteTruncateWithDefaultIdentity() throws SQLException {
        sql("CREATE TABLE crud (id int PRIMARY KEY, name text, n numeric)");
        String slot = slot();
        OffsetDateTime before = now();
        long xid1 = tx("INSERT INTO crud VALUES (1, 'a', 1.50), (2, 'b', NULL)");
        OffsetDateTime after = now();
        long xid2 = tx("UPDATE crud SET name = 'a2' WHERE id = 1", "UPDATE crud SET id = 3 WHERE id = 2");
        long xid3 = tx("DELETE FROM crud WHERE id = 1");
        long xid4 = tx("TRUNCATE crud");

        List<Wal.Message> messages = Wal.read(c, slot, Wal.options(protocol));
        Wal.Assembled a = assemble(messages, 1000);

        assertThat(a.parts).hasSize(4);
        assertThat(a.parts).allSatisfy(p -> assertThat(p.last()).isTrue());
        assertThat(a.parts).extracting(TransactionPart::xid).containsExactly(xid1, xid2, xid3, xid4);

        // the batch position is the commit's end LSN: the lsn the SQL interface reports for the Commit message
        List<Long> commitEnds = messages.stream().filter(m -> m.type() == 'C').map(Wal.Message::lsn).toList();
        assertThat(a.parts).extracting(p -> p.position().commitLsn()).containsExactlyElementsOf(commitEnds);
        assertThat(a.parts.get(0).acknowledgeLsn()).hasValue(commitEnds.get(0));

        TransactionPart inserts = a.parts.get(0);
        OffsetDateTime commitTime = inserts.position().commitTime();
        assertThat(commitTime).isAfterOrEqualTo(before).isBeforeOrEqualTo(after);
        PgOutputMessage.Begin begin = (PgOutputMessage.Begin) new PgOutputDecoder(protocol).decode(messages.get(0).buffer(), 0);
        for (ChangeEvent e : inserts.batch()) {
            // every event carries the commit record's LSN; the batch carries the end of that record
            assertThat(e.position()).isEqualTo(new Position.Log(begin.finalLsn(), xid1, commitTime));
            assertThat(begin.finalLsn()).isLessThan(inserts.position().commitLsn());
        }
        assertThat(inserts.batch()).extracting(ChangeEvent::op).containsExactly(Op.INSERT, Op.INSERT);
        assertThat(values(inserts.batch().get(0).after())).containsExactly("1", "a", "1.50");
        assertThat(values(inserts.batch().get(1).after())).containsExactly("2", "b", null);
        TableSchema schema = inserts.batch().get(0).table();
        assertThat(schema.id()).isEqualTo(new TableId("public", "crud"));
        assertThat(schema.key()).containsExactly("id");
        assertThat(schema.columns()).containsExactly(new Column("id", 23, "integer", "integer"),
                new Column("name", 25, "text", "text"), new Column("n", 1700, "numeric", "numeric"));

        List<ChangeEvent> updates = a.parts.get(1).batch();
        assertThat(updates).extracting(ChangeEvent::op).containsExactly(Op.UPDATE, Op.UPDATE);
        assertThat(updates.get(0).before()).as("no old tuple when the key did not change").isNull();
        assertThat(values(updates.get(0).after())).containsExactly("1", "a2", "1.50");
        // a primary-key change: the old key ('K'), every other column null
        assertThat(values(updates.get(1).before())).containsExactly("2", null, null);
        assertThat(values(updates.get(1).after())).containsExactly("3", "b", null);

        ChangeEvent delete = a.parts.get(2).batch().get(0);
        assertThat(delete.op()).isEqualTo(Op.DELETE);
        assertThat(delete.after()).isNull();
        assertThat(values(delete.before())).containsExactly("1", null, null);

        ChangeEvent truncate = a.parts.get(3).batch().get(0);
        assertThat(truncate.op()).isEqualTo(Op.TRUNCATE);
        assertThat(truncate.tableId()).isEqualTo(new TableId("public", "crud"));
        assertThat(a.assembler.relations().fullIdentity(oid("crud"))).isFalse();
        assertThat(a.assembler.relations().fullIdentity(new TableId("public", "crud"))).isFalse();
    }

    @Test
    void replicaIdentityFullSendsTheWholeOldRow() throws SQLException {
        sql("CREATE TABLE full_id (id int PRIMARY KEY, name text, n int)");
        sql("ALTER TABLE full_id REPLICA IDENTITY FULL");
        sql("INSERT INTO full_id VALUES (1, 'a', 10), (2, 'b', 20)");
        String slot = slot();
        tx("UPDATE full_id SET name = 'a2' WHERE id = 1", "DELETE FROM full_id WHERE id = 2");

        Wal.Assembled a = assemble(Wal.read(c, slot, Wal.options(protocol)), 1000);
        List<ChangeEvent> events = a.events();
        assertThat(values(events.get(0).before())).containsExactly("1", "a", "10");
        assertThat(values(events.get(0).after())).containsExactly("1", "a2", "10");
        assertThat(values(events.get(1).before())).containsExactly("2", "b", "20");
        // FULL flags every column as replica identity; the key is the primary key, as the catalog discovery has it
        assertThat(events.get(0).table().key()).containsExactly("id");
        assertThat(a.assembler.relations().fullIdentity(oid("full_id"))).isTrue();
        assertThat(a.assembler.relations().fullIdentity(events.get(0).tableId())).isTrue();
    }

    @Test
    void aReplicaIdentityFullTableWithoutPrimaryKeyIsKeylessNotKeyedByEveryColumn() throws SQLException {
        sql("CREATE TABLE full_keyless (account int, amount numeric, memo text)");
        sql("ALTER TABLE full_keyless REPLICA IDENTITY FULL");
        sql("CREATE TABLE full_composite (b text, a int, v text, PRIMARY KEY (a, b))");
        sql("ALTER TABLE full_composite REPLICA IDENTITY FULL");
        String slot = slot();
        tx("INSERT INTO full_keyless VALUES (1, 1.5, 'x'), (1, 1.5, 'x')", "DELETE FROM full_keyless WHERE ctid = (SELECT min(ctid) FROM full_keyless)",
                "INSERT INTO full_composite VALUES ('k', 1, 'v')");

        List<ChangeEvent> events = assemble(Wal.read(c, slot, Wal.options(protocol)), 1000).events();
        assertThat(events.get(0).table().key()).isEmpty();
        assertThat(events.get(0).table().hasKey()).isFalse();
        assertThat(values(events.get(2).before())).containsExactly("1", "1.5", "x");
        assertThat(events.get(3).table().key()).containsExactly("a", "b");
    }

    @Test
    void unchangedToastIsFlaggedNotNulledSilently() throws SQLException {
        sql("CREATE TABLE toasty (id int PRIMARY KEY, big text, small int)");
        sql("ALTER TABLE toasty ALTER COLUMN big SET STORAGE EXTERNAL");
        String slot = slot();
        tx("INSERT INTO toasty SELECT 1, string_agg(md5(g::text), '') , 1 FROM generate_series(1, 40000) g");
        tx("UPDATE toasty SET small = 2 WHERE id = 1");

        List<ChangeEvent> events = assemble(Wal.read(c, slot, Wal.options(protocol)), 1000).events();
        String big = (String) events.get(0).after().get("big");
        assertThat(big).hasSize(40000 * 32).isEqualTo(scalar("SELECT big FROM toasty"));
        assertThat(events.get(0).unchanged()).isEmpty();

        ChangeEvent update = events.get(1);
        assertThat(update.unchanged()).containsExactly("big");
        assertThat(values(update.after())).containsExactly("1", null, "2");
        assertThat(update.before()).isNull();
    }

    @Test
    void sameNamedTablesInTwoSchemasStayApart() throws SQLException {
        sql("CREATE SCHEMA east; CREATE SCHEMA west");
        sql("CREATE TABLE east.items (id int PRIMARY KEY, e text)");
        sql("CREATE TABLE west.items (code text PRIMARY KEY, w int, extra text)");
        String slot = slot();
        tx("INSERT INTO east.items VALUES (1, 'e1')", "INSERT INTO west.items VALUES ('w1', 7, 'x')");

        List<ChangeEvent> events = assemble(Wal.read(c, slot, Wal.options(protocol)), 1000).events();
        assertThat(events).extracting(ChangeEvent::tableId)
                .containsExactly(new TableId("east", "items"), new TableId("west", "items"));
        assertThat(events.get(0).after().asMap()).containsExactly(entry("id", "1"), entry("e", "e1"));
        assertThat(events.get(1).after().asMap()).containsExactly(entry("code", "w1"), entry("w", "7"), entry("extra", "x"));
        assertThat(events.get(1).table().key()).containsExactly("code");
    }

    @Test
    void addColumnMidStreamGivesANewSchema() throws SQLException {
        sql("CREATE TABLE growing (id int PRIMARY KEY, a text)");
        String slot = slot();
        tx("INSERT INTO growing VALUES (1, 'x')");
        tx("ALTER TABLE growing ADD COLUMN b numeric(12,2) DEFAULT 3", "INSERT INTO growing VALUES (2, 'y', 4.5)");
        tx("INSERT INTO growing VALUES (3, 'z')");

        List<ChangeEvent> events = assemble(Wal.read(c, slot, Wal.options(protocol)), 1000).events();
        TableSchema v1 = events.get(0).table();
        TableSchema v2 = events.get(1).table();
        assertThat(v1.columns()).extracting(Column::name).containsExactly("id", "a");
        assertThat(v2.columns()).extracting(Column::name).containsExactly("id", "a", "b");
        assertThat(v2.columns().get(2)).isEqualTo(new Column("b", 1700, "numeric(12,2)", "numeric(12,2)"));
        assertThat(values(events.get(1).after())).containsExactly("2", "y", "4.50");
        // a resent identical Relation keeps the schema instance
        assertThat(events.get(2).table()).isSameAs(v2);
        assertThat(values(events.get(2).after())).containsExactly("3", "z", "3.00");
    }

    @Test
    void droppedColumnsAreNotColumnsAndGeneratedOnesTheStreamLacksAreKnown() throws SQLException {
        sql("CREATE TABLE shaped (id int PRIMARY KEY, gone text, a text, twice int GENERATED ALWAYS AS (id * 2) STORED, b int)");
        sql("ALTER TABLE shaped DROP COLUMN gone");
        String slot = slot();
        tx("INSERT INTO shaped (id, a, b) VALUES (5, 'five', 55)");

        ChangeEvent insert = assemble(Wal.read(c, slot, Wal.options(protocol)), 1000).events().get(0);
        assertThat(insert.table().columns()).extracting(Column::name).containsExactly("id", "a", "b");
        assertThat(values(insert.after())).containsExactly("5", "five", "55");
        // pgoutput leaves it out, the catalog still knows it: a destination first seeing the table in a stream computes it
        assertThat(insert.table().generatedNotInRows()).singleElement()
                .isEqualTo(new Column("twice", 23, "integer", "integer", "(id * 2)"));
    }

    @Test
    void storedGeneratedColumnsPublishedOnPostgres18AreMarkedInTheRows() throws SQLException {
        Assumptions.assumeTrue(c.getMetaData().getDatabaseMajorVersion() >= 18,
                "publish_generated_columns exists from PostgreSQL 18 on; this server is older");
        sql("CREATE TABLE gen18 (id int PRIMARY KEY, twice int GENERATED ALWAYS AS (id * 2) STORED, b int)");
        sql("CREATE PUBLICATION pub_gen18 FOR TABLE gen18 WITH (publish_generated_columns = stored)");
        String slot = slot();
        tx("INSERT INTO gen18 (id, b) VALUES (5, 55)");

        ChangeEvent insert = assemble(Wal.read(c, slot, "proto_version", "4", "publication_names", "pub_gen18"), 1000).events().get(0);
        assertThat(insert.table().columns()).extracting(Column::name).containsExactly("id", "twice", "b");
        assertThat(insert.table().columns().get(1).generation()).isEqualTo("(id * 2)");
        assertThat(insert.table().generatedNotInRows()).isEmpty();
        assertThat(values(insert.after())).containsExactly("5", "10", "55");
        // the same columns, types and expressions as the batch query reads, so rows of both paths are equal
        assertThat(insert.table().columns()).isEqualTo(CatalogReader.discover(c, List.of("public"), List.of(new TableId("public", "gen18")))
                .get(0).schema().columns());
    }

    @Test
    void interleavedTransactionsComeInCommitOrder() throws SQLException {
        sql("CREATE TABLE inter (id int PRIMARY KEY, who text)");
        String slot = slot();
        try (Connection c1 = TestPostgres.server().connect(database); Connection c2 = TestPostgres.server().connect(database)) {
            c1.setAutoCommit(false);
            c2.setAutoCommit(false);
            exec(c1, "INSERT INTO inter VALUES (1, 'first')");
            exec(c2, "INSERT INTO inter VALUES (2, 'second')");
            exec(c1, "INSERT INTO inter VALUES (3, 'first')");
            exec(c2, "INSERT INTO inter VALUES (4, 'second')");
            long xid2 = xid(c2);
            c2.commit();
            long xid1 = xid(c1);
            c1.commit();

            Wal.Assembled a = assemble(Wal.read(c, slot, Wal.options(protocol)), 1000);
            assertThat(a.parts).extracting(TransactionPart::xid).containsExactly(xid2, xid1);
            assertThat(a.parts.get(0).batch()).extracting(e -> e.after().get("id")).containsExactly("2", "4");
            assertThat(a.parts.get(1).batch()).extracting(e -> e.after().get("id")).containsExactly("1", "3");
            assertThat(a.parts.get(0).position().commitLsn()).isLessThan(a.parts.get(1).position().commitLsn());
        }
    }

    @Test
    void aHugeTransactionComesInParts() throws SQLException {
        sql("CREATE TABLE huge (id int PRIMARY KEY, v text)");
        String slot = slot();
        long xid = tx("INSERT INTO huge SELECT g, 'v' || g FROM generate_series(1, 50000) g");

        Wal.Assembled a = assemble(Wal.read(c, slot, Wal.options(protocol)), 10_000);
        assertThat(a.parts).hasSize(5);
        assertThat(a.parts).extracting(TransactionPart::index).containsExactly(0, 1, 2, 3, 4);
        assertThat(a.parts).extracting(TransactionPart::last).containsExactly(false, false, false, false, true);
        assertThat(a.parts).allSatisfy(p -> {
            assertThat(p.xid()).isEqualTo(xid);
            assertThat(p.batch()).hasSize(10_000);
        });
        assertThat(a.parts.subList(0, 4)).allSatisfy(p -> assertThat(p.acknowledgeLsn()).isEmpty());
        Position.Log commit = a.parts.get(4).position();
        Position.Log eventPosition = (Position.Log) a.parts.get(4).batch().get(0).position();
        // earlier parts carry the commit record's LSN (below the end LSN): never something to acknowledge
        assertThat(a.parts.get(0).position()).isEqualTo(eventPosition);
        assertThat(eventPosition.commitLsn()).isLessThan(commit.commitLsn());
        assertThat(a.parts.get(4).acknowledgeLsn()).hasValue(commit.commitLsn());
        List<Object> ids = a.events().stream().map(e -> e.after().get("id")).toList();
        assertThat(ids).hasSize(50_000).first().isEqualTo("1");
        assertThat(ids.get(49_999)).isEqualTo("50000");
        assertThat(Set.copyOf(ids)).hasSize(50_000);
    }

    @Test
    void logicalDecodingMessagesAreKeptBesideTheEvents() throws SQLException {
        Assumptions.assumeTrue(protocol >= 2, "pgoutput sends logical decoding messages from PostgreSQL 14");
        sql("CREATE TABLE noted (id int PRIMARY KEY)");
        String slot = slot();
        long xid = tx("INSERT INTO noted VALUES (1)", "SELECT pg_logical_emit_message(true, 'prefix', 'content')",
                "INSERT INTO noted VALUES (2)");
        sql("SELECT pg_logical_emit_message(false, 'loose', 'now')");
        long onlyMessage = tx("SELECT pg_logical_emit_message(true, 'alone', '')");

        Wal.Assembled a = assemble(Wal.read(c, slot, Wal.options(protocol)), 1000);
        assertThat(a.parts).extracting(TransactionPart::xid).containsExactly(xid, onlyMessage);
        TransactionPart part = a.parts.get(0);
        assertThat(part.batch()).hasSize(2);
        assertThat(part.messages()).hasSize(1);
        TransactionPart.Message m = part.messages().get(0);
        assertThat(m.eventIndex()).isEqualTo(1);
        assertThat(m.message().transactional()).isTrue();
        assertThat(m.message().prefix()).isEqualTo("prefix");
        assertThat(new String(m.message().content(), StandardCharsets.UTF_8)).isEqualTo("content");

        assertThat(a.nonTransactional).singleElement().satisfies(l -> {
            assertThat(l.transactional()).isFalse();
            assertThat(l.prefix()).isEqualTo("loose");
            assertThat(new String(l.content(), StandardCharsets.UTF_8)).isEqualTo("now");
        });
        // a transaction with only a message is an empty batch whose position can still be acknowledged
        assertThat(a.parts.get(1).batch()).isEmpty();
        assertThat(a.parts.get(1).acknowledgeLsn()).isPresent();
        assertThat(a.parts.get(1).messages()).extracting(x -> x.message().prefix()).containsExactly("alone");
    }

    // --- helpers

    private Wal.Assembled assemble(List<Wal.Message> messages, int maxBatchSize) {
        Wal.Assembled a = new Wal.Assembled(protocol, new RelationCache(new CatalogTypeNames(c), new CatalogPrimaryKeys(c),
                new CatalogGeneratedColumns(c), PartitionRoots.NONE, ColumnOrigins.NONE, oid -> true, t -> true), maxBatchSize, spool);
        return a.feed(messages);
    }

    private String slot() throws SQLException {
        String slot = Wal.createSlot(c, "tx");
        slots.add(slot);
        return slot;
    }

    /** Runs the statements in one transaction and returns its xid. */
    private static long tx(String... statements) throws SQLException {
        c.setAutoCommit(false);
        try {
            for (String s : statements) {
                exec(c, s);
            }
            long xid = xid(c);
            c.commit();
            return xid;
        } finally {
            c.setAutoCommit(true);
        }
    }

    private static long xid(Connection conn) throws SQLException {
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_current_xact_id()::text::bigint & 4294967295")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static OffsetDateTime now() throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT clock_timestamp()")) {
            rs.next();
            return rs.getObject(1, OffsetDateTime.class);
        }
    }

    private static int oid(String table) throws SQLException {
        return Integer.parseInt(scalar("SELECT '" + table + "'::regclass::oid::text"));
    }

    private static String scalar(String query) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(query)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static void exec(Connection conn, String statement) throws SQLException {
        try (Statement s = conn.createStatement()) {
            s.execute(statement);
        }
    }

    private static void sql(String statement) throws SQLException {
        exec(c, statement);
    }

    static List<Object> values(io.pgsource.change.Row row) {
        Object[] v = new Object[row.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = row.get(i);
        }
        return Arrays.asList(v);
    }

    private static java.util.Map.Entry<String, Object> entry(String k, Object v) {
        return new java.util.AbstractMap.SimpleImmutableEntry<>(k, v);
    }
}
