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
 * type mapping ({@code io.pgsource.types}); {@link #set} is how the type mapping replaces them in place.
 */
public final class Row {
    private final TableSchema schema;
    private final Object[] values;

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
        return values[index];
    }

    /** The value of the named column; throws if the table has no such column. */
    public Object get(String column) {
        int i = schema.indexOf(column);
        if (i < 0) {
            throw new IllegalArgumentException(schema.id() + " has no column " + column);
        }
        return values[i];
    }

    public void set(int index, Object value) {
        values[index] = value;
    }

    /** The key values, comparable with equals/hashCode; empty when the table has no key. */
    public List<Object> key() {
        int n = schema.key().size();
        Object[] k = new Object[n];
        for (int i = 0; i < n; i++) {
            k[i] = values[schema.keyPosition(i)];
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
                                return new SimpleImmutableEntry<>(schema.columns().get(at).name(), values[at]);
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
                return i < 0 ? null : values[i];
            }

            @Override
            public boolean containsKey(Object key) {
                return key instanceof String s && schema.indexOf(s) >= 0;
            }
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Row r && schema.id().equals(r.schema.id()) && Arrays.deepEquals(values, r.values);
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(values);
    }

    @Override
    public String toString() {
        return asMap().toString();
    }
}
