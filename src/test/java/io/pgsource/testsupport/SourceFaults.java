package io.pgsource.testsupport;

import io.pgsource.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * Faults of the source side of log replication, for a source server of the test's own (restarting the JVM's shared
 * server would break every other test) that pgsource reaches through a {@link TcpProxy}: the server restarted (fast or
 * immediate, i.e. crashed), the walsender serving the slot terminated, the network path cut for a while. Also how far
 * the slot has confirmed, to see pgsource apply again after a fault.
 */
public final class SourceFaults {
    private final EmbeddedPostgres server;
    private final TcpProxy proxy;
    private final String database;
    private final String slot;

    /**
     * @param server   the source server
     * @param proxy    the path pgsource takes to it
     * @param database the source database
     * @param slot     pgsource's replication slot
     */
    public SourceFaults(EmbeddedPostgres server, TcpProxy proxy, String database, String slot) {
        this.server = server;
        this.proxy = proxy;
        this.database = database;
        this.slot = slot;
    }

    /** A superuser connection straight to the source (not through the proxy). */
    public Connection connect() throws SQLException {
        return DriverManager.getConnection(server.jdbcUrl(database), server.superuser(), server.password());
    }

    /** Stops the source server the given way and starts it again; every session, pgsource's too, ends. */
    public void restart(EmbeddedPostgres.StopMode mode) {
        server.restart(mode);
    }

    /** The pid of the walsender streaming pgsource's slot, or null when none is. */
    public Integer walsenderPid() throws SQLException {
        try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = ? AND active")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? (Integer) rs.getObject(1) : null;
            }
        }
    }

    /**
     * Terminates the walsender streaming the slot ({@code pg_terminate_backend}), as an administrator or a failover
     * tool does.
     *
     * @return its pid
     * @throws AssertionError when no walsender streams the slot
     */
    public int terminateWalsender() throws SQLException {
        Integer pid = walsenderPid();
        if (pid == null) {
            throw new AssertionError("no walsender streams slot " + slot);
        }
        try (Connection c = connect(); PreparedStatement ps = c.prepareStatement("SELECT pg_terminate_backend(?)")) {
            ps.setInt(1, pid);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    throw new AssertionError("walsender " + pid + " could not be terminated");
                }
            }
        }
        return pid;
    }

    /** Cuts the network path (open connections reset, new ones refused) for the given time, then restores it. */
    public void cutNetwork(Duration howLong) throws InterruptedException, IOException {
        proxy.cut();
        try {
            Thread.sleep(howLong.toMillis());
        } finally {
            proxy.restore();
        }
    }

    /** The source's current WAL position. */
    public long currentLsn() throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** The slot's confirmed_flush_lsn, or -1 when the slot is missing. */
    public long confirmedLsn() throws SQLException {
        try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(
                "SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getObject(1) != null ? rs.getLong(1) : -1;
            }
        }
    }

    /**
     * Waits until the slot confirmed at least {@code lsn}: pgsource applied (and acknowledged) everything before it.
     *
     * @throws AssertionError with the process's context when it did not in time, or the process ended
     */
    public void awaitConfirmed(long lsn, Duration timeout, PgSourceProcess pgsource) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        SQLException last = null;
        while (System.nanoTime() < end) {
            try {
                if (confirmedLsn() >= lsn) {
                    return;
                }
            } catch (SQLException e) {
                last = e; // the server may be starting again
            }
            if (!pgsource.alive()) {
                throw new AssertionError("pgsource ended while the slot should reach " + lsn + "\n" + pgsource.context());
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the slot did not confirm " + lsn + " within " + timeout + (last == null ? "" : " (" + last + ")")
                + "\n" + pgsource.context());
    }
}
