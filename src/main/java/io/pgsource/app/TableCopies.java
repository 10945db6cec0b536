package io.pgsource.app;

import io.pgsource.backfill.Backfills;
import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.SnapshotCopy;
import io.pgsource.batch.StreamTask;
import io.pgsource.catalog.ColumnCatalog;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.pgoutput.ReplicationSlots;
import io.pgsource.pgoutput.SlotCreated;
import io.pgsource.state.CopyNeededException;
import io.pgsource.state.HeldColumns;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import io.pgsource.state.ShapeCheck;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Endpoint;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.util.function.Suppliers;
import org.apache.camel.support.ExchangeHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies of single tables while the others stream (LOG_BASED): the log-replication route's step before the shared
 * pipeline (bean {@value #BEAN_NAME}), which it feeds itself. Before a batch goes on, each table of it is copied that
 * <ul>
 * <li>the destination holds no copy of: created, or added to the publication, while streaming (or since the last
 * run: {@link LogReplicationStart} copies those before streaming);</li>
 * <li>or whose new shape only a copy makes exact at the destination ({@link ShapeCheck}, {@link HeldColumns#plan}: a
 * column added by a rewrite of the table, a type change that rewrote it, a rename an event destination cannot
 * follow); a destination that meets such a shape itself refuses the batch ({@link CopyNeededException}) and the batch
 * is sent again after the copy.</li>
 * </ul>
 *
 * <p>A copy reads inside the exported snapshot of a temporary slot ({@link ReplicationSlots}); its pages go down the
 * pipeline like the initial copy's, the first one emptying the destination table. Copy and stream meet exactly as for the
 * initial copy: once the copy is applied, the destination stores "table T copied at C" (C the temporary slot's
 * consistent point) with its positions ({@link Positions#copiedAt}; "being copied" before); from then on, also after a
 * restart, every batch carries the
 * copies of its tables ({@link ChangeHeaders#COPIED_AT}) and the destination leaves out each change of T committed before
 * C, after it cut off what it applied before (so the counts of a transaction applied in part stay what they were). The
 * slot is not dropped, the other tables are not copied again, and their changes wait meanwhile. With sync.ha only the
 * leader copies, as it alone streams ({@link InitialCopy#pages} stops a copy whose instance lost the lead).
 */
final class TableCopies implements Processor, CamelContextAware {
    static final String BEAN_NAME = "tableCopies";
    private static final Logger LOG = LoggerFactory.getLogger(TableCopies.class);
    /** How often one batch may be refused for copies before the refusal stands. */
    private static final int ATTEMPTS = 8;
    /** No copy made while streaming. */
    private static final long NONE = 0;
    /**
     * A copy began and has not ended (it failed, or pgsource stopped): the table is copied again before any of its
     * changes is applied, and until then none is left out. Stored as {@value #COPYING_TEXT}.
     */
    private static final long COPYING = 1;
    private static final String COPYING_TEXT = "copying";
    /** The table no longer exists: no copy can be made, and its changes are left out (the highest LSN, unsigned). */
    private static final long GONE = -1;

    private final String slot;
    private final PgSourceConnections connections;
    private final BatchStreams streams;
    private final PositionStore positions;
    private final ShapeCheck destination;
    private final BooleanSupplier leading;
    private final Executor readers;
    private CamelContext context;
    private SnapshotCopy snapshotCopy;

    /**
     * How the copies read inside a snapshot (readers, {@code source.snapshot_workers}, where progress goes); one reader
     * and no progress by default.
     */
    void snapshotCopy(SnapshotCopy copy) {
        this.snapshotCopy = copy;
    }

    private SnapshotCopy snapshotCopy() {
        return snapshotCopy != null ? snapshotCopy : new SnapshotCopy(connections, readers);
    }
    /** Made on first use: the Camel context is set after construction. */
    private final Supplier<ProducerTemplate> template = Suppliers.memorize(() -> this.context.createProducerTemplate());
    /** Where every streamed transaction goes on to: resolved once, where a URI would be parsed and looked up at every send. */
    private final Supplier<Endpoint> pipeline = Suppliers.memorize(() -> this.context.getEndpoint(InitialCopy.PIPELINE));
    /** Chunked backfills: tables they copy count as copied; null without them. */
    private Backfills backfills;
    /** Whether a table the destination holds no copy of is backfilled in chunks (PostgreSQL 14+) rather than copied here. */
    private boolean backfillNew;
    /** Tables whose copy the destination completed. */
    private final Set<TableId> copied = ConcurrentHashMap.newKeySet();
    /** The LSN each table was copied at while streaming, as stored; NONE when it was not. */
    private final Map<TableId, Long> copiedAt = new ConcurrentHashMap<>();
    /** Schemas the destination said it follows without a copy. */
    private final Set<TableSchema> followed = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

    /**
     * @param destination says whether the destination follows a new shape of a table without a copy; null for a
     *                    destination that keeps nothing of the shapes (log, discard)
     * @param leading     whether this instance may still write a copy (sync.ha: only while it leads)
     */
    TableCopies(String slot, PgSourceConnections connections, BatchStreams streams, PositionStore positions, ShapeCheck destination,
            BooleanSupplier leading, Executor readers) {
        this.slot = slot;
        this.connections = connections;
        this.streams = streams;
        this.positions = positions;
        this.destination = destination;
        this.leading = leading;
        this.readers = readers;
    }

    /**
     * The chunked backfills: a table they copy (or copied) counts as copied, and with {@code backfillNew} a table with a
     * primary key the destination holds no copy of is backfilled in chunks while the others stream instead of copied
     * inside a temporary slot's snapshot (which holds the stream meanwhile).
     */
    void backfills(Backfills backfills, boolean backfillNew) {
        this.backfills = backfills;
        this.backfillNew = backfillNew;
    }

    /**
     * Before log replication streams: makes the producer template and resolves the pipeline's endpoint, which the first
     * streamed transaction would otherwise do on the route thread (starting the template's services, about 1 ms of it).
     */
    void prepareStream() {
        template.get();
        pipeline.get();
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        ChangeBatch batch = exchange.getIn().getBody(ChangeBatch.class);
        Map<TableId, String> refused = new LinkedHashMap<>();
        for (int attempt = 1; ; attempt++) {
            if (batch != null) {
                Map<TableId, String> needed = needed(batch);
                needed.putAll(refused);
                if (!needed.isEmpty()) {
                    copy(needed);
                }
            }
            Exchange attemptExchange = ExchangeHelper.createCopy(exchange, true);
            if (batch != null) {
                Map<TableId, Long> marks = marks(batch);
                if (!marks.isEmpty()) {
                    attemptExchange.getIn().setHeader(ChangeHeaders.COPIED_AT, marks);
                }
            }
            template.get().send(pipeline.get(), attemptExchange);
            CopyNeededException refusal = attemptExchange.getException(CopyNeededException.class);
            if (refusal != null && attempt < ATTEMPTS) {
                refused.clear();
                refused.put(refusal.table(), refusal.getMessage());
                continue;
            }
            if (attemptExchange.getException() != null) {
                exchange.setException(attemptExchange.getException());
            }
            return;
        }
    }

    /**
     * The tables of the batch to copy before it goes on, each with why. A batch holds runs of one table's changes (a
     * transaction's rows of a table come together), so what is asked of a table is asked once per run, not per change:
     * per change, three map lookups cost about 90 ms of a 1M-row stream and a C2 compilation of 110 ms.
     */
    private Map<TableId, String> needed(ChangeBatch batch) throws Exception {
        Map<TableId, String> needed = new LinkedHashMap<>();
        Set<TableSchema> shapes = Collections.newSetFromMap(new IdentityHashMap<>());
        TableSchema run = null;
        long at = NONE;
        boolean asked = false;
        for (ChangeEvent e : batch) {
            if (e.table() != run) {
                run = e.table();
                at = mark(run.id());
                asked = false;
            }
            if (copiedWhileStreaming(at) && Positions.inCopy(e, at)) {
                continue; // a copy made since holds it: the destination leaves it out, whatever its shape
            }
            if (!asked) {
                asked = true;
                TableId table = run.id();
                if (!needed.containsKey(table) && !isCopied(table)) {
                    needed.put(table, "the destination holds no copy of it: it was created, or added to the publication,"
                            + " while streaming");
                }
                shapes.add(run);
            }
        }
        if (destination != null) {
            for (TableSchema shape : shapes) {
                if (needed.containsKey(shape.id()) || shape.sourceColumns() == null || followed.contains(shape)) {
                    continue;
                }
                String reason = destination.copyReason(shape);
                if (reason != null) {
                    needed.put(shape.id(), reason);
                } else {
                    if (followed.size() > 10_000) {
                        followed.clear(); // bounded, in case a source makes a new schema per batch: they are asked again
                    }
                    followed.add(shape);
                }
            }
        }
        return needed;
    }

    /**
     * Why a table must be copied before streaming starts, or null: the destination holds no complete copy of it (selected
     * or published since the last run, a copy cut short), or cannot follow what its catalog says now (a schema change,
     * which PostgreSQL makes known only with the table's next change, which may never come).
     */
    String copyReason(StreamTask task) throws Exception {
        TableId table = task.table().id();
        if (!isCopied(table)) {
            return "the destination holds no complete copy of it: selected, or added to the publication, since the last run,"
                    + " or its copy was cut short";
        }
        if (destination == null) {
            return null;
        }
        SourceColumns now;
        try (Connection c = connections.open()) {
            now = ColumnCatalog.read(c, table);
        }
        TableSchema schema = task.table().schema();
        return now == null ? null : destination.copyReason(new TableSchema(table, schema.columns(), schema.key(),
                schema.generatedNotInRows(), now));
    }

    private boolean isCopied(TableId table) {
        long mark = mark(table);
        if (mark == COPYING) {
            return false;
        }
        if (copied.contains(table) || mark == GONE) {
            return true;
        }
        if (SnapshotCopy.completed(stored(table.toString())) || backfills != null && backfills.covers(table)) {
            copied.add(table);
            return true;
        }
        return false;
    }

    /** The copies made while streaming of the batch's tables. */
    private Map<TableId, Long> marks(ChangeBatch batch) {
        Map<TableId, Long> marks = new LinkedHashMap<>();
        TableSchema run = null;
        for (ChangeEvent e : batch) {
            if (e.table() == run) {
                continue; // once per run of a table's changes, as in needed
            }
            run = e.table();
            long at = mark(run.id());
            if (copiedWhileStreaming(at)) {
                marks.put(run.id(), at);
            }
        }
        return marks;
    }

    /** Whether a {@link #mark} is the LSN of a copy made while streaming (or GONE, which leaves out every change). */
    private static boolean copiedWhileStreaming(long mark) {
        return mark != NONE && mark != COPYING;
    }

    private long mark(TableId table) {
        return copiedAt.computeIfAbsent(table, t -> stored(Positions.copiedAt(slot, t))
                .map(stored -> COPYING_TEXT.equals(stored) ? COPYING : Positions.parseLsn(stored)).orElse(NONE));
    }

    /** The stored position: what the store committed or read ahead for it ({@link PositionStore#current}), else read now. */
    private Optional<String> stored(String stream) {
        try {
            return positions.current(stream);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the position of " + stream + ": " + e.getMessage(), e);
        }
    }

    /** Copies the tables that still exist; the changes of those that do not are left out, with a warning. */
    private void copy(Map<TableId, String> needed) throws Exception {
        List<StreamTask> tasks = streams.streams(new ArrayList<>(needed.keySet()));
        for (TableId table : needed.keySet()) {
            if (tasks.stream().noneMatch(t -> t.table().id().equals(table))) {
                copiedAt.put(table, GONE);
                LOG.warn("{} no longer exists at the source (dropped or renamed since), so no copy of it can be made: its changes"
                        + " read now are left out ({})", table.quoted(), needed.get(table));
            }
        }
        if (!tasks.isEmpty()) {
            copyOrBackfill(tasks, needed);
        }
    }

    /**
     * Copies these tables: those with a primary key the destination holds no copy of in chunks while the others stream
     * (with backfillNew), the others inside a temporary slot's snapshot ({@link #copy(List, Map)}).
     */
    void copyOrBackfill(List<StreamTask> tasks, Map<TableId, String> reasons) throws Exception {
        List<StreamTask> chunked = new ArrayList<>();
        List<StreamTask> snapshot = new ArrayList<>();
        for (StreamTask task : tasks) {
            (backfillNew && !task.keyless() && !isCopied(task.table().id()) ? chunked : snapshot).add(task);
        }
        if (!chunked.isEmpty()) {
            if (!leading.getAsBoolean()) {
                throw new IllegalStateException("this instance no longer leads log replication: the instance that leads now copies "
                        + chunked.stream().map(t -> t.table().id().quoted()).toList());
            }
            backfills.copy(chunked, "added to the capture");
            recordHeld(chunked);
            for (StreamTask task : chunked) {
                TableId table = task.table().id();
                if (mark(table) == COPYING) {
                    // stored after the backfill's request: a crash in between requests it again
                    positions.save(Positions.copiedAt(slot, table), Positions.lsn(NONE));
                    copiedAt.put(table, NONE);
                }
                copied.add(table);
                followed.removeIf(shape -> shape.id().equals(table));
            }
        }
        if (!snapshot.isEmpty()) {
            copy(snapshot, reasons);
        }
    }

    /**
     * The tables were taken out of the publication (their changes since are lost): each is stored as needing a copy, so
     * once it is published again the next start copies it (in chunks where it can) before any of its changes is applied.
     */
    void lost(List<TableId> tables) {
        for (TableId table : tables) {
            positions.save(Positions.copiedAt(slot, table), COPYING_TEXT);
            copiedAt.put(table, COPYING);
            copied.remove(table);
        }
    }

    /**
     * Copies these tables inside the snapshot of one temporary slot. Each is stored as being copied first, then, once its
     * copy is applied, as copied at the slot's consistent point: a copy that fails or is cut short is made again before
     * any change of its table is applied, and one that ended before pgsource could store so (a crash) too, so its changes
     * are never applied on top of a copy that holds them.
     *
     * @param reasons why each table is copied, for the log
     */
    void copy(List<StreamTask> tasks, Map<TableId, String> reasons) throws Exception {
        try (Connection replication = connections.openReplication()) {
            SlotCreated created = ReplicationSlots.createForCopy(replication);
            String copySlot = created.slotName();
            long at = created.consistentLsn();
            for (StreamTask task : tasks) {
                TableId table = task.table().id();
                LOG.info("Copying {} inside the snapshot of the temporary slot {} at {} ({}); its changes committed before that are"
                        + " in the copy, the other tables are not copied again", table.quoted(), copySlot, Positions.lsn(at),
                        reasons.get(table));
                positions.save(Positions.copiedAt(slot, table), COPYING_TEXT);
                copiedAt.put(table, COPYING);
                copied.remove(table);
                followed.removeIf(shape -> shape.id().equals(table));
            }
            snapshotCopy().copy(created.snapshotName(), tasks, InitialCopy.pages(template.get(), leading, positions),
                    copiedAt(at));
        } // closing the replication connection drops the temporary slot
    }

    /**
     * What each table's copy inside a snapshot at {@code at} leaves once it is applied: the record of the source columns
     * the destination holds, and that the table was copied there (also after a copy of every table: one made for an
     * earlier slot, or on another server, must not leave changes out any more).
     */
    SnapshotCopy.CopiedHandler copiedAt(long at) {
        return new SnapshotCopy.CopiedHandler() {
            /**
             * Both records go with the table's last page ({@link InitialCopy#pages}): in its destination transaction where
             * the destination can, which need not wait for its durability either; a copy of thousands of small tables would
             * otherwise spend much of its time on a transaction of its own for them per table.
             */
            @Override
            public Map<String, String> records(StreamTask task, SourceColumns columns) {
                TableId table = task.table().id();
                Map<String, String> records = new LinkedHashMap<>();
                HeldColumns held = columns == null ? null : HeldColumns.ofCopy(task.table().schema(), columns);
                if (held != null) {
                    records.put(HeldColumns.stream(table), held.serialize());
                }
                records.put(Positions.copiedAt(slot, table), Positions.lsn(at));
                return records;
            }

            /** The records are stored with its last page: what this instance knows of it follows. */
            @Override
            public void copied(StreamTask task, SourceColumns columns) {
                TableId table = task.table().id();
                copiedAt.put(table, at);
                copied.add(table);
            }
        };
    }

    /**
     * For tables whose chunked backfill was just requested: the record of the source columns their destination tables
     * hold, as a copy leaves it (the catalog's columns now; the destination table was made from them).
     */
    void recordHeld(List<StreamTask> backfilled) throws Exception {
        try (Connection c = connections.open()) {
            for (StreamTask task : backfilled) {
                SourceColumns now = ColumnCatalog.read(c, task.table().id());
                if (now != null) {
                    recordHeld(task, now);
                }
            }
        }
    }

    private void recordHeld(StreamTask task, SourceColumns columns) {
        HeldColumns held = HeldColumns.ofCopy(task.table().schema(), columns);
        if (held != null) {
            positions.save(HeldColumns.stream(task.table().id()), held.serialize());
        }
    }

    /** Forgets what it read of the stored positions: another instance may have written them since (sync.ha). */
    void refresh() {
        copied.clear();
        copiedAt.clear();
        followed.clear();
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
