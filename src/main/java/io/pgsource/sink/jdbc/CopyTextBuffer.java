package io.pgsource.sink.jdbc;

import io.pgsource.change.Row;
import io.pgsource.types.PgText;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.postgresql.copy.CopyIn;

/**
 * Rows in COPY's text format, written as UTF-8 straight into a reusable buffer that goes to the server in 64 kB
 * chunks: the bytes of {@code PgText.copyEscape(PgText.format(value))} joined by tabs, a newline after each row, without
 * building a string per row first. Integers and booleans are written without formatting them into a string at all. A
 * value not decoded yet ({@link Row#raw}) that is the source's text output goes as it arrived, where that text is
 * the same value's input at the destination (every type but money, whose text depends on lc_monetary): no decoding,
 * no formatting back. A row still the COPY text line a snapshot read ({@link Row#copyText}) goes as that line's bytes,
 * when all of its columns are written as they arrived ({@link #line}): not even split into values.
 *
 * <p>Or rows in COPY's binary format ({@link #binaryHeader}, {@link #binaryRow}, {@link #binaryTrailer}): the values'
 * binary send output as pgoutput's binary mode delivered it, byte for byte.
 */
final class CopyTextBuffer {
    private static final int CHUNK = 1 << 16;
    private static final byte[] NULL = {'\\', 'N'};

    private final Sink sink;
    private byte[] buf = new byte[CHUNK + 1024];
    private int len;

    /** Where full chunks go. */
    @FunctionalInterface
    interface Sink {
        void write(byte[] bytes, int length) throws Exception;
    }

    CopyTextBuffer(Sink sink) {
        this.sink = sink;
    }

    static CopyTextBuffer into(CopyIn in) {
        return new CopyTextBuffer((bytes, length) -> in.writeToCopy(bytes, 0, length));
    }

    static CopyTextBuffer into(OutputStream out) {
        return new CopyTextBuffer((bytes, length) -> out.write(bytes, 0, length));
    }

    /** Appends the given columns of the row, and sends a chunk when there is one. */
    void row(Row row, int[] columns) throws Exception {
        row(row, columns, null);
    }

    /**
     * Appends the given columns of the row, and sends a chunk when there is one.
     *
     * @param asArrived per column of the row: whether its text as it arrived (not decoded) may be written as is; null for none
     */
    void row(Row row, int[] columns, boolean[] asArrived) throws Exception {
        for (int j = 0; j < columns.length; j++) {
            if (j > 0) {
                put((byte) '\t');
            }
            int c = columns[j];
            if (asArrived != null && asArrived[c] && row.raw(c) instanceof String text) {
                escaped(text);
            } else {
                value(row.get(c));
            }
        }
        put((byte) '\n');
        if (len >= CHUNK) {
            flush();
        }
    }

    /**
     * Appends the row as the COPY text line it was read as, when it is one ({@link Row#copyText}) and every column of it
     * is written, in order, as it arrived: the source's escaped text output of each value, which COPY FROM reads as the
     * same values; false (nothing appended) otherwise.
     *
     * @param columns   the written columns, in row order
     * @param asArrived per column of the row: whether its text as it arrived may be written as is
     */
    boolean line(Row row, int[] columns, boolean[] asArrived) throws Exception {
        byte[] line = row.copyText();
        // the written columns are a subset of the row's in row order: as many means all of them
        if (line == null || columns.length != row.size() || !allTrue(asArrived)) {
            return false;
        }
        int n = row.copyTextEnd();
        ensure(n + 1);
        System.arraycopy(line, 0, buf, len, n);
        len += n;
        buf[len++] = '\n';
        if (len >= CHUNK) {
            flush();
        }
        return true;
    }

    private static boolean allTrue(boolean[] flags) {
        for (boolean f : flags) {
            if (!f) {
                return false;
            }
        }
        return true;
    }

