package io.pgsource.batch;

import io.pgsource.catalog.ColumnCatalog;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceConnections;
import io.pgsource.state.PositionStore;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The initial copy of log replication, read inside the snapshot a new replication slot exported, so the copy and
 * the stream from that slot meet exactly: every transaction committed before the slot is in the copy, every later
 * one comes from the slot.
 *
 * <p>With {@code source.snapshot_workers} above 1 the copy is a {@link ParallelCopy}: several connections import the
 * snapshot, and the pages reach the {@link PageHandler} one at a time as here. Otherwise (the default):
 * one source connection, one {@code REPEATABLE READ} read-only transaction that imports the snapshot
 * ({@code SET TRANSACTION SNAPSHOT}) and stays open until every table is read. Each table is read page by page with
 * the batch query's readers (keyset pages by primary key, ctid ranges without one); the pages go to the
 * {@link PageHandler} one at a time, in order, while the next one is read (on a thread of {@code readers}). The pages are the same as a FULL_TABLE run's: READ events, each
 * page's {@code Position.Batch} holding the FULL_TABLE bookmark of its last row, {@code completed} on a table's last
 * page. The first page of every table starts with a TRUNCATE event, so the destination table ends up holding exactly
 * the snapshot's rows (whatever an earlier attempt left there).
 *
 * <p>The snapshot exists only while the connection that created the slot is open and idle, and only this copy's
 * transaction keeps it afterwards. After a restart in the middle of the copy it is gone: the caller finishes with
 * ordinary FULL_TABLE pages, which resume after the stored bookmarks (the same format), and relies on idempotent
 * upserts while the slot replays what changed since. {@link #completed} says whether every table's copy was
 * committed at the destination, so a finished copy is not done again. A table without primary key has no bookmark
 * to resume from: its ordinary run starts over (TRUNCATE, then the rows as they are then), and the slot's replay of
 * what changed since the snapshot may then double or miss some of its rows.
 */
public final class SnapshotCopy {
    /** What {@code pg_export_snapshot()} and slot creation return, e.g. {@code 00000003-0000001B-1}. */
    private static final Pattern SNAPSHOT_NAME = Pattern.compile("^[0-9A-F]+-[0-9A-F]+-[0-9]+$");
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotCopy.class);

    private final SourceConnections connections;
    private final Executor readers;
    private final CopyProgress progress;
    private final int workers;

    /** @param readers runs the reads ahead: the next page is read there while the current one is applied */
    public SnapshotCopy(SourceConnections connections, Executor readers) {
        this(connections, readers, CopyProgress.NONE);
    }

    /** @param progress hears of each table's start and of every page applied */
    public SnapshotCopy(SourceConnections connections, Executor readers, CopyProgress progress) {
        this(connections, readers, progress, 1);
    }

    /**
     * @param workers how many connections read inside the snapshot at once ({@code source.snapshot_workers}); with more
     *                than one the copy is a {@link ParallelCopy}
     */
    public SnapshotCopy(SourceConnections connections, Executor readers, CopyProgress progress, int workers) {
        if (workers < 1) {
            throw new IllegalArgumentException("a snapshot copy has at least one reader, not " + workers);
        }
        this.connections = connections;
        this.readers = readers;
        this.progress = progress;
        this.workers = workers;
    }

    /** The same copy with one reader. */
    public SnapshotCopy oneReader() {
        return workers == 1 ? this : new SnapshotCopy(connections, readers, progress, 1);
    }

    /** Receives the pages of the copy, in order; returns once the page is applied (committed) at the destination. */
    @FunctionalInterface
    public interface PageHandler {
        void accept(ChangeBatch page) throws Exception;

        /**
         * A page with the records to store with it ({@link CopiedHandler#records}, on a table's last page; empty on the
         * others): a handler that stores them overrides this. This one stores none, so it takes no records.
         */
        default void accept(ChangeBatch page, Map<String, String> records) throws Exception {
            if (!records.isEmpty()) {
                throw new IllegalStateException("this page handler stores no records with a page, but the copy has "
                        + records.keySet() + " to store");
            }
            accept(page);
        }
    }

    /** Hears of each table whose copy is applied at the destination. */
    @FunctionalInterface
    public interface CopiedHandler {
        /**
         * @param task    the table
         * @param columns its columns as the catalog had them in the snapshot (what the copy's rows hold); null when the
         *                table is gone from it
         */
        void copied(StreamTask task, SourceColumns columns) throws Exception;

        /**
         * What the table's copy leaves in the position store (stream to value), stored with its last page, in the same
         * destination transaction where the destination can ({@link PageHandler#accept(ChangeBatch, Map)}): a kill then
         * leaves the table either copied and recorded or neither, and a copy of many small tables commits once per
         * table. None by default.
         *
         * @param columns as for {@link #copied}
         */
        default Map<String, String> records(StreamTask task, SourceColumns columns) {
            return Map.of();
        }
    }

    /**
     * Copies every table inside the exported snapshot.
     *
     * @param snapshot the snapshot name the slot's creation returned
     * @param tasks    the tables to copy (FULL_TABLE streams of {@link BatchStreams})
     * @param pages    applies each page synchronously; an exception stops the copy and is rethrown
     * @throws IllegalArgumentException when the name is not a snapshot name, or a task is not FULL_TABLE
     * @throws SQLException             when the source fails, or the snapshot no longer exists
     */
    public void copy(String snapshot, List<StreamTask> tasks, PageHandler pages) throws Exception {
        copy(snapshot, tasks, pages, (task, columns) -> { });
    }

    /**
     * Copies every table inside the exported snapshot, and says when each table's copy is applied.
     *
     * @param copied called after the last page of each table was applied, with the table's columns as the snapshot has
     *               them
     */
    public void copy(String snapshot, List<StreamTask> tasks, PageHandler pages, CopiedHandler copied) throws Exception {
        if (snapshot == null || !SNAPSHOT_NAME.matcher(snapshot).matches()) {
            throw new IllegalArgumentException("'" + snapshot + "' is not an exported snapshot name (like 00000003-0000001B-1)");
        }
        for (StreamTask task : tasks) {
            if (task.method() != ReplicationMethod.FULL_TABLE) {
                throw new IllegalArgumentException(task + ": the snapshot copy reads FULL_TABLE streams only");
            }
        }
        if (workers > 1 && tasks.size() > 0) {
            new ParallelCopy(connections, readers, progress, workers).copy(snapshot, tasks, pages, copied);
            return;
        }
        try (Connection c = connections.open()) {
            begin(c, snapshot);
            long started = System.nanoTime();
            List<TableId> ids = tasks.stream().map(t -> t.table().id()).toList();
            // the catalog of every table at once, before the first reader starts (each uses the connection on a thread of
            // its own): a few queries, not a few per table, so thousands of small tables are not thousands of round trips
            progress.plan(c, ids);
            Map<TableId, SourceColumns> catalog = ColumnCatalog.readAll(c, ids);
            PageReader next = null;
            try {
                for (int i = 0; i < tasks.size(); i++) {
                    StreamTask task = tasks.get(i);
                    SourceColumns columns = catalog.get(task.table().id());
                    // its estimate came with the plan: no query, the connection may be reading this table's first page
                    CopyProgress.Table table = progress.start(null, task.table().id());
                    PageReader reader = next != null ? next : reader(c, task);
                    next = null;
                    try (reader) {
                        boolean first = true;
                        while (reader.more()) {
                            ChangeBatch page = reader.next();
                            boolean lastPage = !reader.more();
                            if (lastPage && i + 1 < tasks.size()) {
                                // this table is read: the next one's first page is read while its last is applied, so
                                // a copy of many small tables does not wait for a round trip to the source per table
                                next = reader(c, tasks.get(i + 1));
                            }
                            if (first && (page.isEmpty() || page.get(0).op() != Op.TRUNCATE)) {
                                page = withTruncateFirst(page);
                            }
                            first = false;
                            table.page(page); // before the pipeline turns the values from text into Java values in place
                            pages.accept(page, lastPage ? copied.records(task, columns) : Map.of());
                        }
                        copied.copied(task, columns);
                    } catch (Exception | Error e) {
                        table.abandoned();
                        throw e;
                    }
                    table.finished();
                }
            } finally {
                if (next != null) {
                    next.close(); // waits for the page it reads, so the connection is idle when it closes
                }
            }
            c.commit();
            LOG.info("initial copy of {} tables inside snapshot {} done in {} ms", tasks.size(), snapshot,
                    (System.nanoTime() - started) / 1_000_000);
        }
    }

    /**
     * Whether the destination committed the last page of every table's copy (its stored bookmark is a completed
     * FULL_TABLE one), so the copy must not be done again.
     */
    public static boolean completed(PositionStore positions, List<StreamTask> tasks) {
        return tasks.stream().allMatch(task -> completed(positions, task.stream()));
    }

    /** Whether the destination committed the last page of a copy of the table of this stream ({@code schema.table}). */
    public static boolean completed(PositionStore positions, String stream) {
        return completed(positions.load(stream));
    }

    /** Whether this stored position of a table's copy is a completed FULL_TABLE bookmark: its last page was committed. */
    public static boolean completed(Optional<String> stored) {
        if (stored.isEmpty()) {
            return false;
        }
        try {
            Bookmark b = Bookmark.parse(stored.get());
            return b.completed() && b.method() == ReplicationMethod.FULL_TABLE;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Opens the read-only REPEATABLE READ transaction and imports the snapshot before any query runs in it. */
    static void begin(Connection c, String snapshot) throws SQLException {
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        c.setAutoCommit(false);
        c.setReadOnly(true);
        try (Statement s = c.createStatement()) {
            // the name cannot be a bind parameter; it matched SNAPSHOT_NAME, so it holds no quote
            s.execute("SET TRANSACTION SNAPSHOT '" + snapshot + "'");
        } catch (SQLException e) {
            throw new SQLException("cannot read inside the exported snapshot " + snapshot + ": " + e.getMessage()
                    + " — an exported snapshot lives only while the connection that created the replication slot stays"
                    + " open and idle; if it is gone, finish the copy with ordinary FULL_TABLE pages", e.getSQLState(), e);
        }
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_catalog.current_setting('transaction_isolation')")) {
            rs.next();
            if (!"repeatable read".equals(rs.getString(1))) {
                throw new IllegalStateException("the snapshot copy runs at " + rs.getString(1) + ", not repeatable read");
            }
        }
    }

    /**
     * The table's reader, reading its first page already on a thread of {@code readers}. Closing it waits for a page
     * still being read, so the next table or the commit never meets a busy connection.
     */
    private PageReader reader(Connection c, StreamTask task) throws SQLException {
        PageReader direct = task.keyless() ? new CtidPageReader(task, c, true) : new KeysetPageReader(task, c, null, true);
        return new PrefetchingPageReader(direct, readers);
    }

    private static ChangeBatch withTruncateFirst(ChangeBatch page) {
        List<ChangeEvent> events = new ArrayList<>(page.size() + 1);
        events.add(ChangeEvent.truncate(page.tables().get(0), page.position()));
        events.addAll(page);
        return new ChangeBatch(events, page.position(), page.last(), page.tables());
    }
}
