package io.pgsource.pgoutput.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streamed transactions handed over while in progress ({@link InProgressTransaction}), on real streams (a 64 kB
 * decoding memory limit, read through the SQL interface): when they are applied early and when they are demoted, and
 * in every case a destination that applies the parts as they say ends up with exactly the changes of the same WAL read
 * without streaming.
 */
class InProgressAssemblyTest {
    private static final int MAX_BATCH = 1000;
    private static WalDatabase db;
    private static Connection c;
    private static int protocol;

    @TempDir
    Path spool;

    @BeforeAll
    static void server() throws SQLException {
        db = new WalDatabase("in_progress", "inp");
        c = db.connection();
        protocol = db.protocol();
        exec(c, "CREATE TABLE t (id int PRIMARY KEY, pad text)");
        exec(c, "CREATE TABLE other (id int PRIMARY KEY, v text)");
    }

    @AfterAll
    static void tearDown() throws SQLException {
        db.close();
    }

    /** The WAL of a workload, read once streamed and once not. */
    private record Workload(List<Wal.Message> streamed, List<Wal.Message> plain) {
    }

    private interface Work {
        void run(Connection c1, Connection c2) throws SQLException;
    }

    private static Workload workload(Work work) throws SQLException {
        String slot = db.slot();
        try (Connection c1 = TestPostgres.server().connect(c.getCatalog()); Connection c2 = TestPostgres.server().connect(c.getCatalog())) {
            c1.setAutoCommit(false);
            c2.setAutoCommit(false);
            work.run(c1, c2);
        }
        exec(c, "SET logical_decoding_work_mem = '64kB'");
        List<Wal.Message> streamed = Wal.peek(c, slot, Wal.options(protocol, "streaming", "on"));
        exec(c, "RESET logical_decoding_work_mem");
        List<Wal.Message> plain = Wal.read(c, slot, Wal.options(protocol));
        assertThat(streamed).extracting(Wal.Message::type).as("the server streamed").contains('S', 'c');
        return new Workload(streamed, plain);
    }

    /** A destination that applies parts as they ask, and keeps what it committed. */
    private final class Destination implements java.util.function.Consumer<TransactionPart> {
        final List<TransactionPart> parts = new ArrayList<>();
        final List<ChangeEvent> committed = new ArrayList<>();
        final List<ChangeEvent> open = new ArrayList<>();
        /** Applying which part fails (the destination then rolls back: demoted). */
        Predicate<TransactionPart> fails = p -> false;
        final TransactionAssembler assembler = new TransactionAssembler(protocol, new RelationCache(new CatalogTypeNames(c)), MAX_BATCH,
                spool, this, m -> { }, t -> assertThat(t.resolved()).as("the destination said at once").isTrue());

        @Override
        public void accept(TransactionPart p) {
            parts.add(p);
            InProgressTransaction.Step step = p.inProgressStep();
            if (step == null) {
                assertThat(open).as("another transaction while one is open").isEmpty();
                committed.addAll(p.batch());
                return;
            }
            switch (step) {
                case APPLY -> {
                    if (p.index() == 0) {
                        open.clear();
                    }
                    assertThat(p.last()).isFalse();
                    assertThat(p.acknowledgeLsn()).isEmpty();
                    if (fails.test(p)) {
                        open.clear();
                        p.inProgress().transaction().demote();
                    } else {
                        open.addAll(p.batch());
                    }
                }
                case COMMIT -> {
                    if (!p.inProgress().transaction().demoted()) {
                        committed.addAll(open);
                        p.inProgress().transaction().committed();
                        assertThat(p.acknowledgeLsn()).hasValue(p.position().commitLsn());
                    }
                    open.clear();
                }
                case ROLLBACK -> open.clear();
            }
        }

        Destination feed(List<Wal.Message> messages) {
            for (Wal.Message m : messages) {
                assembler.accept(m.buffer(), m.lsn());
            }
            return this;
        }

        List<TransactionPart> steps(InProgressTransaction.Step step) {
            return parts.stream().filter(p -> p.inProgressStep() == step).toList();
        }

