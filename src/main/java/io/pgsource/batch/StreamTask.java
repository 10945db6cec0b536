package io.pgsource.batch;

import io.pgsource.config.BadInputSettings;
import io.pgsource.catalog.TableInfo;
import io.pgsource.change.Column;
import io.pgsource.config.ReplicationMethod;
import java.time.Duration;
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
 * @param upperBound  INCREMENTAL only: how far behind the server's clock the replication key must stay; null for none
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
     * {@code replication_key <= clock - lag}: rows whose key is newer than that are left for a later run, so a
     * transaction that commits late with an older key value is not skipped.
     *
     * @param clock the SQL expression for the server's current time in the key's type: {@code now()},
     *              {@code localtimestamp} or {@code current_date}
     * @param lag   {@code sync.incremental_lag}, positive
     */
    public record UpperBound(String clock, Duration lag) {
        public UpperBound {
            if (!List.of("now()", "localtimestamp", "current_date").contains(clock)) {
                throw new IllegalArgumentException("unknown clock " + clock);
            }
            if (lag.isNegative() || lag.isZero()) {
                throw new IllegalArgumentException("lag must be positive");
            }
        }
    }
}
