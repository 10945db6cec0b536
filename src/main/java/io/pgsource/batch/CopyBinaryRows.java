package io.pgsource.batch;

import io.pgsource.types.Bytes;
import java.sql.Connection;
import java.sql.SQLException;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyOut;

/**
 * The rows of one {@code COPY (query) TO STDOUT (FORMAT binary)}, one tuple at a time, as the server sent it: after the
 * stream's header (11-byte signature, int32 flags, int32 header extension length and the extension), each tuple is an
 * int16 field count, then per field an int32 length (-1 for NULL) and that many bytes of the type's send output; an
 * int16 -1 ends the stream. Nothing is decoded or copied: a tuple is the driver's array for the message from
 * {@link #start()} to {@link #end()} (a row keeps it: see {@link io.pgsource.change.Row#ofCopyBinary}).
 *
 * <p>Why binary where the types allow it: the server's send functions cost it less than its output functions
 * (1.04 s against 1.39 s of CPU per million rows of the bench's table), and a PostgreSQL destination's
 * {@code COPY FROM (FORMAT binary)} of the same bytes far less than parsing text (2.40 s against 4.10 s).
 *
 * <p>The server sends each tuple in a message of its own (the header with the first, the trailer in its own); a tuple
 * split over messages is joined all the same.
 */
final class CopyBinaryRows implements AutoCloseable {
    private static final byte[] SIGNATURE = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xFF, '\r', '\n', 0};

    private final CopyOut copy;
    private final int tableFields;
    private byte[] buf;
    private int at;
    private boolean header;
    private boolean ended;
    private int start;
    private int tableEnd;
    private int end;
    private long count;

    /**
     * Starts the COPY.
     *
     * @param copySql     {@code COPY (SELECT ...) TO STDOUT (FORMAT binary)}
     * @param tableFields the fields that are the table's columns, first in every tuple ({@link #tableEnd()})
     */
    CopyBinaryRows(Connection connection, String copySql, int tableFields) throws SQLException {
        this.copy = connection.unwrap(PGConnection.class).getCopyAPI().copyOut(copySql);
        this.tableFields = tableFields;
    }

    /** Moves to the next tuple; false when the COPY is over. */
    boolean next() throws SQLException {
        while (!ended) {
            if (buf == null || at >= buf.length) {
                buf = copy.readFromCopy();
                at = 0;
                if (buf == null) {
                    ended = true;
                    break;
                }
            }
            if (!header) {
                if (!available(SIGNATURE.length + 8)) {
                    continue;
                }
                for (int i = 0; i < SIGNATURE.length; i++) {
                    if (buf[at + i] != SIGNATURE[i]) {
                        throw new SQLException("COPY binary output without its signature");
                    }
                }
                int extension = Bytes.int32(buf, at + SIGNATURE.length + 4);
                if (!available(SIGNATURE.length + 8 + extension)) {
                    continue;
                }
                at += SIGNATURE.length + 8 + extension;
                header = true;
                continue;
            }
            if (!available(2)) {
                continue;
            }
            int fields = (short) (((buf[at] & 0xff) << 8) | (buf[at + 1] & 0xff));
            if (fields == -1) {
                at = buf.length; // the trailer: the COPY ends with the next read
                continue;
            }
            int p = at + 2;
            int table = -1;
            boolean whole = true;
            for (int f = 0; f < fields; f++) {
                if (f == tableFields) {
                    table = p;
                }
                if (p + 4 > buf.length) {
                    whole = false;
                    break;
                }
                int length = Bytes.int32(buf, p);
                p += 4 + Math.max(length, 0);
            }
            if (!whole || p > buf.length) {
                join();
                continue;
            }
            start = at;
            tableEnd = table < 0 ? p : table;
            end = p;
            at = p;
            count++;
            return true;
        }
        return false;
    }

    /** Whether {@code n} bytes from {@link #at} are in the buffer; when not, the next message is joined to them. */
    private boolean available(int n) throws SQLException {
        if (at + n <= buf.length) {
            return true;
        }
        join();
        return false;
    }

    /** Joins the next message to what is left of this one (a tuple split over messages: not what servers do). */
    private void join() throws SQLException {
        byte[] more = copy.readFromCopy();
        if (more == null) {
            throw new SQLException("COPY binary output ended inside a tuple");
        }
        byte[] joined = new byte[buf.length - at + more.length];
        System.arraycopy(buf, at, joined, 0, buf.length - at);
        System.arraycopy(more, 0, joined, buf.length - at, more.length);
        buf = joined;
        at = 0;
    }

    /** The array that holds the current tuple. */
    byte[] buf() {
        return buf;
    }

    /** Where the current tuple starts: its int16 field count. */
    int start() {
        return start;
    }

    /** Where the table's fields end (further fields follow: the value-size report). */
    int tableEnd() {
        return tableEnd;
    }

    /** Where the current tuple ends. */
    int end() {
        return end;
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
