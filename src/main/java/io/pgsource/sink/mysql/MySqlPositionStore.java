package io.pgsource.sink.mysql;

import io.pgsource.sink.DatabasePositionStore;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Positions kept in the destination database itself, in the table {@value #TABLE} of the database the tables go to;
 * the mysql destination writes them in the same transaction as the data (exactly-once). The table is created before
 * any transaction that writes it ({@link #create}): MySQL's CREATE TABLE would commit the transaction halfway.
 */
final class MySqlPositionStore extends DatabasePositionStore {
    static final String TABLE = "_pgsource_positions";

    private final MySqlConnection destination;
    private boolean created;

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
    protected Object lock() {
        return destination;
    }

    @Override
    protected Connection connection() throws SQLException {
        return destination.get();
    }

    @Override
    protected boolean failed(Connection c, SQLException e) {
        destination.failed(e);
        return destination.closed();
    }

    @Override
    protected String describe() {
        return destination.safeUrl();
    }

    /** The stored position, read inside the caller's transaction; null when none. */
    @Override
    public String loadInTransaction(Connection c, String stream) throws SQLException {
        create(c);
        try (PreparedStatement ps = c.prepareStatement("SELECT position FROM " + table(c) + " WHERE stream = ?")) {
            ps.setString(1, stream);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /** Upserts the position inside the caller's open transaction. */
    @Override
    protected void writeInTransaction(Connection c, String stream, String position) throws SQLException {
        create(c);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table(c) + " (stream, position, updated_at)"
                + " VALUES (?, ?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE position = VALUES(position), updated_at = VALUES(updated_at)")) {
            ps.setString(1, stream);
            ps.setString(2, position);
            ps.executeUpdate();
        }
    }

    @Override
    public void committed(boolean committed) {
        if (!committed) {
            created = false; // a failure may come from the table dropped behind pgsource's back
        }
        super.committed(committed);
    }
}
