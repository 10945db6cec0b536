package io.pgsource.backfill;

import io.pgsource.batch.CopyProgress;
import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.KeyChunks;
import io.pgsource.batch.StreamTask;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceConnections;
import io.pgsource.pgoutput.PgOutputConstants;
import io.pgsource.pgoutput.protocol.TransactionPart;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import io.pgsource.types.TypeRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.util.function.Suppliers;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chunked backfills while the slot streams (bean {@value #BEAN_NAME}, a step of the log-replication route before the
 * batch goes down the pipeline): tables are copied again in primary-key chunks, each read between two watermarks in the
 * WAL ({@link Watermark}), and the stream meets the copy exactly ({@link ChunkWindows}) without a long-running snapshot.
 *
 * <p>Requests come through the stream ({@link BackfillRequest}, written by {@code pgsource backfill}). Each requested
 * table is stored as requested at the destination before the request's transaction is (so a crash cannot lose it), then
 * backfilled on a thread of its own, one table after the other: per chunk a low watermark, the chunk's read (one short
 * statement), a high watermark. When the stream meets the high watermark it sends the chunk's rows the stream did not
 * change in between down the pipeline, as one batch whose position is the backfill's progress
 * ({@link Positions#backfill}, {@link BackfillProgress}): a table destination stores it in the same transaction as the
 * rows. The next chunk is read while that batch is applied (not before: at most two chunks are held in memory), and a
 * restart resumes after the last chunk applied (the start, or the first delivery after it, finds the unfinished ones).
 *
 * <p>A table without primary key has no chunks: it is copied inside a temporary slot's exported snapshot
 * ({@link KeylessCopy}).
 */
public final class Backfills implements Processor, CamelContextAware {
    public static final String BEAN_NAME = "backfills";
    /**
     * Rows per chunk ({@code source.backfill_chunk_size}). 10,000: a chunk's read is one index-ordered statement of tens
     * of milliseconds, so few stream changes fall between its watermarks; two tiny WAL transactions per 10,000 rows are
     * noise; the chunk is held in memory until applied (a few MB for ordinary rows), and one destination transaction of
     * that size is what log replication's max_batch_size makes by default.
     */
    public static final int DEFAULT_CHUNK_SIZE = io.pgsource.config.CopySettings.DEFAULT_BACKFILL_CHUNK_SIZE;
    private static final Logger LOG = LoggerFactory.getLogger(Backfills.class);

    /** Copies tables without a primary key the way a table added while streaming is copied. */
    @FunctionalInterface
    public interface KeylessCopy {
        void copy(List<StreamTask> tables, String reason) throws Exception;
    }

    private final SourceConnections connections;
    private final BatchStreams streams;
    private final PositionStore positions;
    private final TypeRegistry types;
    private final int chunkSize;
    private final KeylessCopy keyless;
    /** The key requests are signed with, derived at the first logical message that may be a request. */
    private final Supplier<byte[]> requestKey;
    private final ChunkWindows windows = new ChunkWindows();
    /** Chunks read and waiting for their high watermark, by run and chunk. */
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    /**
     * Tables queued or being backfilled, with the generation that queued them, so a request repeated meanwhile is not
     * queued twice.
     */
    private final Map<TableId, Long> queued = new ConcurrentHashMap<>();
    /** Counts the times this instance began to lead (sync.ha): a backfill of an earlier one ends, the new one resumes it. */
    private final AtomicLong generation = new AtomicLong();
    private volatile boolean resumed;
    private volatile ExecutorService worker;
    /** Made on first use: the Camel context is set after construction. */
    private final Supplier<ProducerTemplate> template = Suppliers.memorize(() -> this.context.createProducerTemplate());
    private CamelContext context;
    private CopyProgress copyProgress = CopyProgress.NONE;

    /** Where the copies' progress goes (lines and gauges); none by default. */
    public void copyProgress(CopyProgress progress) {
        this.copyProgress = progress;
    }

    /**
     * @param chunkSize rows per chunk
     * @param keyless   copies keyless tables requested
     * @param requestKey the key requests are signed with ({@link BackfillRequest#key}): asked for once, when a logical
     *                   decoding message may be a request (deriving it initializes the JDK's security providers, about
     *                   10 ms of every run's start when done here)
     */
    public Backfills(SourceConnections connections, BatchStreams streams, PositionStore positions, TypeRegistry types, int chunkSize,
            KeylessCopy keyless, Supplier<byte[]> requestKey) {
        if (chunkSize < 1) {
            throw new IllegalArgumentException("source.backfill_chunk_size must be at least 1, got " + chunkSize);
        }
        this.connections = connections;
        this.streams = streams;
        this.positions = positions;
        this.types = types;
        this.chunkSize = chunkSize;
        this.keyless = keyless;
        this.requestKey = Suppliers.memorize(requestKey);
    }

    /** A chunk read, waiting for the stream to meet its high watermark. */
    private record Pending(KeyChunks.Chunk chunk, List<Row> absent, TableSchema schema, ChunkWindows.KeyOf keyOf,
                           BackfillProgress progress, CompletableFuture<Integer> applied) {
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        if (!resumed) {
            resumeUnfinished();
        }
        String inProgress = exchange.getIn().getHeader(ChangeHeaders.TX_IN_PROGRESS, String.class);
        if (inProgress != null) {
            synchronized (windows) {
                if (!ChangeHeaders.IN_PROGRESS_ROLLBACK.equals(inProgress) && windows.watching()) {
                    // a chunk's window must see the transaction's changes where it commits, and only if it commits
                    throw new IllegalStateException("a backfill's chunk is being read: transaction "
                            + exchange.getIn().getHeader(ChangeHeaders.TX_ID) + " is applied after its commit");
                }
            }
            return; // it has no logical decoding messages (those make it go after its commit)
        }
        @SuppressWarnings("unchecked")
        List<TransactionPart.Message> messages = exchange.getIn().getHeader(PgOutputConstants.MESSAGES, List.class);
        ChangeBatch batch = exchange.getIn().getBody(ChangeBatch.class);
        List<ChunkWindows.Mark> marks = new ArrayList<>();
        if (messages != null) {
            for (TransactionPart.Message m : messages) {
                Watermark w = Watermark.of(m.message().prefix(), m.message().content());
                if (w != null) {
                    marks.add(new ChunkWindows.Mark(m.eventIndex(), w));
                    continue;
                }
                BackfillRequest request;
                try {
                    request = BackfillRequest.of(m.message().prefix(), m.message().content(), requestKey.get());
                } catch (SecurityException e) {
                    LOG.warn("{} (at {})", e.getMessage(), Positions.lsn(m.message().lsn()));
                    continue;
                }
                if (request != null) {
                    accept(request, Positions.lsn(m.message().lsn()));
                }
            }
        }
        List<ChunkWindows.Closed> closed;
        synchronized (windows) {
            closed = windows.observe(batch == null ? List.of() : batch, marks);
        }
        for (ChunkWindows.Closed c : closed) {
            send(c);
        }
    }

    /** Stores each requested table as requested (with the request's id), then queues it. */
    private void accept(BackfillRequest request, String id) throws Exception {
        List<StreamTask> tasks = streams.streams(request.tables());
        for (TableId table : request.tables()) {
            if (tasks.stream().noneMatch(t -> t.table().id().equals(table))) {
                LOG.warn("Backfill of {} requested ({}), but it does not exist at the source: nothing to do", table.quoted(), id);
            }
        }
        List<StreamTask> keylessTasks = new ArrayList<>();
        for (StreamTask task : tasks) {
            TableId table = task.table().id();
            if (task.keyless()) {
                keylessTasks.add(task);
                continue;
            }
            BackfillProgress stored = positions.load(Positions.backfill(table)).map(BackfillProgress::parse).orElse(null);
            if (stored != null && stored.request().equals(id)) {
                continue; // a replay of a request already accepted: resumed from its progress, if unfinished
            }
            if (queued.containsKey(table)) {
                LOG.info("Backfill of {} requested ({}) while one of it ({}) goes on: that one stands, request it again once it is"
                        + " done to copy it once more", table.quoted(), id, stored == null ? "starting" : stored.request());
                continue;
            }
            BackfillProgress progress = BackfillProgress.requested(id, request.where(), task.keyColumnNames(), request.keys());
            apply(new ChangeBatch(List.of(), position(table, progress), true, List.of(task.table().schema())));
            LOG.info("Backfill of {} requested ({}{}): copying it in chunks of {} rows while the other tables stream", table.quoted(), id,
                    request.keys() != null ? ", the " + request.keys().size() + " key(s) a repair found different"
                            : request.where() == null ? "" : ", rows where " + request.where(), chunkSize);
            queue(table);
        }
        if (!keylessTasks.isEmpty()) {
            // on the stream's thread, as a table added while streaming is copied: its changes wait meanwhile
            keyless.copy(keylessTasks, "a backfill was requested, and a table without primary key has no chunks: it is copied"
                    + " inside an exported snapshot");
        }
    }

    /**
     * Copies tables with a primary key in chunks while the stream goes on, in place of a copy inside an exported snapshot
     * (the chunked initial copy, a table added to the capture while streaming): each is stored as requested together
     * with a TRUNCATE of its destination table, in one transaction for table destinations, so the table ends holding
     * exactly the source's rows (the stream's changes meanwhile applied to what the chunks leave), then queued. Call it
     * before any change of these tables goes down the pipeline.
     *
     * @param tasks  tables with a primary key
     * @param reason why they are copied, stored as the backfill's request (it names the backfill in the log)
     */
    public void copy(List<StreamTask> tasks, String reason) throws Exception {
        for (StreamTask task : tasks) {
            if (task.keyless()) {
                throw new IllegalArgumentException(task.table().id().quoted() + " has no primary key: it has no chunks");
            }
            TableId table = task.table().id();
            BackfillProgress progress = BackfillProgress.requested(reason, null, task.keyColumnNames());
            Position.Batch position = position(table, progress);
            apply(new ChangeBatch(List.of(ChangeEvent.truncate(task.table().schema(), position)), position, true,
                    List.of(task.table().schema())));
            LOG.info("Copying {} in chunks of {} rows while streaming ({})", table.quoted(), chunkSize, reason);
            queue(table);
        }
    }

    /**
     * Whether the destination holds a chunked backfill of the table (requested, going on or done): its copy is made, or
     * being made, in chunks while its changes stream.
     */
    public boolean covers(TableId table) {
        return queued.containsKey(table) || positions.load(Positions.backfill(table)).map(BackfillProgress::parse).isPresent();
    }

    /**
     * Resumes the backfills the destination holds unfinished, at once rather than at the first delivery (a source where
     * nothing is written would otherwise never deliver one). Call it where this instance streams (the leader).
     */
    public void resume() throws SQLException {
        resumeUnfinished();
    }

    /**
     * Whether no backfill is queued or going on: with sync.once, the run may end. (The unfinished ones of an earlier run
     * are queued by {@link #resume} when streaming starts from an existing slot, those of a chunked initial copy before
     * the stream starts.)
     */
    public boolean idle() {
        return queued.isEmpty();
    }

    /** The first delivery after the start: the backfills the destination holds unfinished go on after their last chunk. */
    private synchronized void resumeUnfinished() throws SQLException {
        if (resumed) {
            return;
        }
        for (StreamTask task : streams.streams()) {
            TableId table = task.table().id();
            BackfillProgress stored = positions.load(Positions.backfill(table)).map(BackfillProgress::parse).orElse(null);
            if (stored != null && !stored.done() && !Long.valueOf(generation.get()).equals(queued.get(table))) {
                LOG.info("Backfill of {} ({}) resumes {}", table.quoted(), stored.request(), stored.startAfter() == null
                        ? "at its first chunk" : "after key " + stored.startAfter());
                queue(table);
            }
        }
        resumed = true;
    }

    private void queue(TableId table) {
        long queuedIn = generation.get();
        Long before = queued.put(table, queuedIn);
        if (before == null || before != queuedIn) {
            worker().submit(() -> {
                try {
                    backfill(table, queuedIn);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    LOG.info("Backfill of {} stopped with pgsource; it resumes after its last chunk applied", table.quoted());
                } catch (Exception e) {
                    LOG.warn("Backfill of {} failed: {}; it resumes after its last chunk applied at the next start (or when this"
                            + " instance leads again)", table.quoted(), e.getMessage(), e);
                } finally {
                    queued.remove(table, queuedIn);
                }
            });
        }
    }

    /**
     * Another instance may have led meanwhile (sync.ha: this one leads again): the backfills of this instance's earlier
     * lead end (the stream they wait for went to the other), and the next delivery resumes every unfinished one from the
     * progress stored then.
     */
    public void refresh() {
        generation.incrementAndGet();
        resumed = false;
        pending.values().forEach(p -> p.applied().completeExceptionally(new IllegalStateException("another instance led meanwhile")));
    }

    /** Backfills one table chunk by chunk, after its stored progress. */
    private void backfill(TableId table, long queuedIn) throws Exception {
        BackfillProgress progress = positions.load(Positions.backfill(table)).map(BackfillProgress::parse).orElse(null);
        if (progress == null || progress.done()) {
            return;
        }
        List<StreamTask> found = streams.streams(List.of(table));
        if (found.isEmpty() || found.get(0).keyless()) {
            LOG.warn("Backfill of {} ends: {}", table.quoted(), found.isEmpty() ? "the table no longer exists at the source"
                    : "it has no primary key any more");
            apply(new ChangeBatch(List.of(), position(table, progress.next(progress.after(), true)), true, List.of()));
            return;
        }
        StreamTask listed = found.get(0);
        // a repair's keys are read in one chunk, so the keys it does not find are known absent inside one window
        int size = progress.keys() == null ? chunkSize : Math.max(chunkSize, progress.keys().size() + 1);
        StreamTask task = new StreamTask(listed.table(), ReplicationMethod.FULL_TABLE, listed.keyColumns(), size, null,
                listed.maxValueBytes());
        if (!progress.key().equals(task.keyColumnNames())) {
            LOG.info("Backfill of {}: its primary key is now {}, not {}: it starts over", table.quoted(), task.keyColumnNames(), progress.key());
            progress = BackfillProgress.requested(progress.request(), progress.where(), task.keyColumnNames());
        }
        ChunkWindows.KeyOf keyOf = Keys.of(task.keyColumnNames(), types);
        String run = UUID.randomUUID().toString();
        long started = System.nanoTime();
        long rows = 0;
        long sent = 0;
        long chunks = 0;
        CopyProgress.Table copied = null;
        // the previous chunk, read and not yet applied: the next one is read while the stream applies it (the stream
        // applies chunks in their watermarks' order, so a chunk's progress is never stored before the one of the chunk
        // before it); two chunks at most are held
        CompletableFuture<Integer> previous = null;
        try (Connection c = connections.open()) {
            c.setAutoCommit(true);
            copyProgress.plan(1);
            copied = copyProgress.start(c, table);
            while (!progress.done()) {
                if (generation.get() != queuedIn) {
                    throw new IllegalStateException("another instance led meanwhile");
                }
                long n = ++chunks;
                synchronized (windows) {
                    windows.expect(run, table, n, keyOf);
                }
                watermark(c, new Watermark(run, false, n));
                KeyChunks.Chunk chunk;
                ReadSnapshot snapshot;
                // one snapshot for the snapshot's id list and the chunk's read (REPEATABLE READ fixes it at the first query)
                // read-only: the condition of a request is SQL, and nothing of a chunk's read writes
                c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                c.setAutoCommit(false);
                c.setReadOnly(true);
                try {
                    try (var s = c.createStatement(); var rs = s.executeQuery("SELECT pg_catalog.pg_current_snapshot()::text")) {
                        rs.next();
                        snapshot = ReadSnapshot.parse(rs.getString(1));
                    }
                    chunk = KeyChunks.read(task, c, progress.startAfter(), progress.where());
                    c.commit();
                } finally {
                    c.rollback();
                    c.setReadOnly(false);
                    c.setAutoCommit(true);
                }
                synchronized (windows) {
                    windows.readIn(run, n, snapshot);
                }
                copied.rows(chunk.rows()); // now, while the values are text: the pipeline converts them in place
                BackfillProgress next = progress.next(chunk.lastKey(), chunk.last());
                Pending p = new Pending(chunk, absent(progress.keys(), chunk, task, keyOf), task.table().schema(), keyOf, next,
                        new CompletableFuture<>());
                pending.put(run + ":" + n, p);
                watermark(c, new Watermark(run, true, n));
                if (previous != null) {
                    sent += await(previous, queuedIn);
                }
                previous = p.applied();
                rows += chunk.rows().size();
                progress = next;
            }
            if (previous != null) {
                sent += await(previous, queuedIn);
            }
            copied.finished();
        } finally {
            if (copied != null) {
                copied.abandoned();
            }
            synchronized (windows) {
                windows.forget(run);
            }
            pending.keySet().removeIf(k -> k.startsWith(run + ":"));
        }
        LOG.info("Backfill of {} done: {} rows read in {} chunk(s), {} sent ({} left to the stream, which changed them meanwhile),"
                + " in {} ms", table.quoted(), rows, chunks, sent, rows - sent, (System.nanoTime() - started) / 1_000_000);
    }

    private static void watermark(Connection c, Watermark w) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.pg_logical_emit_message(true, ?, ?)")) {
            ps.setString(1, Watermark.PREFIX);
            ps.setString(2, w.content());
            ps.executeQuery().close();
        }
    }

    /** Waits until the stream applied the chunk; ends when Camel stops or another instance led meanwhile. */
    private int await(CompletableFuture<Integer> applied, long queuedIn) throws Exception {
        while (true) {
            try {
                return applied.get(1, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                if (context.isStopping() || context.isStopped()) {
                    throw new InterruptedException("pgsource stops");
                }
                if (generation.get() != queuedIn) {
                    throw new IllegalStateException("another instance led meanwhile");
                }
            } catch (java.util.concurrent.ExecutionException e) {
                throw (Exception) e.getCause();
            }
        }
    }

    /** The stream met a chunk's high watermark: its rows the stream did not change go down the pipeline. */
    private void send(ChunkWindows.Closed closed) throws Exception {
        String key = closed.run() + ":" + closed.chunk();
        Pending p = pending.get(key);
        if (p == null) {
            return; // its run ended (pgsource stops)
        }
        Position position = position(closed.table(), p.progress());
        List<ChangeEvent> events = new ArrayList<>(closed.changes().of(p.chunk().rows(), p.keyOf(), position));
        int copied = events.size();
        List<ChangeEvent> deletes = closed.changes().deletes(p.absent(), p.keyOf(), position);
        events.addAll(deletes);
        apply(new ChangeBatch(events, position, true, List.of(p.schema())));
        LOG.debug("Backfill of {}: chunk {} applied, {} of {} rows ({} changed by the stream meanwhile)", closed.table().quoted(),
                closed.chunk(), copied, p.chunk().rows().size(), closed.changes().size());
        if (!deletes.isEmpty()) {
            LOG.info("Backfill of {}: {} key(s) of the repair the source does not hold deleted at the destination", closed.table().quoted(),
                    deletes.size());
        }
        pending.remove(key);
        p.applied().complete(copied);
    }

    /**
     * The keys of a repair the chunk did not find at the source, as rows holding their key columns only (text forms); none
     * without keys. The chunk holds every key of the request (one chunk, {@code WHERE} on them).
     */
    private static List<Row> absent(List<List<String>> keys, KeyChunks.Chunk chunk, StreamTask task, ChunkWindows.KeyOf keyOf) {
        if (keys == null) {
            return List.of();
        }
        TableSchema schema = task.table().schema();
        java.util.Set<List<Object>> found = new java.util.HashSet<>();
        chunk.rows().forEach(r -> found.add(keyOf.key(r)));
        List<Row> absent = new ArrayList<>();
        List<String> columns = task.keyColumnNames();
        for (List<String> key : keys) {
            if (key.size() != columns.size()) {
                continue;
            }
            Object[] values = new Object[schema.size()];
            for (int i = 0; i < columns.size(); i++) {
                values[schema.indexOf(columns.get(i))] = key.get(i);
            }
            Row row = new Row(schema, values);
            List<Object> k = keyOf.key(row);
            if (k != null && !found.contains(k)) {
                absent.add(row);
            }
        }
        return absent;
    }

    private static Position.Batch position(TableId table, BackfillProgress progress) {
        return new Position.Batch(Positions.backfill(table), progress.serialize());
    }

    /** Sends a batch down the pipeline and waits until the destination applied it. */
    private void apply(ChangeBatch batch) throws Exception {
        Position.Batch position = (Position.Batch) batch.position();
        Exchange done = template.get().send("direct:pipeline", e -> {
            e.getMessage().setBody(batch);
            e.getMessage().setHeader(ChangeHeaders.STREAM, position.stream());
            e.getMessage().setHeader(ChangeHeaders.BOOKMARK, position.bookmark());
        });
        if (done.getException() != null) {
            throw done.getException();
        }
    }

    private ExecutorService worker() {
        ExecutorService w = worker;
        if (w == null) {
            synchronized (this) {
                if (worker == null) {
                    worker = context.getExecutorServiceManager().newSingleThreadExecutor(this, "pgsource-backfill");
                }
                w = worker;
            }
        }
        return w;
    }

    @Override
    public void setCamelContext(CamelContext camelContext) {
        this.context = camelContext;
    }

    @Override
    public CamelContext getCamelContext() {
        return context;
    }
}
