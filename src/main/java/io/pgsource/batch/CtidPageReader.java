package io.pgsource.batch;

import io.pgsource.catalog.TableInfo;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
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
 * Pages over a table without primary key, in physical order: block ranges
 * {@code WHERE ctid >= '(b0,0)'::tid AND ctid < '(b1,0)'::tid} (TID range scans on PostgreSQL 14+; older servers
 * scan the whole table for every page). A range is sized from the table's rows per block so that it holds about
 * one page; when it holds more, the page ends at {@code LIMIT n} and the next one continues after the last ctid,
 * so no page ever exceeds {@code n} rows whatever the statistics say. The estimate adapts to what the ranges
 * really held. A partitioned table is read partition by partition.
 *
 * <p>Such rows cannot be upserted, so every run starts over: its first page begins with a TRUNCATE event, and
 * after the run the destination holds exactly the source's rows, duplicates included. A run reads up to the
 * table's block count at its start, and re-checks it at the end to read blocks added meanwhile.
 *
 * <p>Limitation: rows updated while a run is under way move to another place in the table and may be read twice
 * or not at all in that run (the next run repairs it). LOG_BASED replication does not have that problem.
 */
final class CtidPageReader implements PageReader {
    private static final Logger LOG = LoggerFactory.getLogger(CtidPageReader.class);
    /** Block numbers are unsigned 32-bit. */
    private static final long MAX_BLOCK = 0xFFFFFFFFL;

    private final StreamTask task;
    private final Connection connection;
    /** Reads inside the caller's transaction (a snapshot copy): never commits nor closes the connection. */
    private final boolean callerTransaction;
    private final TableSchema schema;
    private final List<Heap> heaps;
    private final double maxRowsPerBlock;
    private final String selectList;
    /** {@code AND <the publication's row filter>} (LOG_BASED), or empty. */
    private final String rowFilter;
    private final ValueSizeGuard guard;
    private boolean truncated;
    private boolean more = true;
    private int heapIndex = -1;
    private long blocks;
    private long windowStart;
    private long windowEnd = -1;
    private String lastCtid;
    private long windowRows;
    private double rowsPerBlock;
    private long rows;
    private int pages;
    /** A block range of a parallel copy ({@link ParallelCopy}): its first block, and its end (exclusive); -1: the whole table. */
    private final long rangeFrom;
    private final long rangeTo;

    /** Reads each page in its own transaction on {@code connection}, and closes it in {@link #close()}. */
    CtidPageReader(StreamTask task, Connection connection) throws SQLException {
        this(task, connection, false);
    }

    /**
     * @param callerTransaction true to read inside the caller's open transaction, which the reader neither commits
     *                          nor closes (the caller owns the connection)
     */
    CtidPageReader(StreamTask task, Connection connection, boolean callerTransaction) throws SQLException {
        this(task, connection, callerTransaction, -1, -1);
    }

    /**
     * The blocks {@code [from, to)} of a table that is not partitioned, inside the caller's transaction (an imported
     * snapshot, where every row visible has one place in the table): one range of a parallel copy. No TRUNCATE event
     * (the copy sends one before any range), and the table's growth is not followed (rows added after the snapshot are
     * not visible in it).
     */
    CtidPageReader(StreamTask task, Connection connection, long from, long to) throws SQLException {
        this(task, connection, true, from, to);
        if (task.table().partitioned()) {
            throw new IllegalArgumentException(task + ": a partitioned table is not read by block range");
        }
        this.truncated = true;
    }

    private CtidPageReader(StreamTask task, Connection connection, boolean callerTransaction, long from, long to) throws SQLException {
        this.rangeFrom = from;
        this.rangeTo = to;
        this.task = task;
        this.connection = connection;
        this.callerTransaction = callerTransaction;
        this.schema = task.table().schema();
        this.heaps = heaps(task.table());
        int blockSize;
        try (PreparedStatement ps = connection.prepareStatement("SELECT pg_catalog.current_setting('block_size')::int");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            blockSize = rs.getInt(1);
        }
        commit();
        // a heap tuple takes at least 28 bytes with its line pointer (MaxHeapTuplesPerPage is 291 for 8 kB blocks)
        this.maxRowsPerBlock = Math.max(1, blockSize / 28);
        this.guard = new ValueSizeGuard(schema, task.maxValueBytes());
        this.selectList = guard.selectList(task.table());
        this.rowFilter = task.table().rowFilter() == null ? "" : " AND " + task.table().rowFilter();
    }

    private record Heap(String quotedName, long oid, long estimatedRows, long pages) {
    }

