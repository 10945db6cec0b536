package io.pgsource.types;

/**
 * array_send's form → {@link PgArray}, the same value {@link ArrayDecoder} makes of array_out's text: int32 ndim,
 * int32 has-nulls flag, int32 element type, per dimension int32 length and int32 lower bound, then the elements
 * (int32 length, -1 for NULL, and the element's binary form), last dimension fastest. Nested lists for more
 * dimensions; the lower bounds are kept only when one is not 1, as array_out prints them only then.
 */
final class BinaryArrayDecoder implements BinaryDecoder {
    private final BinaryDecoder element;
    private final char delimiter;

    BinaryArrayDecoder(BinaryDecoder element, char delimiter) {
        this.element = element;
        this.delimiter = delimiter;
    }

    BinaryDecoder element() {
        return element;
    }

    @Override
    public Object decode(byte[] b) {
        int ndim = BinaryDecoders.int32(b, 0);
        if (ndim == 0) {
            return new PgArray(new Object[0], null, delimiter);
        }
        int[] lengths = new int[ndim];
        int[] lowerBounds = new int[ndim];
        boolean nonDefault = false;
        for (int d = 0; d < ndim; d++) {
            lengths[d] = BinaryDecoders.int32(b, 12 + 8 * d);
            lowerBounds[d] = BinaryDecoders.int32(b, 16 + 8 * d);
            nonDefault |= lowerBounds[d] != 1;
        }
        int[] at = {12 + 8 * ndim};
        return dimension(b, at, lengths, 0, nonDefault ? lowerBounds : null);
    }

    private PgArray dimension(byte[] b, int[] at, int[] lengths, int d, int[] bounds) {
        Object[] items = new Object[lengths[d]];
        for (int i = 0; i < items.length; i++) {
            if (d + 1 < lengths.length) {
                items[i] = dimension(b, at, lengths, d + 1, null);
            } else {
                int length = BinaryDecoders.int32(b, at[0]);
                at[0] += 4;
                if (length >= 0) {
                    byte[] value = new byte[length];
                    System.arraycopy(b, at[0], value, 0, length);
                    at[0] += length;
                    items[i] = element.decode(value);
                }
            }
        }
        return new PgArray(items, bounds, delimiter);
    }
}
