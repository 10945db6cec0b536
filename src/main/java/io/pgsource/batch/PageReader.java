package io.pgsource.batch;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.Row;
import io.pgsource.change.TableSchema;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Reads one stream run page by page, on one source connection: one transaction per page, or all pages inside the
 * caller's open transaction (the snapshot copy), in which case the reader neither commits nor closes anything.
 */
interface PageReader extends AutoCloseable {

    /** Fetch size while reading a page: the driver's cursor buffers this many rows, not the whole page twice. */
    int FETCH_SIZE = 1000;

    /**
     * The most rows one batch (one exchange, one destination transaction with its bookmark) holds, whatever the page
     * size ({@code source.batch_fetch_limit}, rows per query): the same bound as log replication's default
     * {@code max_batch_size}. It keeps the rows in flight young and few, so a small heap copes (-Xmx256m).
     */
    int MAX_BATCH_ROWS = 10_000;

    StreamTask task();

    /** The next page; call only while {@link #more()} is true. */
    ChangeBatch next() throws SQLException;

    /** True until the page marked {@code last} was returned. */
    boolean more();

    /** Closes the connection (unless it runs inside the caller's transaction); safe to call twice. */
    @Override
    void close();

    /** A row of the result set, values as PostgreSQL's text output (null for NULL), from column {@code first} on. */
    static Row row(ResultSet rs, TableSchema schema, int first) throws SQLException {
        Object[] values = new Object[schema.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = rs.getString(first + i);
        }
        return new Row(schema, values);
    }
}
