package io.pgsource.pgoutput.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.SessionSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streamed in-progress transactions (protocol ≥ 2, {@code streaming} on, a 64 kB decoding memory limit): interleaved
 * segments, a rolled-back subtransaction, an aborted transaction, DDL inside a streamed transaction. The assembled
 * result must equal what the same slot position gives without streaming.
 */
class StreamedTransactionTest {
    private static final int MAX_BATCH = 1000;
    private static Connection c;
    private static String database;
    private static int serverMajor;
    private static final List<String> SLOTS = new ArrayList<>();
    private static List<Wal.Message> plain;
    private static List<Wal.Message> streamed;
    private static List<Wal.Message> parallel;
    private static long bigXid;
    private static long abortedXid;

    @TempDir
    Path spool;

    @BeforeAll
    static void workload() throws SQLException {
        Assumptions.assumeTrue(TestPostgres.server().majorVersion() >= 16, "streaming = parallel (protocol 4) came with PostgreSQL"
                + " 16; PostgresVersionsIT streams in-progress transactions on 14 and 15");
        serverMajor = TestPostgres.server().majorVersion();
        database = TestPostgres.server().createDatabase("pgoutput_stream");
        c = TestPostgres.server().connect(database);
        SessionSettings.apply(c);
        exec(c, "CREATE PUBLICATION pub FOR ALL TABLES");
        exec(c, "CREATE TABLE s (id int PRIMARY KEY, pad text)");
        exec(c, "CREATE TABLE other (id int PRIMARY KEY, v text)");
        String plainSlot = slot();
        String streamSlot = slot();
        String parallelSlot = slot();

        try (Connection c1 = TestPostgres.server().connect(database); Connection c2 = TestPostgres.server().connect(database)) {
            c1.setAutoCommit(false);
            c2.setAutoCommit(false);
            // one big transaction with a rolled-back subtransaction, a released one and DDL in the middle
            exec(c1, "INSERT INTO s SELECT g, repeat('a', 100) FROM generate_series(1, 3000) g");
            exec(c1, "SAVEPOINT sp");
            exec(c1, "INSERT INTO s SELECT g, repeat('r', 100) FROM generate_series(100001, 103000) g");
            exec(c1, "UPDATE s SET pad = 'rolled back' WHERE id <= 500");
            // nested subtransactions inside the rolled-back one: one released into it, one still open
            exec(c1, "SAVEPOINT released");
            exec(c1, "INSERT INTO s SELECT g, repeat('n', 100) FROM generate_series(200001, 201000) g");
            exec(c1, "RELEASE released");
            exec(c1, "INSERT INTO s SELECT g, repeat('r', 100) FROM generate_series(103001, 104000) g");
            exec(c1, "SAVEPOINT open");
            exec(c1, "INSERT INTO s SELECT g, repeat('o', 100) FROM generate_series(300001, 301000) g");
            exec(c1, "ROLLBACK TO sp");
            // a second transaction interleaves with it, and commits first
            exec(c2, "INSERT INTO other SELECT g, repeat('o', 100) FROM generate_series(1, 2000) g");
            exec(c1, "ALTER TABLE s ADD COLUMN extra text DEFAULT 'd'");
            exec(c1, "INSERT INTO s SELECT g, repeat('b', 100), 'e' || g FROM generate_series(3001, 4000) g");
            exec(c2, "INSERT INTO other SELECT g, repeat('p', 100) FROM generate_series(2001, 4000) g");
            exec(c1, "SAVEPOINT sp2");
            exec(c1, "INSERT INTO s SELECT g, repeat('c', 100) FROM generate_series(4001, 4500) g");
            exec(c1, "RELEASE sp2");
            exec(c1, "UPDATE s SET pad = 'updated' WHERE id <= 100");
            exec(c1, "DELETE FROM s WHERE id > 4450");
            c2.commit();
            bigXid = xid(c1);
            c1.commit();

            // an aborted big transaction
            exec(c1, "INSERT INTO other SELECT g, repeat('x', 100) FROM generate_series(900001, 903000) g");
            abortedXid = xid(c1);
            c1.rollback();
            // and a small one after it
            exec(c1, "INSERT INTO other VALUES (-1, 'small')");
            c1.commit();
        }

        plain = Wal.read(c, plainSlot, Wal.options(4));
        exec(c, "SET logical_decoding_work_mem = '64kB'");
        streamed = Wal.read(c, streamSlot, Wal.options(4, "streaming", "on"));
        parallel = Wal.read(c, parallelSlot, Wal.options(4, "streaming", "parallel"));
        exec(c, "RESET logical_decoding_work_mem");
    }

    @AfterAll
    static void tearDown() throws SQLException {
        if (c == null) {
            return; // skipped on an older server
        }
        for (String slot : SLOTS) {
            Wal.dropSlot(c, slot);
        }
        c.close();
    }

