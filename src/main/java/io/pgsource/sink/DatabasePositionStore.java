package io.pgsource.sink;

import io.pgsource.state.PositionStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Positions a table destination keeps in a table of its own database, written by the destination in the same
 * transaction as the data ({@link #saveInTransaction}, then {@link #committed}): exactly-once. What this instance
 * committed is remembered, so checking each batch against its stream's position costs no query while it streams (it is
 * the only writer of its positions; with {@code sync.ha}, {@link #refresh} forgets them when it takes over).
 *
 * <p>A database says how to read and write one position inside an open transaction, how to reach its connection and
 * what to do after a failure; callers synchronize on {@link #lock()} for the duration of a transaction.
 */
public abstract class DatabasePositionStore implements PositionStore {
    /** Positions this instance committed. */
    private final Map<String, String> committedHere = new HashMap<>();
    /** Positions written by the open transaction. */
    private final Map<String, String> pendingWrites = new HashMap<>();

    /** What callers synchronize on for a transaction (the destination's connection holder). */
    protected abstract Object lock();

    /** The open connection (autocommit off), connecting if needed. */
    protected abstract Connection connection() throws SQLException;

    /** Rolls back after a failure and drops the connection when the failure broke it; true then. */
    protected abstract boolean failed(Connection c, SQLException e);

    /** The destination, for messages (no credentials). */
    protected abstract String describe();

    /** The stored position of a stream, read inside the caller's open transaction; null when there is none. */
    public abstract String loadInTransaction(Connection c, String stream) throws SQLException;

    /** Upserts the position inside the caller's open transaction. */
    protected abstract void writeInTransaction(Connection c, String stream, String position) throws SQLException;

    @Override
    public final Optional<String> load(String stream) {
        synchronized (lock()) {
            try {
                return read(stream);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot read the position of " + stream + " at the destination " + describe()
                        + ": " + e.getMessage(), e);
            }
        }
    }

    /** What this instance committed for the stream, else what the table holds (no query while it streams). */
    @Override
    public final Optional<String> current(String stream) throws SQLException {
        synchronized (lock()) {
            String known = committedHere.get(stream);
            // a connection that cannot be made fails here first: its SQLException names the setting to fix
            return known != null ? Optional.of(known) : read(stream);
        }
    }

    /** Reads the stored position in a transaction of its own; once more on a new connection when the old one had died. */
    private Optional<String> read(String stream) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            Connection c = connection();
            try {
                Optional<String> found = Optional.ofNullable(loadInTransaction(c, stream));
                c.commit();
                return found;
            } catch (SQLException e) {
                // a connection that died while idle (destination restarted): a read is safe to try once more
                if (!failed(c, e) || attempt > 1) {
                    throw e;
                }
            }
        }
    }

    /**
     * The position of a stream as of the caller's open transaction: what this instance last committed for it, else read
     * from the table.
     */
    public final String current(Connection c, String stream) throws SQLException {
        String known = committedHere.get(stream);
        return known != null ? known : loadInTransaction(c, stream);
    }

    /** Stores a position in its own transaction (the destination itself saves inside the data's transaction). */
    @Override
    public final void save(String stream, String position) {
        synchronized (lock()) {
            try {
                Connection c = connection();
                try {
                    saveInTransaction(c, stream, position);
                    c.commit();
                    committed(true);
                } catch (SQLException e) {
                    committed(false);
                    failed(c, e);
                    throw e;
                }
            } catch (SQLException e) {
                throw new IllegalStateException("cannot save the position of " + stream + " at the destination " + describe()
                        + ": " + e.getMessage(), e);
            }
        }
    }

    /** Another instance may have committed positions since (a high-availability takeover): read them from the table again. */
    @Override
    public void refresh() {
        synchronized (lock()) {
            committedHere.clear();
        }
    }

    /** Writes the position inside the caller's open transaction; it counts once {@link #committed committed}. */
    public final void saveInTransaction(Connection c, String stream, String position) throws SQLException {
        writeInTransaction(c, stream, position);
        pendingWrites.put(stream, position);
    }

    /** After the COMMIT ({@code true}) or a failure ({@code false}: whether a failed COMMIT committed is not known). */
    public void committed(boolean committed) {
        if (committed) {
            committedHere.putAll(pendingWrites);
        } else {
            // a failed COMMIT may or may not have committed: read from the table again
            committedHere.clear();
        }
        pendingWrites.clear();
    }
}
