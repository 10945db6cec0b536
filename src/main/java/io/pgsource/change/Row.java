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

    public TableSchema schema() {
        return schema;
    }

    public int size() {
        return values.length;
    }

    public Object get(int index) {
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
        return arrived != null && (arrived[index >>> 6] & (1L << index)) != 0 ? values[index] : null;
    }

    /**
     * Makes every raw value of the row (String, byte[]) decode with {@code decoding} the first time it is read, instead of
     * now. Values already decoded stay as they are.
     */
    public void decodeLazily(Decoding decoding) {
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
        values[index] = value;
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
        return Arrays.deepEquals(canonical(), r.canonical());
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(canonical());
    }

    /** Every value as readers see it (decoded), in a new array when some arrived raw. */
    private Object[] canonical() {
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
