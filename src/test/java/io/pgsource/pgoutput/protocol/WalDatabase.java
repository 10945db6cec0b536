package io.pgsource.pgoutput.protocol;

import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.SessionSettings;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * A database of a test class's own on the test server, with publication {@code pub} for all its tables, whose WAL the
 * class reads through the SQL interface ({@link Wal}) at the newest protocol the server speaks. The slots it made are
 * dropped when it closes: a slot left behind holds the server's WAL back for every later test.
 */
final class WalDatabase implements AutoCloseable {
    private final Connection connection;
    private final int protocol;
    private final String slotPrefix;
    private final List<String> slots = new ArrayList<>();

    WalDatabase(String database, String slotPrefix) throws SQLException {
        this.connection = TestPostgres.server().connect(TestPostgres.server().createDatabase(database));
        this.slotPrefix = slotPrefix;
        SessionSettings.apply(connection);
        this.protocol = Wal.newestProtocol(connection);
        try (Statement s = connection.createStatement()) {
            s.execute("CREATE PUBLICATION pub FOR ALL TABLES");
        }
    }

    Connection connection() {
        return connection;
    }

    int protocol() {
        return protocol;
    }

    /** A new slot, dropped at {@link #close}. */
    synchronized String slot() throws SQLException {
        String slot = Wal.createSlot(connection, slotPrefix);
        slots.add(slot);
        return slot;
    }

    @Override
    public synchronized void close() throws SQLException {
        for (String slot : slots) {
            Wal.dropSlot(connection, slot);
        }
        connection.close();
    }
}
