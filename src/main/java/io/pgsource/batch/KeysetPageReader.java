package io.pgsource.batch;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ReplicationMethod;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keyset pages over a table with a primary key:
 * {@code SELECT cols FROM t WHERE (k1, k2..) > (?::type1, ?::type2..) ORDER BY k1, k2.. LIMIT n}.
 * Never OFFSET, and because the keyset is unique (the primary key, or the replication key followed by the
 * primary key), ties on a replication-key value are neither repeated nor dropped, however many there are.
 *
 * <p>The bookmark's values are PostgreSQL's text output of the key columns, bound back with a cast to the
 * column's exact type, so the comparison is exact for every type (numeric, timestamps, text with collations).
 *
 * <p>FULL_TABLE resumes after the bookmark of an unfinished run and otherwise starts over; INCREMENTAL always
 * continues after its bookmark. INCREMENTAL never reads rows whose replication key is NULL.
 */
final class KeysetPageReader implements PageReader {
    private static final Logger LOG = LoggerFactory.getLogger(KeysetPageReader.class);

    private final StreamTask task;
    private final Connection connection;
    /** Reads inside the caller's transaction (a snapshot copy): never commits nor closes the connection. */
    private final boolean callerTransaction;
    private final TableSchema schema;
    private final int[] keyPositions;
    private final String firstSql;
    private final String nextSql;
    private List<String> after;
    private boolean more = true;
    private long rows;
    private int pages;

    /**
     * Reads each page in its own transaction on {@code connection}, and closes it in {@link #close()}.
     *
     * @param stored the bookmark the destination holds for this stream, or null
     */
    KeysetPageReader(StreamTask task, Connection connection, Bookmark stored) {
        this(task, connection, stored, false);
    }

    /**
     * @param stored            the bookmark the destination holds for this stream, or null
     * @param callerTransaction true to read inside the caller's open transaction, which the reader neither commits
     *                          nor closes (the caller owns the connection)
     */
    KeysetPageReader(StreamTask task, Connection connection, Bookmark stored, boolean callerTransaction) {
        this.task = task;
        this.connection = connection;
        this.callerTransaction = callerTransaction;
        this.schema = task.table().schema();
        this.keyPositions = task.keyColumns().stream().mapToInt(c -> schema.indexOf(c.name())).toArray();
        this.firstSql = sql(false);
        this.nextSql = sql(true);
        this.after = startAfter(stored);
    }

    private List<String> startAfter(Bookmark stored) {
        if (stored == null || !stored.hasPosition()) {
            return null;
        }
        if (stored.method() != task.method() || !stored.columns().equals(task.keyColumnNames())) {
            LOG.info("{}: the stored bookmark is for {} by {}, the stream is now {}: starting from the beginning",
                    task.stream(), stored.method(), stored.columns(), task);
            return null;
        }
        if (task.method() == ReplicationMethod.INCREMENTAL) {
            LOG.info("{}: reading rows after the stored bookmark", task.stream());
            return stored.values();
        }
        if (!stored.completed()) {
            LOG.info("{}: resuming the unfinished run after its stored bookmark", task.stream());
            return stored.values();
        }
        return null;
    }

    private String sql(boolean withBookmark) {
        List<Column> keys = task.keyColumns();
        StringBuilder sql = new StringBuilder("SELECT ").append(PageReader.selectList(schema))
                .append(" FROM ").append(task.table().partitioned() ? "" : "ONLY ").append(task.table().id().quoted());
        List<String> where = new ArrayList<>();
        if (task.method() == ReplicationMethod.INCREMENTAL) {
            String rk = TableId.quoteIdent(keys.get(0).name());
            where.add(rk + " IS NOT NULL");
            if (task.upperBound() != null) {
                where.add(rk + " <= " + task.upperBound().clock() + " - ?::interval");
            }
        }
        if (withBookmark) {
            StringBuilder left = new StringBuilder("(");
            StringBuilder right = new StringBuilder("(");
            for (int i = 0; i < keys.size(); i++) {
                left.append(i == 0 ? "" : ", ").append(TableId.quoteIdent(keys.get(i).name()));
                right.append(i == 0 ? "" : ", ").append("?::").append(keys.get(i).typeName());
            }
            where.add(left + ") > " + right + ")");
        }
        if (!where.isEmpty()) {
            sql.append(" WHERE ").append(String.join(" AND ", where));
        }
        sql.append(" ORDER BY ");
        for (int i = 0; i < keys.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append(TableId.quoteIdent(keys.get(i).name()));
        }
        return sql.append(" LIMIT ?").toString();
    }

    @Override
    public StreamTask task() {
        return task;
    }

    @Override
    public boolean more() {
        return more;
    }

    @Override
    public ChangeBatch next() throws SQLException {
        if (!more) {
            throw new IllegalStateException(task.stream() + ": the run already returned its last page");
        }
        int n = task.pageSize();
        List<Row> page = new ArrayList<>(Math.min(n, 4096));
        try (PreparedStatement ps = connection.prepareStatement(after == null ? firstSql : nextSql)) {
            int p = 1;
            if (task.upperBound() != null) {
                ps.setString(p++, task.upperBound().lag().toString());
            }
            if (after != null) {
                for (String value : after) {
                    ps.setObject(p++, value, Types.OTHER);
                }
            }
            ps.setInt(p, n);
            ps.setFetchSize(Math.min(n, FETCH_SIZE));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    page.add(PageReader.row(rs, schema, 1));
                }
            }
        }
        if (!callerTransaction) {
            // on failure the caller closes the connection, which ends the transaction
            connection.commit();
        }
        boolean last = page.size() < n;
        if (!page.isEmpty()) {
            Row lastRow = page.get(page.size() - 1);
            List<String> key = new ArrayList<>(keyPositions.length);
            for (int position : keyPositions) {
                key.add((String) lastRow.get(position));
            }
            after = key;
        }
        more = !last;
        rows += page.size();
        pages++;
        Bookmark bookmark = new Bookmark(task.method(), task.keyColumnNames(), after == null ? List.of() : after, last);
        Position position = new Position.Batch(task.stream(), bookmark.serialize());
        List<ChangeEvent> events = new ArrayList<>(page.size());
        for (Row row : page) {
            events.add(ChangeEvent.read(row, position));
        }
        if (last) {
            LOG.info("{}: {} rows in {} pages ({})", task.stream(), rows, pages, task.method());
        }
        return new ChangeBatch(events, position, last, List.of(schema));
    }

    @Override
    public void close() {
        if (callerTransaction) {
            return;
        }
        try {
            connection.close();
        } catch (SQLException e) {
            LOG.debug("{}: closing the source connection failed", task.stream(), e);
        }
    }
}
