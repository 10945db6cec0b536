package io.pgsource.batch;

import io.pgsource.config.BadInputSettings;
import io.pgsource.catalog.TableInfo;
import io.pgsource.change.Column;
import io.pgsource.config.ReplicationMethod;
import java.util.List;
import java.util.Objects;

/**
 * One table's batch-query stream, as planned for a run: the effective method (after any fallback to
 * FULL_TABLE) and the columns its keyset pages are ordered by.
 *
 * @param table       the table as discovered
 * @param method      FULL_TABLE or INCREMENTAL
 * @param keyColumns  the keyset: the primary key (FULL_TABLE), the replication key then the rest of the primary
 *                    key (INCREMENTAL); empty for a table without primary key, which is read in ctid ranges
 * @param pageSize    rows per page at most ({@code source.batch_fetch_limit})
 * @param upperBound  INCREMENTAL only: the bound the replication key stays below; null for a key that is not a date or
 *                    timestamp
 * @param maxValueBytes the largest value (text form, bytes) a page may carry ({@code source.max_value_bytes}): a larger
 *                    one is not fetched, it stops the run with a {@link ValueTooLargeException}
 */
public record StreamTask(TableInfo table, ReplicationMethod method, List<Column> keyColumns, int pageSize, UpperBound upperBound,
        long maxValueBytes) {

    /** A task with the default value limit (an eighth of the heap). */
    public StreamTask(TableInfo table, ReplicationMethod method, List<Column> keyColumns, int pageSize, UpperBound upperBound) {
        this(table, method, keyColumns, pageSize, upperBound, BadInputSettings.defaultMaxValueBytes());
    }

    public StreamTask {
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(method, "method");
        keyColumns = List.copyOf(keyColumns);
        if (pageSize < 1) {
            throw new IllegalArgumentException("source.batch_fetch_limit must be at least 1, got " + pageSize);
        }
        if (method == ReplicationMethod.INCREMENTAL && keyColumns.isEmpty()) {
            throw new IllegalArgumentException("INCREMENTAL needs a replication key and a primary key");
        }
        if (maxValueBytes < 1) {
            throw new IllegalArgumentException("source.max_value_bytes must be positive, got " + maxValueBytes);
        }
        if (method == ReplicationMethod.LOG_BASED) {
            throw new IllegalArgumentException("a batch-query stream is FULL_TABLE or INCREMENTAL");
        }
    }

    /** The bookmark stream name, {@code schema.table}. */
    public String stream() {
        return table.id().toString();
    }

    /** True for a table without primary key: read in ctid ranges, replaced as a whole on every run. */
    public boolean keyless() {
        return keyColumns.isEmpty();
    }

    public List<String> keyColumnNames() {
        return keyColumns.stream().map(Column::name).toList();
    }

    @Override
    public String toString() {
        return stream() + " " + method + (keyless() ? " in ctid ranges (no primary key)" : " by " + keyColumnNames());
    }

    /**
     * {@code replication_key < before}, with {@code before} in the key's type: rows at or after the start of the oldest
     * transaction that could still commit, or after now(), are left for a later run (see {@link TransactionHorizon}).
     *
     * @param keyTime  how the replication key compares with a point in time
     * @param before   the bound as PostgreSQL {@code timestamptz} text; {@code -infinity} reads nothing new
     * @param timeZone {@code sync.incremental_timezone}: the zone {@code timestamp} and {@code date} keys are written in
     */
    public record UpperBound(KeyTime keyTime, String before, String timeZone) {
        public UpperBound {
            Objects.requireNonNull(keyTime, "keyTime");
            Objects.requireNonNull(before, "before");
            Objects.requireNonNull(timeZone, "timeZone");
        }

        /** The replication key types whose values are points in time, so a time can bound them. */
        public enum KeyTime {
            /** {@code timestamp with time zone}: compared with the bound itself */
            TIMESTAMPTZ,
            /** {@code timestamp without time zone}: the bound's wall-clock time in the zone */
            TIMESTAMP,
            /** {@code date}: the bound's day in the zone, so a day is read once it is over */
            DATE;

            /** The key type's bound, or null for a type that is not a date or timestamp. */
            static KeyTime of(String baseTypeName) {
                // format_type prints a precision inside: timestamp(3) with time zone
                return switch (baseTypeName.replaceFirst("^timestamp\\(\\d+\\)", "timestamp")) {
                    case "date" -> DATE;
                    case "timestamp with time zone" -> TIMESTAMPTZ;
                    case "timestamp without time zone" -> TIMESTAMP;
                    default -> null;
                };
            }
        }

        @Override
        public String toString() {
            return "before " + before + (keyTime == KeyTime.TIMESTAMPTZ ? "" : " (" + keyTime.name().toLowerCase(java.util.Locale.ROOT)
                    + " in " + timeZone + ")");
        }
    }
}
