package io.pgsource.sink.jdbc;

import io.pgsource.change.TableId;
import io.pgsource.sink.DatabasePositionStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * Positions kept in the destination database itself, in {@code "_pgsource"."positions"}: the PostgreSQL destination
 * writes them in the same transaction as the data (exactly-once: a replay after a crash changes nothing).
 * {@link #load} reads what the destination committed; it is empty while the table does not exist yet. The caching and
 * the transaction handling are {@link DatabasePositionStore}'s, shared with the mysql destination.
 */
public final class JdbcPositionStore extends DatabasePositionStore {
    static final String SCHEMA = "_pgsource";
    static final String TABLE = "\"_pgsource\".\"positions\"";

    private final DestinationConnection destination;
    /** The state table exists (a committed transaction created or found it). */
    private boolean tableChecked;
    /** The open transaction creates or found the state table. */
    private boolean pendingCheck;

    JdbcPositionStore(DestinationConnection destination) {
        this.destination = destination;
    }

    @Override
    protected Object lock() {
        return destination;
    }

    @Override
    protected Connection connection() throws SQLException {
        return destination.get();
    }

    @Override
    protected Connection held() {
        return destination.held();
    }

    @Override
    protected boolean failed(Connection c, SQLException e) {
        rollbackQuietly(c);
        return destination.discardIfBroken(e);
    }

    @Override
    protected String describe() {
        return destination.safeUrl();
    }

    /** The stored position of a stream, read inside the caller's open transaction; null when there is none. */
    @Override
    public String loadInTransaction(Connection c, String stream) throws SQLException {
        if (!tableExists(c)) {
            return null;
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT position FROM " + TABLE + " WHERE stream = ?")) {
            ps.setString(1, stream);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /** The stored positions of these streams, in one query. */
    @Override
    protected Map<String, String> loadAllInTransaction(Connection c, Collection<String> streams) throws SQLException {
        Map<String, String> found = new HashMap<>();
        if (!tableExists(c)) {
            return found;
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT stream, position FROM " + TABLE + " WHERE stream = ANY (?)")) {
            ps.setArray(1, c.createArrayOf("text", streams.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.put(rs.getString(1), rs.getString(2));
                }
            }
        }
        return found;
    }

    /**
     * Whether the state table exists, as the caller's open transaction sees it: a read before the first position was
     * stored must find nothing rather than fail, which would end the transaction.
     */
    private boolean tableExists(Connection c) throws SQLException {
        if (tableChecked || pendingCheck) {
            return true;
        }
        try (Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT to_regclass('" + TABLE.replace("'", "''") + "') IS NOT NULL")) {
            rs.next();
            // found while this transaction had not created it: a committed one did, as ensureTable's check would say; a
            // failed transaction checks again (committed(false))
            tableChecked = rs.getBoolean(1);
            return tableChecked;
        }
    }

    /** Upserts the position inside the caller's open transaction, creating the state table if needed. */
    @Override
    protected void writeInTransaction(Connection c, String stream, String position) throws SQLException {
        ensureTable(c);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (stream, position, updated_at)"
                + " VALUES (?, ?, now()) ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position,"
                + " updated_at = EXCLUDED.updated_at")) {
            ps.setString(1, stream);
            ps.setString(2, position);
            ps.executeUpdate();
        }
    }

    /**
     * One upsert of every position, preceded by {@code SET LOCAL synchronous_commit = off} when the commit need not wait:
     * one round trip (pgjdbc sends the statements of a prepared statement together), where one upsert per position and
     * the setting apart took three for the two records of each table a copy stores.
     */
    @Override
    protected boolean writeAllInTransaction(Connection c, Map<String, String> positions, boolean withoutFlush) throws SQLException {
        if (positions.isEmpty()) {
            return withoutFlush && commitsWithoutFlush(c);
        }
        ensureTable(c);
        StringBuilder sql = new StringBuilder(withoutFlush ? "SET LOCAL synchronous_commit = off; " : "")
                .append("INSERT INTO ").append(TABLE).append(" (stream, position, updated_at) VALUES ");
        for (int i = 0; i < positions.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append("(?, ?, now())");
        }
        sql.append(" ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at");
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int p = 1;
            for (Map.Entry<String, String> e : positions.entrySet()) {
                ps.setString(p++, e.getKey());
                ps.setString(p++, e.getValue());
            }
            ps.execute();
        }
        return withoutFlush;
    }

    /** Creates the state table inside the open transaction unless a committed one made sure of it. */
    private void ensureTable(Connection c) throws SQLException {
        if (!tableChecked) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE SCHEMA IF NOT EXISTS " + TableId.quoteIdent(SCHEMA));
                s.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (stream text PRIMARY KEY, position text NOT NULL,"
                        + " updated_at timestamptz NOT NULL DEFAULT now())");
            }
            pendingCheck = true;
        }
    }

    /** {@code SET LOCAL synchronous_commit = off}: the store is in the destination database, one WAL with the data. */
    @Override
    protected boolean commitsWithoutFlush(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("SET LOCAL synchronous_commit = off");
        }
        return true;
    }

    /** The state table exists for sure only once the transaction that created it committed; a failure re-checks. */
    @Override
    public void committed(boolean committed) {
        tableChecked = committed && (tableChecked || pendingCheck);
        pendingCheck = false;
        super.committed(committed);
    }

    static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the connection is probably broken; the caller discards it
        }
    }
}
