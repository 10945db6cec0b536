package io.pgsource.testsupport;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shape of sysbench's {@code oltp_read_write}, issued by a Java client (sysbench is not on a fresh machine):
 * {@code sbtest1..N} tables ({@code id} serial key, {@code k} indexed, {@code c char(120)}, {@code pad char(60)}) and
 * concurrent clients committing one multi-statement transaction after another, each statement on a random table: 10
 * point selects, a simple range, a sum range, an ordered range, a distinct range (100 ids each), an update of the
 * indexed column, an update of {@code c}, and a delete followed by an insert of the same id. A deadlock or a
 * serialization failure rolls the transaction back and it is tried again, as sysbench's PostgreSQL driver does.
 */
public final class OltpWorkload {
    private static final Logger LOG = LoggerFactory.getLogger(OltpWorkload.class);
    private static final int POINT_SELECTS = 10;
    private static final int RANGE = 100;

    private final MixedWorkload.Connector connector;
    private final int tables;
    private final int rows;
    private final int clients;
    private final long seed;
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;

    /**
     * @param tables  how many sbtest tables
     * @param rows    rows per table
     * @param clients concurrent client connections
     */
    public OltpWorkload(MixedWorkload.Connector connector, int tables, int rows, int clients, long seed) {
        this.connector = connector;
        this.tables = tables;
        this.rows = rows;
        this.clients = clients;
        this.seed = seed;
    }

    /** The table names, {@code sbtest1} first. */
    public List<String> tableNames() {
        List<String> names = new ArrayList<>();
        for (int t = 1; t <= tables; t++) {
            names.add("sbtest" + t);
        }
        return names;
    }

    /** sysbench's {@code prepare}: the tables, their rows, the secondary index. */
    public void prepare() throws SQLException {
        try (Connection c = connector.open(); Statement s = c.createStatement()) {
            s.execute("SELECT setseed(" + Math.floorMod(seed, 1000) / 1000.0 + ")");
            for (String t : tableNames()) {
                s.execute("CREATE TABLE " + t + " (id serial NOT NULL, k integer DEFAULT 0 NOT NULL, c char(120) DEFAULT '' NOT NULL,"
                        + " pad char(60) DEFAULT '' NOT NULL, PRIMARY KEY (id))");
                s.execute("INSERT INTO " + t + " (k, c, pad) SELECT (random() * " + rows + ")::int, " + digits(11, 10) + ", "
                        + digits(11, 5) + " FROM generate_series(1, " + rows + ")");
                s.execute("CREATE INDEX k_" + t.substring("sbtest".length()) + " ON " + t + " (k)");
            }
            s.execute("ANALYZE");
        }
        LOG.info("OLTP workload: {} tables of {} rows prepared (seed {})", tables, rows, seed);
    }

    /** sysbench's random strings: groups of 11 digits joined by dashes. */
    private static String digits(int groupLength, int groups) {
        List<String> parts = new ArrayList<>();
        for (int g = 0; g < groups; g++) {
            parts.add("lpad((random() * 1e" + groupLength + ")::bigint::text, " + groupLength + ", '0')");
        }
        return String.join(" || '-' || ", parts);
    }

    /** Starts the clients. */
    public synchronized void start() {
        LOG.info("OLTP workload: {} clients start (seed {})", clients, seed);
        for (int i = 0; i < clients; i++) {
            Random random = new Random(seed + i);
            Thread t = new Thread(() -> client(random), "oltp-client-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    /** Stops the clients after their current transaction, waits for them, and fails with what went wrong. */
    public void stopAndJoin(Duration timeout) throws InterruptedException {
        stopping = true;
        long end = System.nanoTime() + timeout.toNanos();
        for (Thread t : threads) {
            t.join(Math.max(1, (end - System.nanoTime()) / 1_000_000));
            if (t.isAlive()) {
                throw new AssertionError("OLTP client " + t.getName() + " did not stop within " + timeout);
            }
        }
        if (failure.get() != null) {
            throw new AssertionError("an OLTP client failed (seed " + seed + ")", failure.get());
        }
        LOG.info("OLTP workload stopped: {}", this);
    }

    /** Committed transactions so far. */
    public long transactions() {
        return transactions.get();
    }

    @Override
    public String toString() {
        return transactions.get() + " transactions committed, " + retries.get() + " retried after a deadlock or conflict";
    }

    private void client(Random random) {
        try (Connection c = connector.open()) {
            c.setAutoCommit(false);
            while (!stopping) {
                try {
                    transaction(c, random);
                    c.commit();
                    transactions.incrementAndGet();
                } catch (SQLException e) {
                    c.rollback();
                    if (!retryable(e)) {
                        throw e;
                    }
                    retries.incrementAndGet();
                }
            }
        } catch (Throwable e) {
            failure.compareAndSet(null, e);
            LOG.error("OLTP client failed", e);
        }
    }

    /** Deadlock, serialization failure, or the unique violation of two clients re-inserting the same id. */
    private static boolean retryable(SQLException e) {
        String state = e.getSQLState();
        return "40P01".equals(state) || "40001".equals(state) || "23505".equals(state);
    }

    private void transaction(Connection c, Random random) throws SQLException {
        for (int i = 0; i < POINT_SELECTS; i++) {
            read(c, "SELECT c FROM " + table(random) + " WHERE id = " + id(random));
        }
        int from = id(random);
        read(c, "SELECT c FROM " + table(random) + " WHERE id BETWEEN " + from + " AND " + (from + RANGE - 1));
        from = id(random);
        read(c, "SELECT SUM(k) FROM " + table(random) + " WHERE id BETWEEN " + from + " AND " + (from + RANGE - 1));
        from = id(random);
        read(c, "SELECT c FROM " + table(random) + " WHERE id BETWEEN " + from + " AND " + (from + RANGE - 1) + " ORDER BY c");
        from = id(random);
        read(c, "SELECT DISTINCT c FROM " + table(random) + " WHERE id BETWEEN " + from + " AND " + (from + RANGE - 1) + " ORDER BY c");
        try (Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE " + table(random) + " SET k = k + 1 WHERE id = " + id(random));
        }
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + table(random) + " SET c = ? WHERE id = ?")) {
            ps.setString(1, text(random, 10));
            ps.setInt(2, id(random));
            ps.executeUpdate();
        }
        String table = table(random);
        int id = id(random);
        try (Statement s = c.createStatement()) {
            s.executeUpdate("DELETE FROM " + table + " WHERE id = " + id);
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (id, k, c, pad) VALUES (?, ?, ?, ?)")) {
            ps.setInt(1, id);
            ps.setInt(2, id(random));
            ps.setString(3, text(random, 10));
            ps.setString(4, text(random, 5));
            ps.executeUpdate();
        }
    }

    private static void read(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                rs.getString(1);
            }
        }
    }

    private String table(Random random) {
        return "sbtest" + (1 + random.nextInt(tables));
    }

    private int id(Random random) {
        return 1 + random.nextInt(rows);
    }

    private static String text(Random random, int groups) {
        StringBuilder b = new StringBuilder();
        for (int g = 0; g < groups; g++) {
            if (g > 0) {
                b.append('-');
            }
            b.append(String.format("%011d", (long) (random.nextDouble() * 1e11)));
        }
        return b.toString();
    }
}
