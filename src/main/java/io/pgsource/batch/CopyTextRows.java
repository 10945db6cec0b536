package io.pgsource.batch;

import io.pgsource.types.CopyText;
import java.sql.Connection;
import java.sql.SQLException;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;

/**
 * The rows of one {@code COPY (query) TO STDOUT} (text format), one at a time, as the lines the server sent: fields of
 * PostgreSQL's text output, which {@link CopyText} splits into exactly the strings {@code ResultSet.getString} gives
 * for the same query. The line is the driver's array for the message, handed on as it is (a row keeps it: see
 * {@link io.pgsource.change.Row#ofCopyText}).
 *
 * <p>Why COPY and not a cursor: the server streams the whole result while the client parses it, instead of a round
 * trip per fetch in which one side always waits for the other; and there is no per-row protocol overhead. Reading
 * may stop between rows for as long as the caller likes (the server waits); {@link #close} cancels what is unread.
 */
final class CopyTextRows implements AutoCloseable {
    private final CopyOut copy;
    private long count;

    /**
     * Starts the COPY.
     *
     * @param copySql {@code COPY (SELECT ...) TO STDOUT}
     */
    CopyTextRows(Connection connection, String copySql) throws SQLException {
        this.copy = connection.unwrap(PGConnection.class).getCopyAPI().copyOut(copySql);
    }

    /** The next row's line (with its newline), or null when the COPY is over. */
    byte[] next() throws SQLException {
        byte[] line = copy.readFromCopy();
        if (line != null) {
            count++;
        }
        return line;
    }

    /** The rows read so far. */
    long count() {
        return count;
    }

    /** Cancels the COPY if rows are left unread. */
    @Override
    public void close() throws SQLException {
        if (copy.isActive()) {
            copy.cancelCopy();
        }
    }
}