    @Test
    void theServerReallyStreamed() {
        assertThat(types(plain)).doesNotContain('S', 'A', 'c');
        assertThat(types(streamed)).contains('S', 'E', 'c', 'A');
        PgOutputDecoder decoder = new PgOutputDecoder(4);
        List<PgOutputMessage.StreamAbort> aborts = new ArrayList<>();
        for (Wal.Message m : streamed) {
            if (decoder.decode(m.buffer(), m.lsn()) instanceof PgOutputMessage.StreamAbort a) {
                aborts.add(a);
            }
        }
        // one abort per rolled-back subtransaction (the savepoint and both nested ones), then the whole-transaction
        // abort; without parallel, no abort LSN
        assertThat(aborts).filteredOn(a -> a.xid() == bigXid).hasSize(3).noneMatch(PgOutputMessage.StreamAbort::wholeTransaction);
        if (serverMajor < 18) {
            assertThat(aborts).anySatisfy(a -> {
                assertThat(a.xid()).isEqualTo(abortedXid);
                assertThat(a.wholeTransaction()).isTrue();
            });
        } else {
            // decoded after its abort (the SQL interface reads afterwards), PostgreSQL 18+ skips it: nothing of it is sent
            assertThat(aborts).noneMatch(a -> a.xid() == abortedXid);
        }
        assertThat(aborts).allSatisfy(a -> assertThat(a.abortLsn()).isZero());
    }

    @Test
    void parallelStreamingSendsTheAbortLsnAndTime() {
        PgOutputDecoder decoder = new PgOutputDecoder(4);
        List<PgOutputMessage.StreamAbort> aborts = new ArrayList<>();
        for (Wal.Message m : parallel) {
            if (decoder.decode(m.buffer(), m.lsn()) instanceof PgOutputMessage.StreamAbort a) {
                aborts.add(a);
            }
        }
        assertThat(aborts).isNotEmpty().allSatisfy(a -> {
            assertThat(a.abortLsn()).isPositive();
            assertThat(a.abortTime()).isNotNull();
        });
    }

    @Test
    void streamedAssemblyEqualsTheNonStreamedOne() throws IOException {
        Wal.Assembled expected = assemble(plain);
        Wal.Assembled actual = assemble(streamed);
        Wal.Assembled actualParallel = assemble(parallel);

        assertThat(describe(actual)).isEqualTo(describe(expected));
        assertThat(describe(actualParallel)).isEqualTo(describe(expected));
        assertThat(actual.parts).filteredOn(p -> p.xid() == bigXid).allSatisfy(p -> assertThat(p.streamed()).isTrue());
        assertThat(expected.parts).allSatisfy(p -> assertThat(p.streamed()).isFalse());

        // nothing spooled is left behind
        assertThat(actual.assembler.streamsInProgress()).isZero();
        try (Stream<Path> files = Files.list(spool)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void theRightChangesSurvive() {
        Wal.Assembled a = assemble(streamed);
        assertThat(a.parts).extracting(TransactionPart::xid).doesNotContain(abortedXid);
        List<ChangeEvent> big = a.parts.stream().filter(p -> p.xid() == bigXid).flatMap(p -> p.batch().stream()).toList();
        // 3000 + 1000 + 500 inserts, 100 updates, 50 deletes; nothing of the rolled-back subtransaction
        assertThat(big).hasSize(4650);
        assertThat(big).noneMatch(e -> e.after() != null && Integer.parseInt((String) e.after().get("id")) > 100000);
        assertThat(big).noneMatch(e -> e.after() != null && "rolled back".equals(e.after().get("pad")));
        assertThat(big.get(0).table().columns()).extracting(Column::name).containsExactly("id", "pad");
        assertThat(big.get(3000).table().columns()).extracting(Column::name).containsExactly("id", "pad", "extra");
        assertThat(big.get(3000).after().get("extra")).isEqualTo("e3001");
        assertThat(a.parts.get(a.parts.size() - 1).batch().get(0).after().get("id")).isEqualTo("-1");
    }

    @Test
    void closeDeletesTheSpoolsOfUnfinishedStreams() throws IOException {
        Wal.Assembled a = new Wal.Assembled(4, new RelationCache(new CatalogTypeNames(c)), MAX_BATCH, spool);
        int firstStop = streamed.stream().map(Wal.Message::type).toList().indexOf('E');
        a.feed(streamed.subList(0, firstStop + 1));
        assertThat(a.parts).isEmpty();
        assertThat(a.assembler.streamsInProgress()).isEqualTo(1);
        try (Stream<Path> files = Files.list(spool)) {
            assertThat(files).singleElement().satisfies(f -> assertThat(Files.size(f)).isPositive());
        }
        a.assembler.close();
        try (Stream<Path> files = Files.list(spool)) {
            assertThat(files).isEmpty();
        }
    }

    private Wal.Assembled assemble(List<Wal.Message> messages) {
        return new Wal.Assembled(4, new RelationCache(new CatalogTypeNames(c)), MAX_BATCH, spool).feed(messages);
    }

    /** Everything observable of the parts, without TableSchema identity. */
    private static List<String> describe(Wal.Assembled a) {
        List<String> lines = new ArrayList<>();
        for (TransactionPart p : a.parts) {
            lines.add("part xid=" + p.xid() + " index=" + p.index() + " last=" + p.last() + " position=" + p.position()
                    + " size=" + p.batch().size());
            for (ChangeEvent e : p.batch()) {
                lines.add(e.op() + " " + e.table() + " key=" + e.table().key() + " before=" + e.before() + " after=" + e.after()
                        + " unchanged=" + e.unchanged() + " at " + e.position());
            }
        }
        return lines;
    }

    private static List<Character> types(List<Wal.Message> messages) {
        return messages.stream().map(Wal.Message::type).distinct().toList();
    }

    private static String slot() throws SQLException {
        String slot = Wal.createSlot(c, "st");
        SLOTS.add(slot);
        return slot;
    }

    private static long xid(Connection conn) throws SQLException {
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_current_xact_id()::text::bigint & 4294967295")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void exec(Connection conn, String statement) throws SQLException {
        try (Statement s = conn.createStatement()) {
            s.execute(statement);
        }
    }
}
