package io.pgsource.change;

import io.pgsource.types.Bytes;
import io.pgsource.types.CopyText;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * One row: values in column order plus the table's shared schema. No map per row on the hot path;
 * {@link #asMap()} gives a live read-only view for users' routes and expressions.
 *
 * <p>Values start as PostgreSQL's text form (or null) when read, and become canonical Java values after
 * type mapping ({@code io.pgsource.types}). The type mapping does not decode them at once: it hands the row its
 * {@link Decoding} ({@link #decodeLazily}), and each raw value is decoded the first time something reads it
 * ({@link #get}, {@link #asMap}, {@link #key}, equality), so every reader sees the canonical value while a writer that
 * can use the value as it arrived ({@link #raw}: a PostgreSQL-to-PostgreSQL copy re-emits the source's text or binary
 * form) never pays for decoding it and formatting it back. {@link #set} replaces a value in place.
 *
 * <p>A row read by a snapshot's {@code COPY ... TO STDOUT} ({@link #ofCopyText}) holds the line as the server sent it
 * and splits it into its text values only when one is first read: a destination that can take the line as it arrived
 * ({@link #copyText}: a PostgreSQL-to-PostgreSQL copy) and one that reads nothing (discard) never split it at all.
 * A row read by {@code COPY ... TO STDOUT (FORMAT binary)} ({@link #ofCopyBinary}) likewise holds its tuple as it arrived
 * ({@link #copyBinary}), and splits it into the values' binary forms ({@code byte[]}, raw as pgoutput's binary mode
 * delivers them) only when one is first read.
 */
public final class Row {
    private final TableSchema schema;
    /** The values; null while the row is a COPY text {@link #line} not split yet. */
    private Object[] values;
    /**
     * The COPY text line the row was read as (its fields from 0 to {@link #lineEnd}), while every value is still as it
     * arrived; null for a row made of values, and once a value was replaced.
     */
    private byte[] line;
    private int lineEnd;
    /** Whether {@link #line} is a tuple of COPY's binary format (its first field at {@link #lineStart}), not a text line. */
    private boolean binaryLine;
    private int lineStart;
    /** Decodes the values still {@link #arrived}; null when every value is final. */
    private Decoding decoding;
    /** One bit per column whose value in {@link #values} is as it arrived (decoded on first read); null when none is. */
    private long[] arrived;
    /** The decoded values of the columns that arrived raw, once read; null until one is. */
    private Object[] decoded;

    /** Decodes a raw value (a String of the type's text output, or a byte[] of its binary form) of one column. */
    @FunctionalInterface
    public interface Decoding {
        Object decode(Row row, int column, Object raw);
    }

    public Row(TableSchema schema, Object[] values) {
        if (values.length != schema.size()) {
            throw new IllegalArgumentException(schema.id() + " has " + schema.size() + " columns, row has " + values.length);
        }
        this.schema = schema;
        this.values = values;
    }

    private Row(TableSchema schema, byte[] line, int lineEnd) {
        this.schema = schema;
        this.line = line;
        this.lineEnd = lineEnd;
    }

    /**
     * A row of one line of {@code COPY ... TO STDOUT}'s text format: the schema's columns in order, tab-separated, from
     * 0 to {@code end} (without a newline). The line is neither copied nor checked now: its values are PostgreSQL's
     * text output, exactly as a row of Strings holds them ({@link CopyText#parseLine}), once one is read; a line
     * without exactly the schema's number of fields fails then.
     */
    public static Row ofCopyText(TableSchema schema, byte[] line, int end) {
        return new Row(schema, line, end);
    }

    /**
     * A row of one tuple of {@code COPY ... TO STDOUT (FORMAT binary)}: the schema's columns in order, each an int32
     * length (-1 for NULL) and that many bytes of the type's binary send output, from {@code start} (the first column's
     * length word, after the tuple's field count) to {@code end}. Neither copied nor checked now; more fields may follow
     * {@code end} in the array (they are not the row's). Its values are the binary forms ({@code byte[]}), once one is read.
     */
    public static Row ofCopyBinary(TableSchema schema, byte[] tuple, int start, int end) {
        Row row = new Row(schema, tuple, end);
        row.binaryLine = true;
        row.lineStart = start;
        return row;
    }

    /**
     * The array holding the COPY binary tuple the row was read as ({@link #ofCopyBinary}), its fields from
     * {@link #copyBinaryStart()} to {@link #copyBinaryEnd()}: every column in order, as {@code COPY ... FROM STDIN (FORMAT
     * binary)} reads them into columns of the same types; null when the row was not read so, or a value was replaced or
     * decoded for good since. Reading it neither splits nor decodes anything.
     */
    public byte[] copyBinary() {
        return binaryLine ? line : null;
    }

    /** Where the fields of {@link #copyBinary()} start: the first column's length word. */
    public int copyBinaryStart() {
        return lineStart;
    }

    /** Where the fields of {@link #copyBinary()} end. */
    public int copyBinaryEnd() {
        return lineEnd;
    }

    /**
     * The COPY text line the row was read as ({@link #ofCopyText}), its fields ending at {@link #copyTextEnd()}: the
     * types' text output of every column in order, escaped as COPY escapes them, which {@code COPY ... FROM STDIN} reads
     * back as the same values; null when the row was not read so, or a value was replaced ({@link #set}) or decoded for
     * good ({@link #decodeAll}) since. Reading it neither splits nor decodes anything.
     */
    public byte[] copyText() {
        return binaryLine ? null : line;
    }

    /** Where the fields of {@link #copyText()} end. */
    public int copyTextEnd() {
        return lineEnd;
    }

    /** The values, after splitting the line the row still is into them. */
    private Object[] values() {
        Object[] v = values;
        return v != null ? v : split();
    }

    private Object[] split() {
        Object[] v = binaryLine ? binaryFields(line, lineStart, lineEnd, schema.size()) : CopyText.parseLine(line, lineEnd, schema.size());
        values = v;
        if (decoding != null) {
            // decodeLazily came first: every value but null arrived raw
            long[] bits = new long[(v.length + 63) >>> 6];
            for (int i = 0; i < v.length; i++) {
                if (v[i] != null) {
                    bits[i >>> 6] |= 1L << i;
                }
            }
            arrived = bits;
        }
        return v;
    }

    /** The binary forms of a COPY binary tuple's fields (null for NULL), as {@link #ofCopyBinary} describes them. */
    private static Object[] binaryFields(byte[] b, int at, int end, int n) {
        Object[] v = new Object[n];
        for (int i = 0; i < n; i++) {
            if (at + 4 > end) {
                throw new IllegalArgumentException("a COPY binary tuple with fewer fields than the table's " + n + " columns");
            }
            int length = Bytes.int32(b, at);
            at += 4;
            if (length >= 0) {
                v[i] = Arrays.copyOfRange(b, at, at + length);
                at += length;
            }
        }
        if (at != end) {
            throw new IllegalArgumentException("a COPY binary tuple with more fields than the table's " + n + " columns");
        }
        return v;
    }

    public TableSchema schema() {
        return schema;
    }

    public int size() {
        return schema.size();
    }

    public Object get(int index) {
        Object[] values = values();
        Object v = values[index];
        if (arrived == null || v == null || (arrived[index >>> 6] & (1L << index)) == 0) {
            return v;
        }
        if (decoded == null) {
            decoded = new Object[values.length];
        }
        Object d = decoded[index];
        if (d == null) {
            d = decoding.decode(this, index, v);
            decoded[index] = d;
        }
        return d;
    }

    /**
     * The value of the column as it arrived: a String (the type's text output) or a byte[] (its binary send output), whether
     * it was read (decoded) since or not; null when the value is null, or was canonical or replaced ({@link #set}) before.
     * Reading it does not decode it.
     */
    public Object raw(int index) {
        Object[] values = values();
        return arrived != null && (arrived[index >>> 6] & (1L << index)) != 0 ? values[index] : null;
    }

    /**
     * Makes every raw value of the row (String, byte[]) decode with {@code decoding} the first time it is read, instead of
     * now. Values already decoded stay as they are.
     */
    public void decodeLazily(Decoding decoding) {
        if (values == null && (this.decoding == null || this.decoding == decoding)) {
            this.decoding = decoding; // the line's values arrive raw when it is split
            return;
        }
        Object[] values = values();
        if (arrived != null && this.decoding != decoding) {
            decodeAll();
        }
        long[] bits = arrived;
        for (int i = 0; i < values.length; i++) {
            Object v = values[i];
            if (v instanceof String || v instanceof byte[]) {
                if (bits == null) {
                    bits = new long[(values.length + 63) >>> 6];
                }
                bits[i >>> 6] |= 1L << i;
            }
        }
        if (bits != null) {
            arrived = bits;
            this.decoding = decoding;
        }
    }

    /** Decodes every value still raw; they are canonical values from then on ({@link #raw} gives null). */
    public void decodeAll() {
        values();
        line = null;
        if (arrived != null) {
            for (int i = 0; i < values.length; i++) {
                values[i] = get(i);
            }
            arrived = null;
            decoded = null;
            decoding = null;
        }
    }

    /** The value of the named column; throws if the table has no such column. */
    public Object get(String column) {
        int i = schema.indexOf(column);
        if (i < 0) {
            throw new IllegalArgumentException(schema.id() + " has no column " + column);
        }
        return get(i);
    }

    public void set(int index, Object value) {
        values()[index] = value;
        line = null;
        if (arrived != null) {
            arrived[index >>> 6] &= ~(1L << index);
            if (decoded != null) {
                decoded[index] = null;
            }
        }
    }

    /** The key values, comparable with equals/hashCode; empty when the table has no key. */
    public List<Object> key() {
        int n = schema.key().size();
        Object[] k = new Object[n];
        for (int i = 0; i < n; i++) {
            k[i] = get(schema.keyPosition(i));
        }
        return Arrays.asList(k);
    }

    /** A read-only, column-ordered map view (column name → value). */
    public Map<String, Object> asMap() {
        return new AbstractMap<>() {
            @Override
            public Set<Entry<String, Object>> entrySet() {
                return new AbstractSet<>() {
                    @Override
                    public Iterator<Entry<String, Object>> iterator() {
                        return new Iterator<>() {
                            int i;

                            @Override
                            public boolean hasNext() {
                                return i < size();
                            }

                            @Override
                            public Entry<String, Object> next() {
                                if (i >= size()) {
                                    throw new NoSuchElementException();
                                }
                                int at = i++;
                                return new SimpleImmutableEntry<>(schema.columns().get(at).name(), Row.this.get(at));
                            }
                        };
                    }

                    @Override
                    public int size() {
                        return Row.this.size();
                    }
                };
            }

            @Override
            public Object get(Object key) {
                int i = key instanceof String s ? schema.indexOf(s) : -1;
                return i < 0 ? null : Row.this.get(i);
            }

            @Override
            public boolean containsKey(Object key) {
                return key instanceof String s && schema.indexOf(s) >= 0;
            }
        };
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Row r) || !schema.id().equals(r.schema.id())) {
            return false;
        }
        return Arrays.deepEquals(canonical(), r.canonical());
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(canonical());
    }

    /** Every value as readers see it (decoded), in a new array when some arrived raw. */
    private Object[] canonical() {
        Object[] values = values();
        if (arrived == null) {
            return values;
        }
        Object[] out = new Object[values.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = get(i);
        }
        return out;
    }

    @Override
    public String toString() {
        return asMap().toString();
    }
}
