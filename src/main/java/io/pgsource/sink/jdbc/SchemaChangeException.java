package io.pgsource.sink.jdbc;

/**
 * The source changed a table in a way the destination cannot follow by itself (a column type it cannot hold). The
 * batch is rolled back and nothing is acknowledged; the message names the table, the column, the types and the fix.
 */
public final class SchemaChangeException extends RuntimeException implements io.pgsource.config.PermanentFailure {
    public SchemaChangeException(String message) {
        super(message);
    }
}
