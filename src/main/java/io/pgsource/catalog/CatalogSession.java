package io.pgsource.catalog;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;

/**
 * Runs read-only catalog work with {@code search_path = pg_catalog}, so {@code format_type} schema-qualifies every
 * user-defined type, and leaves the connection as it found it (the work is rolled back, which also undoes the
 * {@code SET LOCAL}; inside a caller's transaction only back to a savepoint).
 */
public final class CatalogSession {

    /** Catalog work on the connection. */
    @FunctionalInterface
    public interface Work<T> {
        T run() throws SQLException;
    }

    private CatalogSession() {
    }

    public static <T> T run(Connection connection, Work<T> work) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        Savepoint savepoint = null;
        if (autoCommit) {
            connection.setAutoCommit(false);
        } else {
            savepoint = connection.setSavepoint();
        }
        try {
            try (Statement s = connection.createStatement()) {
                s.execute("SET LOCAL search_path = pg_catalog");
            }
            return work.run();
        } finally {
            if (savepoint != null) {
                connection.rollback(savepoint);
                connection.releaseSavepoint(savepoint);
            } else {
                connection.rollback();
                connection.setAutoCommit(true);
            }
        }
    }
}
