package io.pgsource.change;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the source's catalog said about a table's columns at one moment: what a destination needs to follow a schema
 * change exactly, since a Relation message names columns but not which column a name is, nor what rows written before
 * a column existed hold, nor whether the table was rewritten (a rewrite writes no logical change).
 *
 * <ul>
 * <li>A column's <em>number</em> ({@code attnum}) stays with it when it is renamed and is never given to another
 * column, even after a drop: the same number under another name is a rename, a new number is a new column.</li>
 * <li>{@code ADD COLUMN ... DEFAULT} with a non-volatile default writes nothing to the existing rows: PostgreSQL keeps
 * the value they show in {@code pg_attribute.attmissingval}, until a rewrite of the table stores it in them.</li>
 * <li>Every rewrite ({@code ADD COLUMN} with a volatile default or of an identity or stored generated column,
 * {@code ALTER COLUMN ... TYPE} that converts the values, {@code VACUUM FULL}, {@code CLUSTER}, {@code TRUNCATE}) gives
 * the table new storage ({@code relfilenode}, per leaf partition) and clears every missing value.</li>
 * </ul>
 *
 * @param oid        the table's OID (its root's, for a partition): a table dropped and created again under the same name
 *                   has another, and numbers of one say nothing of the other
 * @param columns    the live columns by name, in number order
 * @param lastNumber the highest column number ever given in the table, dropped columns included: a column numbered
 *                   higher was added later
 * @param storage    the relfilenode of each relation holding rows (the table, or each leaf partition), by OID
 */
public record SourceColumns(long oid, Map<String, Attribute> columns, int lastNumber, Map<Long, Long> storage) {

    public SourceColumns {
        columns = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(columns));
        storage = Map.copyOf(storage);
    }

    /**
     * One live column.
     *
     * @param number       its {@code attnum} (the root's, for a partitioned table)
     * @param type         its type as {@code format_type} prints it, as {@link Column#typeName()}
     * @param missingValue the text form of the value rows older than the column show ({@code attmissingval}), null when
     *                     there is none (the column came with the table, without a default, or the table was rewritten
     *                     since)
     * @param missingMixed a partitioned table's partitions disagree on it (some have one, others another or none): no
     *                     single value is what the older rows show
     */
    public record Attribute(int number, String type, String missingValue, boolean missingMixed) {
    }

    /** The live column of that number, or null. */
    public Map.Entry<String, Attribute> byNumber(int number) {
        for (Map.Entry<String, Attribute> e : columns.entrySet()) {
            if (e.getValue().number() == number) {
                return e;
            }
        }
        return null;
    }

    /**
     * Whether no relation holding rows at {@code earlier} was rewritten since: each of them that still exists has the same
     * storage. Partitions attached or created since do not count.
     */
    public boolean sameStorageAs(Map<Long, Long> earlier) {
        for (Map.Entry<Long, Long> e : earlier.entrySet()) {
            Long now = storage.get(e.getKey());
            if (now != null && !now.equals(e.getValue())) {
                return false;
            }
        }
        return true;
    }
}
