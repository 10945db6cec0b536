package io.pgsource.sink.jdbc;

import io.pgsource.change.TableId;
import io.pgsource.state.PositionStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Positions kept in the destination database itself, in {@code "_pgsource"."positions"}: the PostgreSQL destination
 * writes them in the same transaction as the data (exactly-once: a replay after a crash changes nothing).
 * {@link #load} reads what the destination committed; it is empty while the table does not exist yet.
 */
public final class JdbcPositionStore implements PositionStore {
    static final String SCHEMA = "_pgsource";
    static final String TABLE = "\"_pgsource\".\"positions\"";

    private final DestinationConnection destination;
    /** The state table exists (a committed transaction created or found it). */
    private boolean tableChecked;
    /** The open transaction creates or found the state table. */
    private boolean pendingCheck;
    /** Positions this instance committed, so checking a log batch against its slot's position costs no query. */
    private final Map<String, String> committedHere = new HashMap<>();
    /** Positions written by the open transaction. */
    private final Map<String, String> pendingWrites = new HashMap<>();

    JdbcPositionStore(DestinationConnection destination) {
        this.destination = destination;
    }

    @Override
    public Optional<String> load(String stream) {
        synchronized (destination) {
            try {
                Connection c = destination.get();
                try {
                    Optional<String> found = Optional.ofNullable(loadInTransaction(c, stream));
                    c.commit();
                    return found;
                } catch (SQLException e) {
                    rollbackQuietly(c);
                    destination.discardIfBroken(e);
                    throw e;
                }
            } catch (SQLException e) {
                throw new IllegalStateException("cannot read the position of " + stream + " at the destination "
                        + destination.safeUrl() + ": " + e.getMessage(), e);
            }
        }
    }

    /** What this instance committed for the stream, else what the table holds (no query while it streams). */
    @Override
    public Optional<String> current(String stream) throws SQLException {
        synchronized (destination) {
            String known = committedHere.get(stream);
            if (known != null) {
                return Optional.of(known);
            }
            for (int attempt = 1; ; attempt++) {
                // a connection that cannot be made fails here first: its SQLException names the setting to fix
                Connection c = destination.get();
                try {
                    Optional<String> found = Optional.ofNullable(loadInTransaction(c, stream));
                    c.commit();
                    return found;
                } catch (SQLException e) {
                    rollbackQuietly(c);
                    // a connection that died while idle (destination restarted): a read is safe to try once more
                    if (!destination.discardIfBroken(e) || attempt > 1) {
                        throw e;
                    }
                }
            }
        }
    }

    /** Stores a position in its own transaction (the destination itself saves inside the data's transaction). */
    @Override
    public void save(String stream, String position) {
        synchronized (destination) {
            try {
                Connection c = destination.get();
                try {
                    saveInTransaction(c, stream, position);
                    c.commit();
                    committed(true);
                } catch (SQLException e) {
                    rollbackQuietly(c);
                    committed(false);
                    destination.discardIfBroken(e);
                    throw e;
                }
            } catch (SQLException e) {
                throw new IllegalStateException("cannot save the position of " + stream + " at the destination "
                        + destination.safeUrl() + ": " + e.getMessage(), e);
            }
        }
    }

    /** Another instance may have committed positions since (a high-availability takeover): read them from the table again. */
    @Override
    public void refresh() {
        synchronized (destination) {
            committedHere.clear();
        }
    }

    /** The stored position of a stream, read inside the caller's open transaction; null when there is none. */
    String loadInTransaction(Connection c, String stream) throws SQLException {
        if (!tableChecked && !pendingCheck) {
            try (Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("SELECT to_regclass('" + TABLE.replace("'", "''") + "') IS NOT NULL")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return null;
                }
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT position FROM " + TABLE + " WHERE stream = ?")) {
            ps.setString(1, stream);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /**
     * The position of a stream as of the caller's open transaction: what this instance last committed for it, else
     * read from the state table. The destination is the only writer of its positions while this instance streams
     * (with sync.ha, {@link #refresh} forgets them when it takes over from another instance).
     */
    String current(Connection c, String stream) throws SQLException {
        String known = committedHere.get(stream);
        return known != null ? known : loadInTransaction(c, stream);
    }

    /** Upserts the position inside the caller's open transaction, creating the state table if needed. */
    void saveInTransaction(Connection c, String stream, String position) throws SQLException {
        if (!tableChecked) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE SCHEMA IF NOT EXISTS " + TableId.quoteIdent(SCHEMA));
                s.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (stream text PRIMARY KEY, position text NOT NULL,"
                        + " updated_at timestamptz NOT NULL DEFAULT now())");
            }
            pendingCheck = true;
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (stream, position, updated_at)"
                + " VALUES (?, ?, now()) ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position,"
                + " updated_at = EXCLUDED.updated_at")) {
            ps.setString(1, stream);
            ps.setString(2, position);
            ps.executeUpdate();
        }
        pendingWrites.put(stream, position);
    }

    /** The state table exists for sure only once the transaction that created it committed; a failure re-checks. */
    void committed(boolean committed) {
        tableChecked = committed && (tableChecked || pendingCheck);
        pendingCheck = false;
        if (committed) {
            committedHere.putAll(pendingWrites);
        } else {
            // a failed COMMIT may or may not have committed: read from the table again
            committedHere.clear();
        }
        pendingWrites.clear();
    }

    static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the connection is probably broken; the caller discards it
        }
    }
}
