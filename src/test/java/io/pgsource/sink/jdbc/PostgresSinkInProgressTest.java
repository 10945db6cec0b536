package io.pgsource.sink.jdbc;

import static io.pgsource.change.InProgressOutcome.APPLIED;
import static io.pgsource.change.InProgressOutcome.COMMITTED;
import static io.pgsource.change.InProgressOutcome.DEMOTED;
import static io.pgsource.change.InProgressOutcome.HELD;
import static io.pgsource.change.InProgressOutcome.ROLLED_BACK;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.InProgressOutcome;
import io.pgsource.change.PendingDurability;
import io.pgsource.change.Position;
import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.DestinationStep;
import io.pgsource.sink.TestChanges;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The postgres destination applying a source transaction while in progress, through the {@link DestinationStep} as its
 * route does: parts into a transaction held open (invisible until the commit), committed with the position, or rolled
 * back when anything else needs the connection, when a part does not follow, or when the destination holds the
 * transaction already.
 */
class PostgresSinkInProgressTest {
    private static final AtomicInteger SLOTS = new AtomicInteger();
    private static TestPostgres pg;
    private static String db;
    private static final List<PostgresSink> SINKS = new ArrayList<>();
    /** The route's one destination step of each sink: it knows which transaction is open and which part comes next. */
    private static final Map<PostgresSink, DestinationStep> STEPS = new HashMap<>();
    private final String slot = "inprogress_" + SLOTS.incrementAndGet();

    @BeforeAll
    static void database() {
        pg = TestPostgres.server();
        db = pg.createDatabase("sink_in_progress");
    }

    @AfterAll
    static void close() {
        SINKS.forEach(PostgresSink::stop);
    }