        List<TransactionPart> replayed() {
            return parts.stream().filter(p -> p.inProgress() == null && p.streamed()).toList();
        }
    }

    /** What the plain read of the same WAL gives: every change in commit order. */
    private List<String> expected(Workload w) {
        Wal.Assembled a = new Wal.Assembled(protocol, new RelationCache(new CatalogTypeNames(c)), MAX_BATCH, spool).feed(w.plain());
        return describe(a.events());
    }

    private static List<String> describe(List<ChangeEvent> events) {
        return events.stream().map(e -> e.op() + " " + e.tableId() + " before=" + e.before() + " after=" + e.after() + " unchanged="
                + e.unchanged()).toList();
    }

    private void assertNoSpoolLeft(Destination d) throws Exception {
        assertThat(d.assembler.streamsInProgress()).isZero();
        try (Stream<Path> files = Files.list(spool)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void aLargeTransactionAloneIsAppliedWhileInProgressAndCommittedAtItsCommit() throws Exception {
        Workload w = workload((c1, c2) -> {
            exec(c1, "INSERT INTO t SELECT g, repeat('a', 100) FROM generate_series(1, 5000) g");
            exec(c1, "UPDATE t SET pad = 'u' WHERE id <= 5000 AND id % 10 = 0");
            exec(c1, "DELETE FROM t WHERE id BETWEEN 4901 AND 5000");
            c1.commit();
        });
        Destination d = new Destination().feed(w.streamed());

        assertThat(describe(d.committed)).isEqualTo(expected(w));
        assertThat(d.steps(InProgressTransaction.Step.APPLY)).hasSizeGreaterThan(1)
                .allSatisfy(p -> assertThat(p.batch().size()).isLessThanOrEqualTo(MAX_BATCH));
        assertThat(d.steps(InProgressTransaction.Step.ROLLBACK)).isEmpty();
        assertThat(d.replayed()).as("nothing replayed from the spool").isEmpty();
        TransactionPart commit = d.steps(InProgressTransaction.Step.COMMIT).get(0);
        TransactionPart plainLast = new Wal.Assembled(protocol, new RelationCache(new CatalogTypeNames(c)), MAX_BATCH, spool)
                .feed(w.plain()).parts.stream().filter(TransactionPart::last).reduce((a, b) -> b).orElseThrow();
        assertThat(commit.position()).isEqualTo(plainLast.position());
        assertThat(commit.last()).isTrue();
        assertThat(commit.changesBefore()).isEqualTo(5000 + 500 + 100);
        assertThat(commit.inProgress().transaction().commitRecordLsn()).isEqualTo(((io.pgsource.change.Position.Log) plainLast.batch().get(0).position()).commitLsn());
        // provisional events carry a position below the commit record, without its time
        assertThat(d.steps(InProgressTransaction.Step.APPLY).get(0).batch().get(0).position())
                .satisfies(p -> assertThat(Long.compareUnsigned(((io.pgsource.change.Position.Log) p).commitLsn(),
                        commit.inProgress().transaction().commitRecordLsn())).isNegative());
        assertNoSpoolLeft(d);
    }

    @Test
    void aRolledBackSubtransactionDemotesItToTheReplayAtItsCommit() throws Exception {
        Workload w = workload((c1, c2) -> {
            exec(c1, "INSERT INTO t SELECT g, repeat('a', 100) FROM generate_series(10001, 13000) g");
            exec(c1, "SAVEPOINT sp");
            exec(c1, "INSERT INTO t SELECT g, repeat('r', 100) FROM generate_series(20001, 23000) g");
            exec(c1, "ROLLBACK TO sp");
            exec(c1, "INSERT INTO t SELECT g, repeat('b', 100) FROM generate_series(13001, 14000) g");
            c1.commit();
        });
        Destination d = new Destination().feed(w.streamed());

        assertThat(describe(d.committed)).isEqualTo(expected(w)).hasSize(4000);
        assertThat(d.steps(InProgressTransaction.Step.APPLY)).isNotEmpty();
        assertThat(d.steps(InProgressTransaction.Step.ROLLBACK)).hasSize(1);
        assertThat(d.steps(InProgressTransaction.Step.COMMIT)).isEmpty();
        assertThat(d.replayed()).isNotEmpty();
        assertNoSpoolLeft(d);
    }

    @Test
    void anotherTransactionCommittingWhileItIsOpenDemotesItFirst() throws Exception {
        Workload w = workload((c1, c2) -> {
            exec(c1, "INSERT INTO t SELECT g, repeat('a', 100) FROM generate_series(30001, 33000) g");
            exec(c2, "INSERT INTO other VALUES (1, 'small')");
            c2.commit();
            exec(c1, "INSERT INTO t SELECT g, repeat('b', 100) FROM generate_series(33001, 36000) g");
            c1.commit();
        });
        Destination d = new Destination().feed(w.streamed());

        assertThat(describe(d.committed)).isEqualTo(expected(w));
        int rollback = d.parts.indexOf(d.steps(InProgressTransaction.Step.ROLLBACK).get(0));
        int small = d.parts.indexOf(d.parts.stream().filter(p -> !p.streamed()).findFirst().orElseThrow());
        assertThat(rollback).as("rolled back before the other transaction reaches the destination").isLessThan(small);
        assertThat(d.steps(InProgressTransaction.Step.COMMIT)).isEmpty();
        assertNoSpoolLeft(d);
    }

    @Test
    void interleavedStreamsAreAppliedAfterTheirCommits() throws Exception {
        Workload w = workload((c1, c2) -> {
            exec(c1, "INSERT INTO t SELECT g, repeat('a', 100) FROM generate_series(40001, 43000) g");
            exec(c2, "INSERT INTO other SELECT g, repeat('o', 100) FROM generate_series(1001, 4000) g");
            exec(c1, "INSERT INTO t SELECT g, repeat('b', 100) FROM generate_series(43001, 46000) g");
            exec(c2, "INSERT INTO other SELECT g, repeat('p', 100) FROM generate_series(4001, 7000) g");
            c2.commit();
            c1.commit();
        });
        Destination d = new Destination().feed(w.streamed());

        assertThat(describe(d.committed)).isEqualTo(expected(w));
        assertThat(d.steps(InProgressTransaction.Step.COMMIT)).isEmpty();
        assertThat(d.parts).filteredOn(p -> p.inProgressStep() == InProgressTransaction.Step.APPLY)
                .allSatisfy(p -> assertThat(p.inProgress().transaction().demoted()).isTrue());
        assertNoSpoolLeft(d);
    }

    /** A stream read while a large transaction is in progress (streamed in blocks, no Stream Commit yet); it aborts after. */
    private static List<Wal.Message> inProgressStream(int from) throws SQLException, InterruptedException {
        String slot = db.slot();
        List<Wal.Message> stream = new ArrayList<>();
        try (Connection c1 = TestPostgres.server().connect(c.getCatalog())) {
            c1.setAutoCommit(false);
            exec(c1, "INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(" + from + ", " + (from + 4999) + ") g");
            exec(c, "SET logical_decoding_work_mem = '64kB'");
            // a transaction that changes nothing published commits, which flushes the WAL the read decodes up to; on a
            // busy machine the first read can still find nothing streamed yet, so it reads again (the transaction stays open)
            // (the tests need more than one part, MAX_BATCH changes, applied before the end)
            for (int attempt = 0; attempt < 50 && stream.stream().filter(m -> m.type() == 'I').count() <= 2 * MAX_BATCH; attempt++) {
                if (attempt > 0) {
                    Thread.sleep(100);
                }
                exec(c, "SELECT pg_current_xact_id()");
                stream.clear();
                stream.addAll(Wal.peek(c, slot, Wal.options(protocol, "streaming", "on")));
            }
            exec(c, "RESET logical_decoding_work_mem");
            c1.rollback();
        }
        assertThat(stream).extracting(Wal.Message::type).contains('S').doesNotContain('c');
        return stream;
    }

    @Test
    void aStreamThatEndsWhileItIsOpenRollsItBack() throws Exception {
        Destination d = new Destination().feed(inProgressStream(70001));
        assertThat(d.open).isNotEmpty();
        TransactionPart abandoned = d.assembler.abandonInProgress();
        assertThat(abandoned.inProgressStep()).isEqualTo(InProgressTransaction.Step.ROLLBACK);
        d.accept(abandoned);
        assertThat(d.open).isEmpty();
        assertThat(d.assembler.abandonInProgress()).isNull();
        d.assembler.close();
        try (Stream<Path> files = Files.list(spool)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void anAbortedTransactionIsRolledBack() throws Exception {
        List<Wal.Message> stream = inProgressStream(50001);
        Wal.Message start = stream.stream().filter(m -> m.type() == 'S').findFirst().orElseThrow();
        long xid = ((PgOutputMessage.StreamStart) new PgOutputDecoder(protocol).decode(start.buffer(), start.lsn())).xid();
        // what the server sends at its abort (streaming=on: xid and subtransaction xid, the same for the whole transaction)
        java.nio.ByteBuffer abort = java.nio.ByteBuffer.allocate(9).put((byte) 'A').putInt((int) xid).putInt((int) xid);
        Destination d = new Destination().feed(stream);
        assertThat(d.open).as("applied in progress up to its abort").isNotEmpty();
        d.feed(List.of(new Wal.Message(stream.get(stream.size() - 1).lsn(), xid, abort.array())));

        assertThat(d.steps(InProgressTransaction.Step.APPLY)).isNotEmpty();
        assertThat(d.steps(InProgressTransaction.Step.ROLLBACK)).hasSize(1);
        assertThat(d.committed).isEmpty();
        assertThat(d.parts.get(d.parts.size() - 1).inProgressStep()).as("rolled back at its abort")
                .isEqualTo(InProgressTransaction.Step.ROLLBACK);
        assertThat(d.open).isEmpty();
        assertNoSpoolLeft(d);
    }

    @Test
    void whatTheDestinationCannotApplyIsAppliedAfterTheCommit() throws Exception {
        Workload w = workload((c1, c2) -> {
            exec(c1, "INSERT INTO t SELECT g, repeat('a', 100) FROM generate_series(60001, 65000) g");
            c1.commit();
        });
        Destination d = new Destination();
        d.fails = p -> p.index() == 2;
        d.feed(w.streamed());

        assertThat(describe(d.committed)).isEqualTo(expected(w));
        assertThat(d.steps(InProgressTransaction.Step.APPLY)).as("nothing more after the failed part").hasSize(3);
        assertThat(d.steps(InProgressTransaction.Step.COMMIT)).isEmpty();
        assertThat(d.replayed()).extracting(p -> p.batch().size()).containsExactly(1000, 1000, 1000, 1000, 1000);
        assertNoSpoolLeft(d);
    }

    @Test
    void aShapeChangeInsideDemotesIt() throws Exception {
        exec(c, "CREATE TABLE shaped (id int PRIMARY KEY, pad text)");
        exec(c, "INSERT INTO shaped VALUES (0, 'known')"); // so the stream knows its shape before
        Workload w = workload((c1, c2) -> {
            exec(c1, "INSERT INTO shaped VALUES (-1, 'first')");
            c1.commit();
            exec(c1, "INSERT INTO shaped SELECT g, repeat('a', 100) FROM generate_series(1, 3000) g");
            exec(c1, "ALTER TABLE shaped ADD COLUMN extra text DEFAULT 'd'");
            exec(c1, "INSERT INTO shaped SELECT g, repeat('b', 100), 'e' FROM generate_series(3001, 6000) g");
            c1.commit();
        });
        Destination d = new Destination().feed(w.streamed());

        assertThat(describe(d.committed)).isEqualTo(expected(w));
        assertThat(d.steps(InProgressTransaction.Step.ROLLBACK)).hasSize(1);
        assertThat(d.steps(InProgressTransaction.Step.COMMIT)).isEmpty();
        assertNoSpoolLeft(d);
    }

    private static void exec(Connection conn, String statement) throws SQLException {
        try (Statement s = conn.createStatement()) {
            s.execute(statement);
        }
    }
}
