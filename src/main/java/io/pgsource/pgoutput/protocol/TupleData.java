package io.pgsource.pgoutput.protocol;

import java.util.Arrays;

/**
 * The column values of one tuple, in Relation column order. Each column was sent as one of
 * {@link #NULL 'n'} (null), {@link #UNCHANGED 'u'} (unchanged TOAST value: not sent), {@link #TEXT 't'} (the type's
 * text output, decoded as UTF-8 into a {@code String}) or {@link #BINARY 'b'} (the type's binary send output, kept as
 * raw {@code byte[]}). Null and unchanged columns hold null in {@link #values()}; {@link #kind} tells them apart.
 *
 * <p>{@link #values()} is the live array, not a copy: the assembler hands it to a {@code Row} without copying.
 */
public final class TupleData {
    public static final byte NULL = 'n';
    public static final byte UNCHANGED = 'u';
    public static final byte TEXT = 't';
    public static final byte BINARY = 'b';

    private final byte[] kinds;
    private final Object[] values;
    private final int unchangedCount;

    TupleData(byte[] kinds, Object[] values, int unchangedCount) {
        this.kinds = kinds;
        this.values = values;
        this.unchangedCount = unchangedCount;
    }

    public int size() {
        return values.length;
    }

    /** How column {@code i} was sent: 'n', 'u', 't' or 'b'. */
    public byte kind(int i) {
        return kinds[i];
    }

    /** A String ('t'), a byte[] ('b'), or null ('n' and 'u'). */
    public Object value(int i) {
        return values[i];
    }

    /** The values array itself (not a copy). */
    public Object[] values() {
        return values;
    }

    /** Whether any column was sent as 'u'. */
    public boolean hasUnchanged() {
        return unchangedCount > 0;
    }

    public int unchangedCount() {
        return unchangedCount;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TupleData t && Arrays.equals(kinds, t.kinds) && Arrays.deepEquals(values, t.values);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(kinds) + Arrays.deepHashCode(values);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < values.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            switch (kinds[i]) {
                case NULL -> sb.append("null");
                case UNCHANGED -> sb.append("<unchanged>");
                case BINARY -> sb.append("<").append(((byte[]) values[i]).length).append(" bytes>");
                default -> sb.append('\'').append(values[i]).append('\'');
            }
        }
        return sb.append(')').toString();
    }
}
