package io.pgsource.types;

import java.util.AbstractList;
import java.util.List;
import java.util.RandomAccess;

/**
 * The canonical value of a PostgreSQL array: an immutable {@code List} of the element type's canonical values
 * (null elements allowed; a multi-dimensional array is a list of lists). It remembers two things of the text form
 * so it formats back to the same array: the lower bounds when PostgreSQL printed them ({@code [0:2]={...}}; the
 * default 1 is not printed) and the element type's delimiter ({@code ;} for box, {@code ,} otherwise).
 * Equality and hashing are those of {@code List}: they compare elements only.
 */
public final class PgArray extends AbstractList<Object> implements RandomAccess {
    private static final int[] DEFAULT_BOUNDS = new int[0];

    private final Object[] elements;
    private final int[] lowerBounds;
    private final char delimiter;

    PgArray(Object[] elements, int[] lowerBounds, char delimiter) {
        this.elements = elements;
        this.lowerBounds = lowerBounds == null ? DEFAULT_BOUNDS : lowerBounds;
        this.delimiter = delimiter;
    }

    /** An array of the given elements (copied; nested lists for more dimensions), lower bounds 1, delimiter {@code ,}. */
    public static PgArray of(List<?> elements) {
        return new PgArray(elements.toArray(), null, ',');
    }

    @Override
    public Object get(int index) {
        return elements[index];
    }

    @Override
    public int size() {
        return elements.length;
    }

    /** The lower bound of each dimension when any is not 1 (outermost first), else an empty array. */
    public int[] lowerBounds() {
        return lowerBounds.clone();
    }

    boolean hasLowerBounds() {
        return lowerBounds.length > 0;
    }

    /** The delimiter between elements in the text form. */
    public char delimiter() {
        return delimiter;
    }
}
