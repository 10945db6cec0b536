package io.pgsource.change;

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
 */
public final class Row {
    private final TableSchema schema;
    private final Object[] values;
    /** Decodes the values still {@link #pending}; null when every value is final. */
    private Decoding decoding;
    /** One bit per column whose value is still raw (as it arrived), decoded on first read; null when none is. */
    private long[] pending;

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

    public TableSchema schema() {
        return schema;
    }

    public int size() {
        return values.length;
    }

    public Object get(int index) {
        Object v = values[index];
        if (pending != null && (pending[index >>> 6] & (1L << index)) != 0) {
            v = decoding.decode(this, index, v);
            values[index] = v;
            pending[index >>> 6] &= ~(1L << index);
        }
        return v;
    }

    /**
     * The value of the column as it arrived, not decoded yet: a String (the type's text output) or a byte[] (its binary
     * send output); null when the value is null or already decoded (read, or set). Reading it does not decode it.
     */
    public Object raw(int index) {
        return pending != null && (pending[index >>> 6] & (1L << index)) != 0 ? values[index] : null;
    }

    /**
     * Makes every raw value of the row (String, byte[]) decode with {@code decoding} the first time it is read, instead of
     * now. Values already decoded stay as they are.
     */
    public void decodeLazily(Decoding decoding) {
        if (pending != null && this.decoding != decoding) {
            decodeAll();
        }
        long[] bits = pending;
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
            pending = bits;
            this.decoding = decoding;
        }
    }

    /** Decodes every value still raw. */
    public void decodeAll() {
        if (pending != null) {
            for (int i = 0; i < values.length; i++) {
                get(i);
            }
            pending = null;
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
        values[index] = value;
        if (pending != null) {
            pending[index >>> 6] &= ~(1L << index);
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
                                return i < values.length;
                            }

                            @Override
                            public Entry<String, Object> next() {
                                if (i >= values.length) {
                                    throw new NoSuchElementException();
                                }
                                int at = i++;
                                return new SimpleImmutableEntry<>(schema.columns().get(at).name(), Row.this.get(at));
                            }
                        };
                    }

                    @Override
                    public int size() {
                        return values.length;
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
        decodeAll();
        r.decodeAll();
        return Arrays.deepEquals(values, r.values);
    }

    @Override
    public int hashCode() {
        decodeAll();
        return Arrays.deepHashCode(values);
    }

    @Override
    public String toString() {
        return asMap().toString();
    }
}
