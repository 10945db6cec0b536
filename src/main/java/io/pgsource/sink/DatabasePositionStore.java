package io.pgsource.sink;

import io.pgsource.state.PositionStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Collection;
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
    /** Positions read ahead ({@link #preload}), empty for a stream that has none; what this instance commits wins. */
    private final Map<String, Optional<String>> preloaded = new HashMap<>();
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
            if (known != null) {
                return Optional.of(known);
            }
            Optional<String> read = preloaded.get(stream);
            // a connection that cannot be made fails here first: its SQLException names the setting to fix
            return read != null ? read : read(stream);
        }
    }

    /**
     * The connection whose transaction the destination holds open for a source transaction in progress, or null: a read
     * then happens inside that transaction (which stays open) instead of in one of its own.
     */
    protected Connection held() {
        return null;
    }

    /**
     * Reads the stored position in a transaction of its own (or inside the one held open, {@link #held}); once more on a
     * new connection when the old one had died.
     */
    private Optional<String> read(String stream) throws SQLException {
        Connection held = held();
        if (held != null) {
            try {
                return Optional.ofNullable(loadInTransaction(held, stream));
            } catch (SQLException e) {
                // the held transaction is aborted now: connection() below rolls it back (the source transaction is then
                // applied after its commit), and the read is made on its own
            }
        }
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
     * The position of a stream as of the caller's open transaction: what this instance last committed for it, else what
     * {@link #preload} read, else read from the table.
     */
    public final String current(Connection c, String stream) throws SQLException {
        String known = committedHere.get(stream);
        if (known != null) {
            return known;
        }
        // read ahead in a committed transaction ({@link #preload}); this instance is the only writer since
        Optional<String> read = preloaded.get(stream);
        return read != null ? read.orElse(null) : loadInTransaction(c, stream);
    }

    /** Stores a position in its own transaction (the destination itself saves inside the data's transaction). */
    @Override
    public final void save(String stream, String position) {
        saveAll(Map.of(stream, position));
    }

    /** Stores the positions in one transaction of their own. */
    @Override
    public final void saveAll(Map<String, String> positions) {
        save(positions, false);
    }

    /**
     * Stores the positions in one transaction of their own, which does not wait for its durability where the database
     * allows it ({@link #commitsWithoutFlush}).
     */
    @Override
    public final void saveAllAfterData(Map<String, String> positions) {
        save(positions, true);
    }

    /** Re-stores the last position {@link #saveAllAfterData} did not make durable, durably: every earlier commit is too. */
    @Override
    public final void flush() {
        synchronized (lock()) {
            Map.Entry<String, String> last = unflushed;
            if (last != null) {
                saveAll(Map.of(last.getKey(), last.getValue()));
            }
        }
    }

    /**
     * Makes the caller's open transaction commit without waiting for its durability; false where the database has no
     * such setting (then it commits as any other).
     */
    protected boolean commitsWithoutFlush(Connection c) throws SQLException {
        return false;
    }

    /**
     * Upserts the positions inside the caller's open transaction and, with {@code withoutFlush}, makes it commit without
     * waiting for its durability where the database allows it; whether it does. The default writes one at a time; a
     * database that can do it all in one round trip (a copy of thousands of small tables stores a few records per
     * table) overrides it.
     */
    protected boolean writeAllInTransaction(Connection c, Map<String, String> positions, boolean withoutFlush) throws SQLException {
        for (Map.Entry<String, String> p : positions.entrySet()) {
            writeInTransaction(c, p.getKey(), p.getValue());
        }
        return withoutFlush && commitsWithoutFlush(c);
    }

    /** The last position committed without waiting for durability, while no durable commit of this store followed. */
    private Map.Entry<String, String> unflushed;

    private void save(Map<String, String> positions, boolean afterData) {
        if (positions.isEmpty()) {
            return;
        }
        synchronized (lock()) {
            try {
                Connection c = connection();
                try {
                    Map.Entry<String, String> last = null;
                    for (Map.Entry<String, String> p : positions.entrySet()) {
                        last = Map.entry(p.getKey(), p.getValue());
                    }
                    boolean lazy = saveAllInTransaction(c, positions, afterData);
                    c.commit();
                    unflushed = lazy ? last : null;
                    committed(true);
                } catch (SQLException e) {
                    committed(false);
                    failed(c, e);
                    throw e;
                }
            } catch (SQLException e) {
                throw new IllegalStateException("cannot save the position" + (positions.size() > 1 ? "s of " : " of ")
                        + String.join(", ", positions.keySet()) + " at the destination " + describe() + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Reads the stored positions of these streams in one transaction, so {@link #current} asks no more for them (this
     * instance is their only writer; {@link #refresh} and a failed transaction forget them).
     */
    @Override
    public final void preload(Collection<String> streams) throws SQLException {
        if (streams.isEmpty()) {
            return;
        }
        synchronized (lock()) {
            for (int attempt = 1; ; attempt++) {
                Connection c = connection();
                try {
                    Map<String, String> found = loadAllInTransaction(c, streams);
                    c.commit();
                    for (String stream : streams) {
                        preloaded.put(stream, Optional.ofNullable(found.get(stream)));
                    }
                    return;
                } catch (SQLException e) {
                    // a connection that died while idle (destination restarted): a read is safe to try once more
                    if (!failed(c, e) || attempt > 1) {
                        throw e;
                    }
                }
            }
        }
    }

    /** The stored positions of these streams (those that have one), read inside the caller's open transaction. */
    protected Map<String, String> loadAllInTransaction(Connection c, Collection<String> streams) throws SQLException {
        Map<String, String> found = new HashMap<>();
        for (String stream : streams) {
            String position = loadInTransaction(c, stream);
            if (position != null) {
                found.put(stream, position);
            }
        }
        return found;
    }

    /** Another instance may have committed positions since (a high-availability takeover): read them from the table again. */
    @Override
    public void refresh() {
        synchronized (lock()) {
            committedHere.clear();
            preloaded.clear();
        }
    }

    /** Writes the position inside the caller's open transaction; it counts once {@link #committed committed}. */
    public final void saveInTransaction(Connection c, String stream, String position) throws SQLException {
        writeInTransaction(c, stream, position);
        pendingWrites.put(stream, position);
    }

    /**
     * Writes the positions inside the caller's open transaction (they count once {@link #committed committed}), and with
     * {@code withoutFlush} makes it commit without waiting for its durability where the database allows it, in as few
     * round trips as the database can; whether the commit will not wait.
     */
    public final boolean saveAllInTransaction(Connection c, Map<String, String> positions, boolean withoutFlush) throws SQLException {
        boolean lazy = writeAllInTransaction(c, positions, withoutFlush);
        pendingWrites.putAll(positions);
        return lazy;
    }

    /** After the COMMIT ({@code true}) or a failure ({@code false}: whether a failed COMMIT committed is not known). */
    public void committed(boolean committed) {
        if (committed) {
            committedHere.putAll(pendingWrites);
        } else {
            // a failed COMMIT may or may not have committed: read from the table again
            committedHere.clear();
            preloaded.clear();
        }
        pendingWrites.clear();
    }
}
