package io.pgsource.sink.mysql;

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
 * Positions kept in the destination database itself, in the table {@value #TABLE} of the database the tables go to;
 * the mysql destination writes them in the same transaction as the data (exactly-once).
 */
final class MySqlPositionStore implements PositionStore {
    static final String TABLE = "_pgsource_positions";

    private final MySqlConnection destination;
    private boolean created;
    /** Positions this instance committed, so the check of each batch against its stream's position costs no query. */
    private final Map<String, String> committedHere = new HashMap<>();
    /** Positions written by the open transaction. */
    private final Map<String, String> pendingWrites = new HashMap<>();

    MySqlPositionStore(MySqlConnection destination) {
        this.destination = destination;
    }

    private String table(Connection c) throws SQLException {
        return MySqlTypes.quote(destination.tables().database(c)) + "." + MySqlTypes.quote(TABLE);
    }

    /** Creates the table if missing (DDL: commits on its own, so never inside a batch's transaction). */
    void create(Connection c) throws SQLException {
        if (!created) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE IF NOT EXISTS " + MySqlTypes.quote(destination.tables().database(c)));
                s.execute("CREATE TABLE IF NOT EXISTS " + table(c) + " (stream VARCHAR(700) NOT NULL PRIMARY KEY,"
                        + " position LONGTEXT NOT NULL, updated_at DATETIME(6) NOT NULL)"
                        + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
            }
            created = true;
        }
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
                    destination.failed(e);
                    throw e;
                }
            } catch (SQLException e) {
                throw new IllegalStateException("cannot read the position of " + stream + " at the destination "
                        + destination.safeUrl() + ": " + e.getMessage(), e);
            }
        }
    }

    /** What this instance committed for the stream, else what the table holds (one retry on a connection that died idle). */
    @Override
    public Optional<String> current(String stream) throws SQLException {
        synchronized (destination) {
            String known = committedHere.get(stream);
            if (known != null) {
                return Optional.of(known);
            }
            for (int attempt = 1; ; attempt++) {
                Connection c = destination.get();
                try {
                    Optional<String> found = Optional.ofNullable(loadInTransaction(c, stream));
                    c.commit();
                    return found;
                } catch (SQLException e) {
                    destination.failed(e);
                    if (!destination.closed() || attempt > 1) {
                        throw e;
                    }
                }
            }
        }
    }

    @Override
    public void refresh() {
        synchronized (destination) {
            committedHere.clear();
        }
    }

    @Override
    public void save(String stream, String position) {
        synchronized (destination) {
            try {
                Connection c = destination.get();
                try {
                    create(c);
                    saveInTransaction(c, stream, position);
                    c.commit();
                    committed(true);
                } catch (SQLException e) {
                    committed(false);
                    destination.failed(e);
                    throw e;
                }
            } catch (SQLException e) {
                throw new IllegalStateException("cannot save the position of " + stream + " at the destination "
                        + destination.safeUrl() + ": " + e.getMessage(), e);
            }
        }
    }

    /** The stored position, read inside the caller's transaction; null when none (or no table yet). */
    String loadInTransaction(Connection c, String stream) throws SQLException {
        create(c);
        try (PreparedStatement ps = c.prepareStatement("SELECT position FROM " + table(c) + " WHERE stream = ?")) {
            ps.setString(1, stream);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /** Upserts the position inside the caller's open transaction (the table exists: {@link #create}). */
    void saveInTransaction(Connection c, String stream, String position) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table(c) + " (stream, position, updated_at)"
                + " VALUES (?, ?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE position = VALUES(position), updated_at = VALUES(updated_at)")) {
            ps.setString(1, stream);
            ps.setString(2, position);
            ps.executeUpdate();
        }
        pendingWrites.put(stream, position);
    }

    /** After the COMMIT ({@code true}) or a failure ({@code false}: whether a failed COMMIT committed is not known). */
    void committed(boolean committed) {
        if (committed) {
            committedHere.putAll(pendingWrites);
        } else {
            committedHere.clear();
            created = false;
        }
        pendingWrites.clear();
    }
}
