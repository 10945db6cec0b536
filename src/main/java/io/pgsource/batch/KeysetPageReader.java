package io.pgsource.batch;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.types.BuiltinBinary;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keyset pages over a table with a primary key:
 * {@code COPY (SELECT cols FROM t WHERE (k1, k2..) > ($1::type1, $2::type2..) ORDER BY k1, k2.. LIMIT n) TO STDOUT}.
 * Never OFFSET, and because the keyset is unique (the primary key, or the replication key followed by the
 * primary key), ties on a replication-key value are neither repeated nor dropped, however many there are.
 *
 * <p>The bookmark's values are PostgreSQL's text output of the key columns, bound back with a cast to the
 * column's exact type, so the comparison is exact for every type (numeric, timestamps, text with collations).
 *
 * <p>The page is read in COPY's binary format ({@link CopyBinaryRows}) when every column is of a built-in type with an
 * exact binary decoder and every key column of a type whose text output the bookmark can be made of exactly
 * ({@link BuiltinBinary}); else in text format ({@link CopyTextRows}). Binary costs the server less to send, and a
 * PostgreSQL destination less to read again; the values, once decoded, are the same.
 *
 * <p>A page ({@code source.batch_fetch_limit} rows, one COPY in its own transaction) is handed out in batches of at
 * most {@link PageReader#MAX_BATCH_ROWS} rows, each with the bookmark of its last row; one row is read ahead, so the
 * batch that ends the table says so ({@code last}) even when the table ends exactly at a page's end.
 *
 * <p>FULL_TABLE resumes after the bookmark of an unfinished run and otherwise starts over; INCREMENTAL always
 * continues after its bookmark. INCREMENTAL never reads rows whose replication key is NULL, nor any at or past its upper
 * bound: one value for the whole run, below which no open transaction can still commit a key set by the server's
 * clock, so those rows only leave (updated to a newer key, deleted) from page to page, and none arrives behind a page.
 */
final class KeysetPageReader implements PageReader {
    private static final Logger LOG = LoggerFactory.getLogger(KeysetPageReader.class);
    /** Transaction-local settings that carry the bookmark values into the COPY query: {@code pgsource.after_1}, ... */
    private static final String AFTER_SETTING = "pgsource.after_";
    /** The upper bound's point in time ({@code timestamptz} text) and the zone of timestamp and date keys. */
    private static final String BEFORE_SETTING = "pgsource.before";
    private static final String ZONE_SETTING = "pgsource.time_zone";

    private final StreamTask task;
    private final Connection connection;
    /** Reads inside the caller's transaction (a snapshot copy): never commits nor closes the connection. */
    private final boolean callerTransaction;
    private final TableSchema schema;
    private final int[] keyPositions;
    private final String firstSql;
    private final String nextSql;
    private final ValueSizeGuard guard;
    private final String settingsSql;
    /** A condition the rows must meet besides the publication's row filter (a backfill's), or null. */
    private final String condition;
    /** Reads one page only (a backfill's chunk): the run ends with it, full or not, and nothing is read ahead of it. */
    private final boolean onePage;
    /** The key of the last row handed out: the bookmark. */
    private List<String> after;
    /** The key the next page starts after: the bookmark's, or that of {@link #lastRead} once a row was read. */
    private List<String> readAfter;
    /** The last row read from the server, whose key the next page starts after (taken only then: it splits the row). */
    private Row lastRead;
    /** Whether pages are read in COPY's binary format. */
    private final boolean binary;
    /** The open page's COPY (text format), or null between pages or when reading binary. */
    private CopyTextRows copy;
    /** The open page's COPY (binary format), or null between pages or when reading text. */
    private CopyBinaryRows binaryCopy;
    /** A row read ahead to learn whether the table goes on. */
    private Row ahead;
    /** The row read ahead was too large to fetch: the next call of next() throws this. */
    private ValueTooLargeException refused;
    private boolean tableEnded;
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
        this(task, connection, callerTransaction, null, false);
        this.after = startAfter(stored);
        this.readAfter = after;
    }

    /**
     * One page (at most {@code task.pageSize()} rows) after {@code after} (null: from the first key) that also meet
     * {@code condition}, inside the caller's transaction: a backfill's chunk ({@link KeyChunks}).
     */
    KeysetPageReader(StreamTask task, Connection connection, List<String> after, String condition) {
        this(task, connection, true, condition, true);
        this.after = after;
        this.readAfter = after;
    }

    /**
     * Every row that also meets {@code condition} (a key range of a parallel copy, {@link ParallelCopy}), page by page
     * inside the caller's transaction.
     */
    KeysetPageReader(StreamTask task, Connection connection, String condition) {
        this(task, connection, true, condition, false);
    }

    private KeysetPageReader(StreamTask task, Connection connection, boolean callerTransaction, String condition, boolean onePage) {
        this.task = task;
        this.condition = condition;
        this.onePage = onePage;
        this.connection = connection;
        this.callerTransaction = callerTransaction;
        this.schema = task.table().schema();
        this.keyPositions = task.keyColumns().stream().mapToInt(c -> schema.indexOf(c.name())).toArray();
        this.guard = new ValueSizeGuard(schema, task.maxValueBytes());
        this.binary = binary(task);
        this.firstSql = sql(false);
        this.nextSql = sql(true);
        this.settingsSql = settingsSql();
    }

    /**
     * Whether the pages can be read in binary: every column of a type that decodes exactly from its binary form, every key
     * column of one whose text output {@link BuiltinBinary#keyText} makes exactly (the bookmark holds that text).
     */
    static boolean binary(StreamTask task) {
        for (Column c : task.table().schema().columns()) {
            if (!BuiltinBinary.decodes(c.typeOid())) {
                return false;
            }
        }
        for (Column c : task.keyColumns()) {
            if (!BuiltinBinary.keyText(c.typeOid())) {
                return false;
            }
        }
        return true;
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
            // every INCREMENTAL run of every table does (with source.notify, one run per commit): not worth a line
            LOG.debug("{}: reading rows after the stored bookmark", task.stream());
            return stored.values();
        }
        if (!stored.completed()) {
            LOG.info("{}: resuming the unfinished run after its stored bookmark", task.stream());
            return stored.values();
        }
        return null;
    }

    /**
     * {@code COPY (SELECT ... LIMIT n) TO STDOUT}. COPY takes no bind parameters, so the bookmark values (and the bound)
     * are bound to {@code set_config} first and read back in the query with {@code current_setting}, cast to the key
     * column's type: the same exact comparison as a bound {@code ?::type}, and no value ever becomes SQL text.
     * {@code current_setting} is stable, so the comparison still drives the index scan.
     */
    private String sql(boolean withBookmark) {
        List<Column> keys = task.keyColumns();
        // the guard leaves out a value too large to fetch (source.max_value_bytes) and reports it in a last column
        StringBuilder sql = new StringBuilder("SELECT ").append(guard.selectList(task.table()))
                .append(" FROM ").append(task.table().partitioned() ? "" : "ONLY ").append(task.table().id().quoted());
        List<String> where = new ArrayList<>();
        if (task.table().rowFilter() != null) {
            where.add(task.table().rowFilter()); // the publication's, read from the catalog (LOG_BASED)
        }
        if (condition != null) {
            where.add("(" + condition + ")");
        }
        if (task.method() == ReplicationMethod.INCREMENTAL) {
            String rk = TableId.quoteIdent(keys.get(0).name());
            where.add(rk + " IS NOT NULL");
            if (task.upperBound() != null) {
                where.add(rk + " < " + bound(task.upperBound().keyTime()));
            }
        }
        if (withBookmark) {
            StringBuilder left = new StringBuilder("(");
            StringBuilder right = new StringBuilder("(");
            for (int i = 0; i < keys.size(); i++) {
                left.append(i == 0 ? "" : ", ").append(TableId.quoteIdent(keys.get(i).name()));
                right.append(i == 0 ? "" : ", ").append("pg_catalog.current_setting('").append(AFTER_SETTING).append(i + 1)
                        .append("')::").append(keys.get(i).typeName());
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
        return "COPY (" + sql.append(" LIMIT ").append(task.pageSize()) + ") TO STDOUT" + (binary ? " (FORMAT binary)" : "");
    }

    /** The upper bound in the replication key's type. */
    private static String bound(StreamTask.UpperBound.KeyTime keyTime) {
        String before = "pg_catalog.current_setting('" + BEFORE_SETTING + "')::pg_catalog.timestamptz";
        String wallClock = "(" + before + " AT TIME ZONE pg_catalog.current_setting('" + ZONE_SETTING + "'))";
        return switch (keyTime) {
            case TIMESTAMPTZ -> before;
            case TIMESTAMP -> wallClock;
            case DATE -> wallClock + "::pg_catalog.date";
        };
    }

    /**
     * {@code SELECT set_config('pgsource.before', ?, true), set_config('pgsource.time_zone', ?, true),
     * set_config('pgsource.after_1', ?, true), ...}: transaction-local.
     */
    private String settingsSql() {
        List<String> set = new ArrayList<>();
        if (task.upperBound() != null) {
            set.add("pg_catalog.set_config('" + BEFORE_SETTING + "', ?, true)");
            set.add("pg_catalog.set_config('" + ZONE_SETTING + "', ?, true)");
        }
        for (int i = 0; i < task.keyColumns().size(); i++) {
            set.add("pg_catalog.set_config('" + AFTER_SETTING + (i + 1) + "', ?, true)");
        }
        return set.isEmpty() ? null : "SELECT " + String.join(", ", set);
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
        if (refused != null) {
            more = false;
            throw refused;
        }
        int n = Math.min(task.pageSize(), MAX_BATCH_ROWS);
        List<Row> batch = new ArrayList<>(Math.min(n, 4096));
        Row row;
        while (batch.size() < n && (row = nextRow()) != null) {
            batch.add(row);
        }
        // the batch is the run's last when the table ended within it, or right after it (one row read ahead)
        boolean last = batch.size() < n || !readAhead();
        if (!batch.isEmpty()) {
            after = key(batch.get(batch.size() - 1));
        }
        more = !last;
        rows += batch.size();
        Bookmark bookmark = new Bookmark(task.method(), task.keyColumnNames(), after == null ? List.of() : after, last);
        Position position = new Position.Batch(task.stream(), bookmark.serialize());
        List<ChangeEvent> events = new ArrayList<>(batch.size());
        for (Row r : batch) {
            events.add(ChangeEvent.read(r, position));
        }
        if (last) {
            // an INCREMENTAL run that found nothing new says so at DEBUG only: runs come every sync.interval, or per commit;
            // a backfill's chunk and a parallel copy's key range too: they log per table
            // and a snapshot copy's table (callerTransaction): its copy's progress line says it
            boolean nothing = onePage || condition != null || callerTransaction
                    || rows == 0 && task.method() == ReplicationMethod.INCREMENTAL;
            String line = "{}: {} rows in {} pages ({}{})";
            Object[] args = {task.stream(), rows, pages, task.method(), task.upperBound() == null ? "" : ", " + task.upperBound()};
            if (nothing) {
                LOG.debug(line, args);
            } else {
                LOG.info(line, args);
            }
        }
        return new ChangeBatch(events, position, last, List.of(schema));
    }

    /**
     * Reads the row after a full batch into {@link #ahead}; false when the table ended. A row that cannot be fetched
     * is reported by the next call of {@link #next()}, so the rows before it still go out with their bookmark.
     */
    private boolean readAhead() throws SQLException {
        try {
            ahead = nextRow();
            return ahead != null;
        } catch (ValueTooLargeException e) {
            refused = e;
            return true;
        }
    }

    /**
     * The table's next row in key order, or null after its last: from the open page's COPY, else from a new page
     * (a new COPY after the last row read, in a new transaction) when the previous page was full.
     */
    private Row nextRow() throws SQLException {
        if (ahead != null) {
            Row r = ahead;
            ahead = null;
            return r;
        }
        while (!tableEnded) {
            if (copy == null && binaryCopy == null) {
                openPage();
            }
            boolean full;
            if (binary) {
                if (binaryCopy.next()) {
                    Row r = guard.row(binaryCopy.buf(), binaryCopy.start(), binaryCopy.tableEnd(), binaryCopy.end(), task);
                    lastRead = r;
                    return r;
                }
                full = binaryCopy.count() >= task.pageSize();
                binaryCopy.close();
                binaryCopy = null;
            } else {
                byte[] line = copy.next();
                if (line != null) {
                    Row r = guard.row(line, task);
                    lastRead = r;
                    return r;
                }
                full = copy.count() >= task.pageSize();
                copy.close();
                copy = null;
            }
            if (!callerTransaction) {
                // on failure the caller closes the connection, which ends the transaction
                connection.commit();
            }
            tableEnded = !full || onePage;
        }
        return null;
    }

    /** Starts the COPY of the next page: rows after the last one read (or after the bookmark to resume from). */
    private void openPage() throws SQLException {
        if (lastRead != null) {
            // the previous page's last row: not handed out yet, as the end of its page is found before its batch is
            readAfter = key(lastRead);
            lastRead = null;
        }
        if (task.upperBound() != null || readAfter != null) {
            try (PreparedStatement ps = connection.prepareStatement(settingsSql)) {
                int p = 1;
                if (task.upperBound() != null) {
                    ps.setString(p++, task.upperBound().before());
                    ps.setString(p++, task.upperBound().timeZone());
                }
                for (int i = 0; i < task.keyColumns().size(); i++) {
                    // a first page sets them too (unused), so the statement is always the same
                    ps.setString(p++, readAfter == null ? "" : readAfter.get(i));
                }
                ps.executeQuery().close();
            }
        }
        String sql = readAfter == null ? firstSql : nextSql;
        if (binary) {
            binaryCopy = new CopyBinaryRows(connection, sql, schema.size());
        } else {
            copy = new CopyTextRows(connection, sql);
        }
        pages++;
    }

    private List<String> key(Row row) {
        List<String> key = new ArrayList<>(keyPositions.length);
        for (int position : keyPositions) {
            key.add(keyText(row, position));
        }
        return key;
    }

    /**
     * A key value of a row this reader read, as PostgreSQL's text output: as read (text), or made of the binary form
     * exactly as the server prints it ({@link #binary} reads binary only keys it can be made of).
     */
    static String keyText(Row row, int position) {
        Object v = row.get(position);
        return v instanceof byte[] b ? BuiltinBinary.keyText(row.schema().columns().get(position).typeOid(), b) : (String) v;
    }

    @Override
    public void close() {
        try {
            if (copy != null) {
                copy.close();
            }
            if (binaryCopy != null) {
                binaryCopy.close();
            }
        } catch (SQLException e) {
            LOG.debug("{}: cancelling the COPY failed", task.stream(), e);
        }
        copy = null;
        binaryCopy = null;
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
