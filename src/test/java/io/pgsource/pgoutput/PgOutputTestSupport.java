package io.pgsource.pgoutput;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.postgresql.replication.LogSequenceNumber;

/** A test database on the shared server, slots and publications in it, and a collector for exchanges. */
final class PgOutputTestSupport {
    private static final AtomicInteger NAMES = new AtomicInteger();

    final TestPostgres pg = TestPostgres.server();
    final String database;
    private final List<String> slots = new CopyOnWriteArrayList<>();

    PgOutputTestSupport(String prefix) {
        database = pg.createDatabase(prefix);
    }

    /** A slot name unique on the server (slot names are per cluster). */
    String newSlotName(String prefix) {
        String name = (prefix + "_" + ProcessHandle.current().pid() + "_" + NAMES.incrementAndGet()).toLowerCase();
        slots.add(name);
        return name;
    }

    String createSlot(String prefix) throws SQLException {
        String slot = newSlotName(prefix);
        query("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        return slot;
    }

    /**
     * The endpoint URI for a slot and publication, with quick status updates and reconnects; values as PostgreSQL sent
     * them (values=text) unless {@code more} says otherwise.
     */
    String uri(String slot, String publication, String more) {
        return "pgoutput:" + slot + "?host=" + pg.host() + "&port=" + pg.port() + "&database=" + database + "&user=" + pg.user()
                + "&password=RAW(" + pg.password() + ")&publication=" + publication
                + "&statusInterval=1s&reconnectDelay=200ms&maxReconnectDelay=1s" + (more.contains("values=") ? "" : "&values=text")
                + (more.isEmpty() ? "" : "&" + more);
    }

    Connection connect() throws SQLException {
        return pg.connect(database);
    }

    void execute(String... statements) throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement()) {
            for (String sql : statements) {
                s.execute(sql);
            }
        }
    }

    /** Runs statements in one transaction; returns its xid. */
    long transaction(String... statements) throws SQLException {
        try (Connection c = connect()) {
            c.setAutoCommit(false);
            long xid;
            try (Statement s = c.createStatement()) {
                for (String sql : statements) {
                    s.execute(sql);
                }
                try (ResultSet rs = s.executeQuery("SELECT txid_current()")) {
                    rs.next();
                    xid = rs.getLong(1);
                }
            }
            c.commit();
            return xid;
        }
    }

    String query(String sql) throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    long currentLsn() throws SQLException {
        return LogSequenceNumber.valueOf(query("SELECT pg_current_wal_lsn()::text")).asLong();
    }

    long confirmedFlush(String slot) throws SQLException {
        try (Connection c = connect();
             PreparedStatement ps = c.prepareStatement("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? LogSequenceNumber.valueOf(rs.getString(1)).asLong() : 0;
            }
        }
    }

    Integer activePid(String slot) throws SQLException {
        String pid = query("SELECT active_pid FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
        return pid == null ? null : Integer.valueOf(pid);
    }

    /** Drops the slots the tests made, so they do not hold WAL after the class. */
    void dropSlots() throws SQLException {
        for (String slot : slots) {
            for (int i = 0; i < 50; i++) {
                try {
                    execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
                    break;
                } catch (SQLException e) {
                    sleep(100); // still active: the consumer is stopping
                }
            }
        }
    }

    static void await(Duration timeout, BooleanSupplier condition, String what) {
        long end = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            sleep(50);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** What one exchange carried. */
    record Received(ChangeBatch batch, long xid, long commitLsn, OffsetDateTime commitTime, String slot, int partIndex, boolean last) {
        List<ChangeEvent> events() {
            return batch;
        }
    }

    /** Records every exchange that reaches it. */
    static final class Collector implements Processor {
        final List<Received> received = new CopyOnWriteArrayList<>();

        @Override
        public void process(Exchange exchange) {
            var in = exchange.getMessage();
            received.add(new Received(in.getBody(ChangeBatch.class), in.getHeader(ChangeHeaders.TX_ID, Long.class),
                    in.getHeader(ChangeHeaders.COMMIT_LSN, Long.class), in.getHeader(ChangeHeaders.COMMIT_TIME, OffsetDateTime.class),
                    in.getHeader(ChangeHeaders.SLOT, String.class), in.getHeader(PgOutputConstants.PART_INDEX, Integer.class),
                    in.getHeader(PgOutputConstants.LAST_PART, Boolean.class)));
        }

        /** The xids of the last parts received, in order. */
        List<Long> transactions() {
            List<Long> xids = new ArrayList<>();
            for (Received r : received) {
                if (r.last()) {
                    xids.add(r.xid());
                }
            }
            return xids;
        }

        List<ChangeEvent> events() {
            List<ChangeEvent> all = new ArrayList<>();
            received.forEach(r -> all.addAll(r.batch()));
            return all;
        }
    }
}