    private static PostgresSink sink() {
        PostgresSink s = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(), null, null,
                false));
        SINKS.add(s);
        return s;
    }

    /** A table of columns id integer (its key) and v text. */
    private static TableSchema idText(String name) {
        return table("inprog", name, List.of("id"), col("id", "integer"), col("v", "text"));
    }

    /** A whole transaction committed at {@code lsn}, delivered as its route does. */
    private void deliver(PostgresSink sink, long lsn, long xid, ChangeEvent... events) throws Exception {
        TestChanges.deliver(sink, TestChanges.batch(new Position.Log(lsn, xid, null), events), slot, null);
    }

    /** A part applied in progress: its events carry a lower bound of the commit record's LSN, without time. */
    private static ChangeBatch provisional(long xid, ChangeEvent... events) {
        Position.Log at = new Position.Log(0x100, xid, null);
        List<ChangeEvent> out = new ArrayList<>();
        for (ChangeEvent e : events) {
            out.add(new ChangeEvent(e.op(), e.table(), e.before(), e.after(), e.unchanged(), at));
        }
        return new ChangeBatch(out, at, false);
    }

    /** Sends one step through the destination step, as the pgoutput: consumer does; returns the outcome it reports. */
    private InProgressOutcome step(PostgresSink sink, String step, long xid, int index, ChangeBatch batch, long recordLsn) throws Exception {
        Exchange ex = new DefaultExchange(new DefaultCamelContext());
        ex.getIn().setBody(batch);
        ex.getIn().setHeader(ChangeHeaders.SLOT, slot);
        ex.getIn().setHeader(ChangeHeaders.TX_ID, xid);
        ex.getIn().setHeader(ChangeHeaders.TX_PART, index);
        ex.getIn().setHeader(ChangeHeaders.TX_IN_PROGRESS, step);
        ex.getIn().setHeader(ChangeHeaders.TX_COMMIT_RECORD_LSN, recordLsn);
        AtomicReference<InProgressOutcome> outcome = new AtomicReference<>();
        ex.getIn().setHeader(ChangeHeaders.IN_PROGRESS_OUTCOME, outcome);
        STEPS.computeIfAbsent(sink, DestinationStep::new).process(ex);
        return outcome.get();
    }

    private InProgressOutcome apply(PostgresSink sink, long xid, int index, ChangeBatch batch) throws Exception {
        return step(sink, ChangeHeaders.IN_PROGRESS_APPLY, xid, index, batch, 0);
    }

    private InProgressOutcome commit(PostgresSink sink, long xid, int index, long recordLsn, long endLsn) throws Exception {
        return step(sink, ChangeHeaders.IN_PROGRESS_COMMIT, xid, index,
                new ChangeBatch(List.of(), new Position.Log(endLsn, xid, null), true), recordLsn);
    }

    private static List<String> rows(String sql) throws Exception {
        try (Connection c = pg.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            List<String> out = new ArrayList<>();
            while (rs.next()) {
                out.add(rs.getString(1));
            }
            return out;
        }
    }

    private String stored() throws Exception {
        List<String> p = rows("SELECT position FROM \"_pgsource\".\"positions\" WHERE stream = 'slot:" + slot + "'");
        return p.isEmpty() ? null : p.get(0);
    }

    @Test
    void partsAreInvisibleUntilTheCommitWhichStoresThePosition() throws Exception {
        TableSchema t = idText("committed");
        PostgresSink sink = sink();
        assertThat(apply(sink, 700, 0, provisional(700, insert(row(t, 1, "a")), insert(row(t, 2, "b"))))).isEqualTo(APPLIED);
        assertThat(apply(sink, 700, 1, provisional(700, insert(row(t, 3, "c"))))).isEqualTo(APPLIED);
        assertThat(rows("SELECT to_regclass('inprog.committed')")).containsExactly((String) null);

        assertThat(commit(sink, 700, 2, 0x2000, 0x2010)).isEqualTo(COMMITTED);
        assertThat(rows("SELECT id || v FROM inprog.committed ORDER BY id")).containsExactly("1a", "2b", "3c");
        assertThat(stored()).isEqualTo("0/2010");
    }

    @Test
    void aTableMetInALaterPartIsCheckedInsideTheOpenTransaction() throws Exception {
        TableSchema a = idText("first_table");
        TableSchema b = new TableSchema(new TableId("inprog", "second_table"), a.columns(), a.key(),
                List.of(), sourceColumns());
        PostgresSink sink = sink();
        assertThat(apply(sink, 710, 0, provisional(710, insert(row(a, 1, "a"))))).isEqualTo(APPLIED);
        // what the route asks before the part that meets the second table: a copy's record, whether it needs one
        assertThat(sink.positions().load("slot:" + slot + ":inprog.second_table")).isEmpty();
        assertThat(sink.copyReason(b)).isNull();
        assertThat(apply(sink, 710, 1, provisional(710, insert(row(b, 2, "b"))))).isEqualTo(APPLIED);
        assertThat(commit(sink, 710, 2, 0xA000, 0xA010)).isEqualTo(COMMITTED);
        assertThat(rows("SELECT id || v FROM inprog.first_table UNION ALL SELECT id || v FROM inprog.second_table"))
                .containsExactlyInAnyOrder("1a", "2b");
    }

    /** What the source catalog says of a table of columns id integer, v text. */
    private static SourceColumns sourceColumns() {
        Map<String, SourceColumns.Attribute> columns = new LinkedHashMap<>();
        columns.put("id", new SourceColumns.Attribute(1, "integer", null, false));
        columns.put("v", new SourceColumns.Attribute(2, "text", null, false));
        return new SourceColumns(99_999, columns, 2, Map.of(99_999L, 99_999L));
    }

    @Test
    void anotherBatchRollsTheOpenTransactionBack() throws Exception {
        TableSchema t = idText("interrupted");
        PostgresSink sink = sink();
        assertThat(apply(sink, 701, 0, provisional(701, insert(row(t, 1, "open"))))).isEqualTo(APPLIED);
        // another transaction reaches the destination: the one connection is needed, the open transaction is rolled back
        deliver(sink, 0x3000, 702, insert(row(t, 9, "other")));
        assertThat(apply(sink, 701, 1, provisional(701, insert(row(t, 2, "late"))))).isEqualTo(DEMOTED);
        assertThat(commit(sink, 701, 2, 0x4000, 0x4010)).isEqualTo(DEMOTED);
        assertThat(rows("SELECT id || v FROM inprog.interrupted ORDER BY id")).containsExactly("9other");
        assertThat(stored()).isEqualTo("0/3000");
    }

    @Test
    void aPartThatFailsRollsBackAndDemotes() throws Exception {
        TableSchema t = table("inprog", "failing", List.of("id"), col("id", "integer"), col("v", "varchar(3)"));
        PostgresSink sink = sink();
        assertThat(apply(sink, 703, 0, provisional(703, insert(row(t, 1, "ok"))))).isEqualTo(APPLIED);
        assertThat(apply(sink, 703, 1, provisional(703, insert(row(t, 2, "far too long"))))).isEqualTo(DEMOTED);
        assertThat(apply(sink, 703, 2, provisional(703, insert(row(t, 3, "ok"))))).isEqualTo(DEMOTED);
        assertThat(commit(sink, 703, 3, 0x5000, 0x5010)).isEqualTo(DEMOTED);
        assertThat(rows("SELECT to_regclass('inprog.failing')")).as("its table's creation rolled back too").containsExactly((String) null);
        assertThat(stored()).isNull();
        // the connection serves the next transaction as usual
        deliver(sink, 0x6000, 704, insert(row(t, 4, "new")));
        assertThat(rows("SELECT id || v FROM inprog.failing")).containsExactly("4new");
    }

    @Test
    void aTransactionTheDestinationHoldsIsRolledBackAtItsCommit() throws Exception {
        TableSchema t = idText("held");
        PostgresSink sink = sink();
        deliver(sink, 0x7010, 705, insert(row(t, 1, "applied")));
        // the slot sends it again after a restart, streamed: it is applied in progress, and its commit finds it held
        assertThat(apply(sink, 705, 0, provisional(705, insert(row(t, 1, "again")), insert(row(t, 2, "again"))))).isEqualTo(DEMOTED);
        assertThat(commit(sink, 705, 1, 0x7000, 0x7010)).as("held all the same: acknowledged, nothing replayed").isEqualTo(HELD);
        assertThat(apply(sink, 706, 0, provisional(706, insert(row(t, 3, "first"))))).isEqualTo(APPLIED);
        assertThat(commit(sink, 706, 1, 0x7000 - 0x100, 0x7000 - 0x80)).as("held: the stored 0/7010 covers it").isEqualTo(HELD);
        assertThat(rows("SELECT id || v FROM inprog.held ORDER BY id")).containsExactly("1applied");
        assertThat(stored()).isEqualTo("0/7010");
    }

    @Test
    void aTransactionAppliedInPartBeforeARestartIsReplayedAfterItsCommit() throws Exception {
        TableSchema t = idText("parted");
        PostgresSink sink = sink();
        // its first change was applied and stored as such before a restart (0/8000#1: one change of the commit at 0/8000)
        Position.Log record = new Position.Log(0x8000, 707, null);
        TestChanges.deliver(sink, new ChangeBatch(List.of(new ChangeEvent(insert(row(t, 1, "a")).op(), t, null, row(t, 1, "a"),
                Set.of(), record)), record, false), slot, 0L);
        assertThat(stored()).isEqualTo("0/8000#1");
        assertThat(apply(sink, 707, 0, provisional(707, insert(row(t, 2, "b"))))).isEqualTo(APPLIED);
        assertThat(commit(sink, 707, 1, 0x8000, 0x8010)).isEqualTo(DEMOTED);
        assertThat(rows("SELECT id || v FROM inprog.parted ORDER BY id")).containsExactly("1a");
        assertThat(stored()).isEqualTo("0/8000#1");
    }

    /** A whole streamed transaction, as the pgoutput: consumer hands it over: its commit need not wait for the flush. */
    private PendingDurability streamed(PostgresSink sink, ChangeBatch batch) throws Exception {
        Exchange ex = new DefaultExchange(new DefaultCamelContext());
        ex.getIn().setBody(batch);
        ex.getIn().setHeader(ChangeHeaders.SLOT, slot);
        ex.setProperty(ChangeHeaders.DURABILITY_MAY_WAIT, Boolean.TRUE);
        STEPS.computeIfAbsent(sink, DestinationStep::new).process(ex);
        PendingDurability pending = ex.getProperty(ChangeHeaders.PENDING_DURABILITY, PendingDurability.class);
        assertThat(pending).as("a streamed commit that did not wait for the flush").isNotNull();
        return pending;
    }

    /** The destination ends pgsource's sessions (as a restart or an idle timeout would). */
    private static void endSessions() throws Exception {
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND application_name = 'pgsource'");
        }
    }

    /**
     * The commit of a transaction applied in progress waits for the destination's WAL flush, as a commit of a batch with a
     * position does: the streamed commits before it on the same connection are durable then, and known so, also once
     * that connection is gone (the destination ended the session): neither their acknowledgement nor the next batch fails.
     */
    @Test
    void aCommitInProgressMakesTheStreamedCommitsBeforeItDurable() throws Exception {
        TableSchema t = idText("durable");
        PostgresSink sink = sink();
        PendingDurability pending = streamed(sink, TestChanges.batch(new Position.Log(0xB000, 720, null), insert(row(t, 1, "lazy"))));

        assertThat(apply(sink, 721, 0, provisional(721, insert(row(t, 2, "in progress"))))).isEqualTo(APPLIED);
        assertThat(commit(sink, 721, 1, 0xC000, 0xC010)).isEqualTo(COMMITTED);
        endSessions();
        assertThat(pending.durable()).isTrue();
        deliver(sink, 0xD000, 722, insert(row(t, 3, "next")));
        assertThat(rows("SELECT id || v FROM inprog.durable ORDER BY id")).containsExactly("1lazy", "2in progress", "3next");
        assertThat(stored()).isEqualTo("0/D000");
    }

    /**
     * Streamed commits not known durable on a connection that is gone may be lost with a crash of the destination: a
     * transaction applied in progress on a new connection must not commit a position past them (it would cover them when
     * the source sends them again), as a batch must not.
     */
    @Test
    void noCommitInProgressAfterStreamedCommitsOfALostConnection() throws Exception {
        TableSchema t = idText("after_lost");
        PostgresSink sink = sink();
        streamed(sink, TestChanges.batch(new Position.Log(0xE000, 730, null), insert(row(t, 1, "lazy"))));
        endSessions();
        // the first part finds the connection gone (demoted); the next transaction opens on a new one
        assertThat(apply(sink, 731, 0, provisional(731, insert(row(t, 2, "a"))))).isEqualTo(DEMOTED);
        assertThat(apply(sink, 732, 0, provisional(732, insert(row(t, 3, "b"))))).isEqualTo(APPLIED);
        assertThatThrownBy(() -> commit(sink, 732, 1, 0xF000, 0xF010)).hasMessageContaining("was lost before its last commits");
        assertThat(rows("SELECT id || v FROM inprog.after_lost ORDER BY id")).containsExactly("1lazy");
        assertThat(stored()).isEqualTo("0/E000");
    }

    @Test
    void aRollbackLeavesNothing() throws Exception {
        TableSchema t = idText("aborted");
        PostgresSink sink = sink();
        deliver(sink, 0x9000, 708, insert(row(t, 1, "before")));
        assertThat(apply(sink, 709, 0, provisional(709, insert(row(t, 2, "aborted"))))).isEqualTo(APPLIED);
        assertThat(step(sink, ChangeHeaders.IN_PROGRESS_ROLLBACK, 709, 1, new ChangeBatch(List.of(), new Position.Log(0x100, 709, null), false), 0))
                .isEqualTo(ROLLED_BACK);
        assertThat(rows("SELECT id || v FROM inprog.aborted ORDER BY id")).containsExactly("1before");
        assertThat(rows("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgsource'"
                + " AND state = 'idle in transaction'")).containsExactly("0");
    }
}
