package io.pgsource.batch;

import io.pgsource.catalog.ColumnCatalog;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceConnections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The snapshot copy with several readers ({@code source.snapshot_workers}): every reader is a connection of its own
 * that imports the same exported snapshot, so together they read exactly the snapshot, as one reader would. Different
 * tables are read in parallel, and a large table is split into ranges read by several readers:
 * <ul>
 * <li>key ranges on the first primary-key column, from its histogram ({@code pg_stats.histogram_bounds}), when that
 * column's type has no collation (numbers, dates, uuid...): {@code k < b1}, {@code k >= b1 AND k < b2}, ...,
 * {@code k >= bn}, every key in exactly one range, each read in keyset pages;</li>
 * <li>otherwise (no key, a text key, never analyzed) block ranges {@code ctid >= '(b0,0)' AND ctid < '(b1,0)'}: inside
 * the snapshot every visible row has one place in the table, and no row visible in it lies past the table's size read
 * after the snapshot was imported, so each row is read once (PostgreSQL 14+, whose TID range scans read just the
 * range; older servers and partitioned tables without such a histogram are read whole by one reader).</li>
 * </ul>
 *
 * <p>The destination side stays as with one reader: the pages go, one at a time, to the {@link SnapshotCopy.PageHandler}
 * on the caller's thread (the pipeline never sees two pages at once). The first page it sends of a table begins with
 * the TRUNCATE event; a table's pages carry a bookmark without a position, and only the page sent after every range
 * of the table was applied carries the completed bookmark and {@code last}: a copy cut short never leaves a table
 * marked as copied, and a FULL_TABLE run that finds such a bookmark starts that table over. At most
 * one page waits between the readers and the caller, besides the one each reader holds and the one being applied:
 * {@code workers + 2} pages of at most {@link PageReader#MAX_BATCH_ROWS} rows in memory. The copy uses
 * {@code workers + 1} source connections (one reads the catalog).
 */
final class ParallelCopy {
    private static final Logger LOG = LoggerFactory.getLogger(ParallelCopy.class);
    /** At most this many ranges per reader in one table: more ranges than readers keep every reader busy to the end. */
    static final int RANGES_PER_WORKER = 4;
    /** Rows per block assumed for a table never analyzed, to guess how many ranges it is worth. */
    private static final int ROWS_PER_BLOCK_GUESS = 60;

    private final SourceConnections connections;
    private final Executor executor;
    private final CopyProgress progress;
    private final int workers;
    /** How the last copy split each table ({@code key ranges: 16}, {@code block ranges: 8}, {@code whole}), for tests. */
    private final Map<TableId, String> split = new ConcurrentHashMap<>();

    ParallelCopy(SourceConnections connections, Executor executor, CopyProgress progress, int workers) {
        if (workers < 2) {
            throw new IllegalArgumentException("a parallel copy has 2 readers or more, not " + workers);
        }
        this.connections = connections;
        this.executor = executor;
        this.progress = progress;
        this.workers = workers;
    }

    /** One table's copy, as the caller's thread sees it (only it reads and writes the fields but {@code task}). */
    private static final class TableCopy {
        final StreamTask task;
        final SourceColumns columns;
        final long size;
        int rangesLeft;
        boolean truncated;
        CopyProgress.Table progress;

        TableCopy(StreamTask task, SourceColumns columns, long size) {
            this.task = task;
            this.columns = columns;
            this.size = size;
        }
    }

    /** A part of a table one reader reads: a key condition, a block range, or (neither) the whole table. */
    private record Range(TableCopy table, String condition, long fromBlock, long toBlock) {
        PageReader reader(Connection c) throws SQLException {
            StreamTask task = table.task;
            if (condition != null) {
                return new KeysetPageReader(task, c, condition);
            }
            if (fromBlock >= 0) {
                return new CtidPageReader(task, c, fromBlock, toBlock);
            }
            return task.keyless() ? new CtidPageReader(task, c, true) : new KeysetPageReader(task, c, null, true);
        }
    }

    /** What a reader hands over: a page of a range, or its failure. */
    private record Item(Range range, ChangeBatch page, Throwable failure) {
    }

    void copy(String snapshot, List<StreamTask> tasks, SnapshotCopy.PageHandler pages, SnapshotCopy.CopiedHandler copied)
            throws Exception {
        List<Connection> open = new ArrayList<>();
        // one page waits here; each reader holds at most one more (read, or being read) and the caller applies one
        BlockingQueue<Item> queue = new ArrayBlockingQueue<>(1);
        ConcurrentLinkedQueue<Range> ranges = new ConcurrentLinkedQueue<>();
        CountDownLatch readersDone = new CountDownLatch(workers);
        Stop stop = new Stop();
        boolean readersStarted = false;
        try {
            // the catalog's view of the snapshot (columns, ranges, estimates) on a connection of its own
            Connection catalog = connections.open();
            open.add(catalog);
            SnapshotCopy.begin(catalog, snapshot);
            List<Connection> readers = new ArrayList<>();
            for (int i = 0; i < workers; i++) {
                Connection c = connections.open();
                open.add(c);
                SnapshotCopy.begin(c, snapshot); // while the slot's connection still holds the snapshot
                readers.add(c);
            }
            long started = System.nanoTime();
            List<TableId> ids = tasks.stream().map(t -> t.table().id()).toList();
            progress.plan(catalog, ids);
            Map<TableId, SourceColumns> columns = ColumnCatalog.readAll(catalog, ids);
            Map<Long, Long> blocks = blocks(catalog, tasks);
            List<TableCopy> tables = new ArrayList<>();
            for (StreamTask task : tasks) {
                tables.add(new TableCopy(task, columns.get(task.table().id()), blocks.getOrDefault(task.table().oid(), 0L)));
            }
            // the largest first, so a large table's ranges do not start last and leave the other readers idle
            tables.sort(Comparator.comparingLong((TableCopy t) -> t.size).reversed());
            int split = 0;
            for (TableCopy t : tables) {
                List<Range> parts = ranges(catalog, t);
                t.rangesLeft = parts.size();
                ranges.addAll(parts);
                split += parts.size() > 1 ? 1 : 0;
            }
            LOG.info("Copying {} table(s) inside snapshot {} with {} readers: {} range(s), {} table(s) split", tasks.size(), snapshot,
                    workers, ranges.size(), split);
            // planned: the catalog's connection leaves the snapshot, so it does not sit idle in a transaction for the whole
            // copy (idle_in_transaction_session_timeout); it only reads each table's estimate when its first page comes
            catalog.commit();
            catalog.setAutoCommit(true);
            for (Connection c : readers) {
                executor.execute(() -> read(c, ranges, queue, stop, readersDone));
            }
            readersStarted = true;
            apply(tables, queue, readersDone, pages, copied, catalog);
            readersDone.await();
            for (Connection c : readers) {
                c.commit();
            }
            LOG.info("initial copy of {} tables inside snapshot {} with {} readers done in {} ms", tasks.size(), snapshot, workers,
                    (System.nanoTime() - started) / 1_000_000);
        } finally {
            stop.stopped = true;
            if (readersStarted) {
                // readers waiting for room in the queue see the stop within their wait; one reading a page ends it first
                try {
                    while (!readersDone.await(100, TimeUnit.MILLISECONDS)) {
                        queue.clear();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt(); // stopping: the connections close under the readers
                }
            }
            for (Connection c : open) {
                try {
                    c.close();
                } catch (SQLException e) {
                    LOG.debug("closing a reader's connection failed", e);
                }
            }
        }
    }

    private static final class Stop {
        volatile boolean stopped;
    }

    /** A reader: takes range after range and hands their pages over, until no range is left or the copy stops. */
    private static void read(Connection c, ConcurrentLinkedQueue<Range> ranges, BlockingQueue<Item> queue, Stop stop,
            CountDownLatch done) {
        try {
            Range range;
            while (!stop.stopped && (range = ranges.poll()) != null) {
                try (PageReader reader = range.reader(c)) {
                    while (reader.more() && !stop.stopped) {
                        hand(queue, new Item(range, reader.next(), null), stop);
                    }
                }
            }
        } catch (Throwable e) {
            try {
                hand(queue, new Item(null, null, e), stop);
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
        } finally {
            done.countDown();
        }
    }

    private static void hand(BlockingQueue<Item> queue, Item item, Stop stop) throws InterruptedException {
        while (!queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
            if (stop.stopped) {
                return;
            }
        }
    }

    /** The caller's side: the pages, one at a time, in the order they come; each table's end once all its ranges ended. */
    private void apply(List<TableCopy> tables, BlockingQueue<Item> queue, CountDownLatch readersDone, SnapshotCopy.PageHandler pages,
            SnapshotCopy.CopiedHandler copied, Connection catalog) throws Exception {
        int tablesLeft = tables.size();
        while (tablesLeft > 0) {
            Item item = queue.poll(1, TimeUnit.SECONDS);
            if (item == null) {
                if (readersDone.getCount() == 0 && queue.isEmpty()) {
                    throw new IllegalStateException("the readers of the snapshot copy ended with " + tablesLeft + " table(s) unfinished");
                }
                continue;
            }
            if (item.failure() != null) {
                if (item.failure() instanceof Exception e) {
                    throw e;
                }
                throw (Error) item.failure();
            }
            TableCopy t = item.range().table;
            if (t.progress == null) {
                t.progress = progress.start(catalog, t.task.table().id());
            }
            ChangeBatch page = item.page();
            if (page.last()) {
                t.rangesLeft--;
            }
            boolean tableDone = t.rangesLeft == 0;
            ChangeBatch out = rewrite(t, page, tableDone);
            if (out == null) {
                continue;
            }
            try {
                t.progress.page(out); // before the pipeline turns the values from text into Java values in place
                pages.accept(out, tableDone ? copied.records(t.task, t.columns) : Map.of());
                if (tableDone) {
                    copied.copied(t.task, t.columns);
                }
            } catch (Exception | Error e) {
                t.progress.abandoned();
                throw e;
            }
            if (tableDone) {
                t.progress.finished();
                tablesLeft--;
            }
        }
    }

    /**
     * The page as the destination gets it: the TRUNCATE first on the table's first page (and on no other), a bookmark
     * without a position, completed and {@code last} on the table's last page only. Null: nothing to send (an empty
     * page in the middle).
     */
    private static ChangeBatch rewrite(TableCopy t, ChangeBatch page, boolean tableDone) {
        List<ChangeEvent> rows = new ArrayList<>(page.size() + 1);
        for (ChangeEvent e : page) {
            if (e.op() != Op.TRUNCATE) {
                rows.add(e);
            }
        }
        boolean truncate = !t.truncated;
        if (rows.isEmpty() && !truncate && !tableDone) {
            return null;
        }
        StreamTask task = t.task;
        Position position = new Position.Batch(task.stream(),
                new Bookmark(ReplicationMethod.FULL_TABLE, task.keyColumnNames(), List.of(), tableDone).serialize());
        List<ChangeEvent> events = new ArrayList<>(rows.size() + 1);
        if (truncate) {
            events.add(ChangeEvent.truncate(task.table().schema(), position));
            t.truncated = true;
        }
        for (ChangeEvent e : rows) {
            events.add(ChangeEvent.read(e.after(), position));
        }
        return new ChangeBatch(events, position, tableDone, page.tables());
    }

    /**
     * Each table's blocks now (its size inside the snapshot at least), by OID, in one query; 0 (left out) for a
     * partitioned table.
     */
    private static Map<Long, Long> blocks(Connection c, List<StreamTask> tasks) throws SQLException {
        Long[] oids = tasks.stream().filter(t -> !t.table().partitioned()).map(t -> t.table().oid()).toArray(Long[]::new);
        Map<Long, Long> blocks = new java.util.HashMap<>();
        if (oids.length == 0) {
            return blocks;
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT o, pg_catalog.pg_relation_size(o::oid)"
                + " / pg_catalog.current_setting('block_size')::bigint FROM pg_catalog.unnest(?::bigint[]) AS o")) {
            ps.setArray(1, c.createArrayOf("bigint", oids));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    blocks.put(rs.getLong(1), rs.getLong(2));
                }
            }
        }
        return blocks;
    }

    /** The ranges of a table: as many as it has pages' worth of rows, at most {@link #RANGES_PER_WORKER} per reader. */
    private List<Range> ranges(Connection c, TableCopy t) throws SQLException {
        long rows = t.task.table().estimatedRows() > 0 ? t.task.table().estimatedRows() : t.size * ROWS_PER_BLOCK_GUESS;
        int wanted = (int) Math.max(1, Math.min((long) workers * RANGES_PER_WORKER, rows / Math.max(1, t.task.pageSize())));
        if (wanted > 1 && !t.task.keyless()) {
            List<String> bounds = keyBounds(c, t.task, wanted);
            if (!bounds.isEmpty()) {
                String key = TableId.quoteIdent(t.task.keyColumns().get(0).name());
                String type = t.task.keyColumns().get(0).typeName();
                List<Range> parts = new ArrayList<>();
                parts.add(new Range(t, key + " < " + bounds.get(0) + "::" + type, -1, -1));
                for (int i = 0; i < bounds.size(); i++) {
                    String lower = key + " >= " + bounds.get(i) + "::" + type;
                    parts.add(new Range(t, i + 1 < bounds.size() ? lower + " AND " + key + " < " + bounds.get(i + 1) + "::" + type : lower,
                            -1, -1));
                }
                split.put(t.task.table().id(), "key ranges: " + parts.size());
                return parts;
            }
        }
        if (wanted > 1 && !t.task.table().partitioned() && t.size > 1 && c.getMetaData().getDatabaseMajorVersion() >= 14) {
            int n = (int) Math.min(wanted, t.size);
            List<Range> parts = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                parts.add(new Range(t, null, t.size * i / n, i + 1 == n ? t.size : t.size * (i + 1) / n));
            }
            split.put(t.task.table().id(), "block ranges: " + parts.size());
            return parts;
        }
        split.put(t.task.table().id(), "whole");
        return List.of(new Range(t, null, -1, -1));
    }

    /** How the last copy split each table: {@code key ranges: n}, {@code block ranges: n} or {@code whole}. */
    Map<TableId, String> split() {
        return Map.copyOf(split);
    }

    /**
     * Up to {@code wanted - 1} boundaries between key ranges, as SQL literals in increasing order of the first key
     * column's type, from its histogram; none when the column's type has a collation (the order the ranges compare in
     * would be the column's, which the histogram need not follow) or there is no histogram.
     */
    private static List<String> keyBounds(Connection c, StreamTask task, int wanted) throws SQLException {
        String column = task.keyColumns().get(0).name();
        String type = task.keyColumns().get(0).typeName();
        // DISTINCT and ORDER BY in the column's type: the order its < compares in (no collation to differ)
        String sql = "SELECT pg_catalog.quote_literal(b) FROM (SELECT DISTINCT v::" + type + " AS b FROM pg_catalog.unnest(("
                + "SELECT s.histogram_bounds::text::text[] FROM pg_catalog.pg_stats s WHERE s.schemaname = ? AND s.tablename = ?"
                + " AND s.attname = ? ORDER BY s.inherited DESC LIMIT 1)) v) x ORDER BY b";
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attcollation <> 0 FROM pg_catalog.pg_attribute a"
                + " WHERE a.attrelid = ?::bigint::oid AND a.attname = ?")) {
            ps.setLong(1, task.table().oid());
            ps.setString(2, column);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next() || rs.getBoolean(1)) {
                    return List.of();
                }
            }
        }
        List<String> histogram = new ArrayList<>();
        // a value the type cannot read back (a histogram of another type after an ALTER) must not end the snapshot's
        // transaction: then the table is split by block range
        Savepoint savepoint = c.setSavepoint();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, task.table().id().schema());
            ps.setString(2, task.table().id().name());
            ps.setString(3, column);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    histogram.add(rs.getString(1));
                }
            }
            c.releaseSavepoint(savepoint);
        } catch (SQLException e) {
            c.rollback(savepoint);
            LOG.debug("{}: no key ranges from the histogram of {}: {}", task.stream(), column, e.getMessage());
            return List.of();
        }
        if (histogram.size() < 3) {
            return List.of();
        }
        // the histogram's first and last bounds are the smallest and largest values: the boundaries lie between them
        List<String> bounds = new ArrayList<>();
        for (int i = 1; i < wanted; i++) {
            String b = histogram.get((int) ((long) i * (histogram.size() - 1) / wanted));
            if (bounds.isEmpty() || !bounds.get(bounds.size() - 1).equals(b)) {
                bounds.add(b);
            }
        }
        return bounds;
    }
}