    /** The tables that hold the rows: the table itself, or the leaf partitions of a partitioned table. */
    private List<Heap> heaps(TableInfo table) throws SQLException {
        if (!table.partitioned()) {
            return List.of(new Heap(table.id().quoted(), table.oid(), table.estimatedRows(), table.pages()));
        }
        String sql = "WITH RECURSIVE tree(relid) AS (SELECT ?::bigint::oid"
                + " UNION ALL SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.relid)"
                + " SELECT c.oid, n.nspname, c.relname, c.reltuples, c.relpages FROM tree t"
                + " JOIN pg_catalog.pg_class c ON c.oid = t.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE c.relkind = 'r' ORDER BY n.nspname, c.relname";
        List<Heap> leaves = new ArrayList<>();
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setLong(1, table.oid());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    leaves.add(new Heap(new TableId(rs.getString(2), rs.getString(3)).quoted(), rs.getLong(1),
                            Math.round(rs.getDouble(4)), rs.getLong(5)));
                }
            }
        }
        commit();
        return leaves;
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
        int n = batchRows();
        List<Row> page = new ArrayList<>(Math.min(n, 4096));
        boolean finished = false;
        if (heapIndex < 0) {
            startHeap(0);
        }
        while (page.size() < n) {
            if (heapIndex >= heaps.size()) {
                finished = true;
                break;
            }
            if (windowStart >= blocks) {
                if (rangeFrom >= 0) {
                    heapIndex = heaps.size(); // the range ends here
                    continue;
                }
                long now = blockCount(heaps.get(heapIndex));
                if (now > blocks) {
                    blocks = now; // the table grew during the run: read the new blocks too
                } else {
                    startHeap(heapIndex + 1);
                }
                continue;
            }
            if (windowEnd < 0) {
                windowEnd = Math.min(blocks, windowStart + windowBlocks());
            }
            int limit = n - page.size();
            int got = readRange(heaps.get(heapIndex), limit, page);
            windowRows += got;
            if (got < limit) {
                finishWindow();
            }
        }
        commit();
        boolean first = !truncated;
        truncated = true;
        more = !finished;
        rows += page.size();
        pages++;
        Position position = new Position.Batch(task.stream(),
                new Bookmark(ReplicationMethod.FULL_TABLE, List.of(), List.of(), finished).serialize());
        List<ChangeEvent> events = new ArrayList<>(page.size() + 1);
        if (first) {
            events.add(ChangeEvent.truncate(schema, position));
        }
        for (Row row : page) {
            events.add(ChangeEvent.read(row, position));
        }
        if (finished && rangeFrom >= 0) {
            LOG.debug("{}: {} rows in blocks {} to {}", task.stream(), rows, rangeFrom, rangeTo);
        } else if (finished && callerTransaction) {
            // a snapshot copy's table: its copy's progress line says it
            LOG.debug("{}: {} rows in {} pages (FULL_TABLE, no primary key: replaced as a whole)", task.stream(), rows, pages);
        } else if (finished) {
            LOG.info("{}: {} rows in {} pages (FULL_TABLE, no primary key: replaced as a whole)", task.stream(), rows, pages);
        }
        return new ChangeBatch(events, position, finished, List.of(schema));
    }

    /** Reads up to {@code limit} rows of the current window (after the last ctid read from it) into the page. */
    private int readRange(Heap heap, int limit, List<Row> page) throws SQLException {
        boolean continuing = lastCtid != null;
        String sql = "SELECT ctid, " + selectList + " FROM ONLY " + heap.quotedName()
                + " WHERE ctid " + (continuing ? ">" : ">=") + " ?::tid AND ctid < ?::tid" + rowFilter + " ORDER BY ctid LIMIT ?";
        int got = 0;
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setObject(1, continuing ? lastCtid : tid(windowStart), Types.OTHER);
            ps.setObject(2, tid(windowEnd), Types.OTHER);
            ps.setInt(3, limit);
            ps.setFetchSize(Math.min(limit, FETCH_SIZE));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    lastCtid = rs.getString(1);
                    page.add(guard.row(rs, 2, task));
                    got++;
                }
            }
        }
        return got;
    }

    private void finishWindow() {
        long width = windowEnd - windowStart;
        if (windowRows == 0) {
            rowsPerBlock = Math.max(rowsPerBlock / 2, 1e-6); // empty range: try a wider one
        } else {
            rowsPerBlock = Math.min(maxRowsPerBlock, (double) windowRows / width);
        }
        windowStart = windowEnd;
        windowEnd = -1;
        lastCtid = null;
        windowRows = 0;
    }

    private long windowBlocks() {
        return Math.max(1, Math.min(MAX_BLOCK, (long) Math.floor(batchRows() / rowsPerBlock)));
    }

    private void startHeap(int index) throws SQLException {
        heapIndex = index;
        windowStart = 0;
        windowEnd = -1;
        lastCtid = null;
        windowRows = 0;
        if (index < heaps.size()) {
            Heap heap = heaps.get(index);
            blocks = rangeFrom >= 0 ? rangeTo : blockCount(heap);
            windowStart = Math.max(0, rangeFrom);
            rowsPerBlock = heap.pages() > 0 && heap.estimatedRows() > 0
                    ? Math.min(maxRowsPerBlock, Math.max(1e-6, (double) heap.estimatedRows() / heap.pages()))
                    : maxRowsPerBlock; // no statistics: assume the densest blocks, the range grows if they are not
        }
    }

    private long blockCount(Heap heap) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT pg_catalog.pg_relation_size(?::bigint::oid) / pg_catalog.current_setting('block_size')::bigint")) {
            ps.setLong(1, heap.oid());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return Math.min(MAX_BLOCK, rs.getLong(1));
            }
        }
    }

    /** Rows per page: the page size, at most {@link #MAX_BATCH_ROWS}. */
    private int batchRows() {
        return Math.min(task.pageSize(), MAX_BATCH_ROWS);
    }

    private static String tid(long block) {
        return "(" + block + ",0)";
    }

    /** Ends the read transaction, unless the reader runs inside the caller's. */
    private void commit() throws SQLException {
        if (!callerTransaction) {
            connection.commit();
        }
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