    /** The signature, flags and header extension that start COPY's binary format. */
    void binaryHeader() {
        byte[] signature = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xFF, '\r', '\n', 0};
        ensure(signature.length + 8);
        System.arraycopy(signature, 0, buf, len, signature.length);
        len += signature.length;
        int32(0);
        int32(0);
    }

    /**
     * Appends the given columns of the row in COPY's binary format: each value must be null or not decoded yet and in
     * binary form ({@link #binaryValues}).
     */
    void binaryRow(Row row, int[] columns) throws Exception {
        ensure(2);
        buf[len++] = (byte) (columns.length >>> 8);
        buf[len++] = (byte) columns.length;
        byte[] tuple = row.copyBinary();
        // the written columns are a subset of the row's in row order: as many means all of them, the tuple's fields
        if (tuple != null && columns.length == row.size()) {
            int from = row.copyBinaryStart();
            int n = row.copyBinaryEnd() - from;
            ensure(n);
            System.arraycopy(tuple, from, buf, len, n);
            len += n;
            if (len >= CHUNK) {
                flush();
            }
            return;
        }
        for (int c : columns) {
            if (row.raw(c) instanceof byte[] b) {
                ensure(4 + b.length);
                int32(b.length);
                System.arraycopy(b, 0, buf, len, b.length);
                len += b.length;
            } else {
                ensure(4);
                int32(-1);
            }
        }
        if (len >= CHUNK) {
            flush();
        }
    }

    /** The end of COPY's binary format. */
    void binaryTrailer() {
        ensure(2);
        buf[len++] = (byte) 0xFF;
        buf[len++] = (byte) 0xFF;
    }

    /** Whether every given column of every row is null or holds its binary form as it arrived (not decoded, not replaced). */
    static boolean binaryValues(java.util.List<Row> rows, int[] columns) {
        for (Row row : rows) {
            if (row.copyBinary() != null && columns.length == row.size()) {
                continue; // a binary tuple as it arrived, written whole: every value is binary or null
            }
            if (row.copyText() != null) {
                return false; // a text line (not split just to find that out)
            }
            for (int c : columns) {
                Object raw = row.raw(c);
                if (!(raw instanceof byte[]) && (raw != null || row.get(c) != null)) {
                    return false;
                }
            }
        }
        return true;
    }

    private void int32(int v) {
        buf[len++] = (byte) (v >>> 24);
        buf[len++] = (byte) (v >>> 16);
        buf[len++] = (byte) (v >>> 8);
        buf[len++] = (byte) v;
    }

    /** Sends what is buffered. */
    void flush() throws Exception {
        if (len > 0) {
            sink.write(buf, len);
            len = 0;
        }
        if (buf.length > 4 * CHUNK) {
            buf = new byte[CHUNK + 1024]; // a huge value made it grow: do not keep that much
        }
    }

    private void value(Object v) {
        if (v == null) {
            ensure(2);
            buf[len++] = NULL[0];
            buf[len++] = NULL[1];
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short) {
            digits(((Number) v).longValue());
        } else if (v instanceof Boolean b) {
            put(b ? (byte) 't' : (byte) 'f');
        } else {
            escaped(v instanceof String s ? s : PgText.format(v));
        }
    }

    private void digits(long v) {
        if (v == Long.MIN_VALUE) {
            escaped(Long.toString(v));
            return;
        }
        ensure(20);
        if (v < 0) {
            buf[len++] = '-';
            v = -v;
        }
        int start = len;
        do {
            buf[len++] = (byte) ('0' + v % 10);
            v /= 10;
        } while (v != 0);
        for (int i = start, k = len - 1; i < k; i++, k--) {
            byte t = buf[i];
            buf[i] = buf[k];
            buf[k] = t;
        }
    }

    /** The string as UTF-8, with COPY's escapes for backslash, tab, newline and carriage return. */
    private void escaped(String s) {
        // the JDK encodes (mostly ASCII) strings far faster than a loop over chars; escapes are rare
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        int n = utf8.length;
        ensure(2 * n);
        byte[] b = buf;
        int p = len;
        int from = 0;
        for (int i = 0; i < n; i++) {
            byte c = utf8[i];
            byte e = c == '\\' ? (byte) '\\' : c == '\t' ? (byte) 't' : c == '\n' ? (byte) 'n' : c == '\r' ? (byte) 'r' : 0;
            if (e != 0) {
                System.arraycopy(utf8, from, b, p, i - from);
                p += i - from;
                b[p++] = '\\';
                b[p++] = e;
                from = i + 1;
            }
        }
        System.arraycopy(utf8, from, b, p, n - from);
        len = p + n - from;
    }

    private void put(byte b) {
        ensure(1);
        buf[len++] = b;
    }

    private void ensure(int more) {
        if (len + more > buf.length) {
            byte[] bigger = new byte[Math.max(buf.length * 2, len + more)];
            System.arraycopy(buf, 0, bigger, 0, len);
            buf = bigger;
        }
    }
}
