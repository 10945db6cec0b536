package io.pgsource.pgoutput.protocol;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Begin;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Commit;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Delete;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Insert;
import io.pgsource.pgoutput.protocol.PgOutputMessage.LogicalMessage;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Origin;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Relation;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamAbort;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamCommit;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamStart;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamStop;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Truncate;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Type;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Update;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a pgoutput message stream into committed source transactions: feed it every message in stream order with
 * {@link #accept}; it hands each transaction to the sink as one or more {@link TransactionPart}s, whole and in commit
 * order, and nothing of a transaction before its commit was received — except the provisional parts of a streamed
 * transaction applied in progress (see below), which a destination holds uncommitted until the commit.
 *
 * <h2>Events</h2>
 * Values are raw: the text output of the column's type as a {@code String} (text mode), the raw {@code byte[]} of its
 * binary send output (binary mode), or null. Every event of a transaction carries {@code Position.Log(LSN of the
 * commit record, xid, commit time)}.
 * <ul>
 * <li>Insert → INSERT, {@code after} = the new row.</li>
 * <li>Update → UPDATE, {@code after} = the new row; columns the server sent as unchanged TOAST ('u') are null in it
 * and named in {@code unchanged} (the destination must keep its value). {@code before} is the old tuple when the
 * server sent one, else null: with REPLICA IDENTITY FULL it is the whole old row ('O'); otherwise it was sent only
 * because the key changed and holds only the old key columns, every other column null ('K').
 * {@link RelationCache#fullIdentity} tells the two apart.</li>
 * <li>Delete → DELETE, {@code before} = the old row ('O') or old key ('K', other columns null) as above.</li>
 * <li>Truncate → one TRUNCATE event per truncated relation (cascaded ones are listed by the server).</li>
 * </ul>
 * Relation and Type messages update the {@link RelationCache}, so a changed table shape applies to the changes that
 * follow. Transactional logical decoding messages are kept on the part ({@link TransactionPart#messages()});
 * non-transactional ones go to a listener at once.
 *
 * <h2>Bounded memory</h2>
 * A transaction with more than {@code maxBatchSize} changes is handed over in parts of {@code maxBatchSize} as its
 * changes arrive; only the last part may be acknowledged (see {@link TransactionPart}). An empty transaction (e.g. one
 * with only a logical decoding message) still yields one empty last part, so its position can be acknowledged.
 *
 * <h2>Streamed transactions</h2>
 * With protocol ≥ 2 and {@code streaming} on, the server sends blocks of in-progress transactions (Stream Start …
 * Stream Stop), interleaved, then a Stream Commit or Stream Abort. Each block's messages are appended to a temp file
 * per transaction, untouched; a Stream Abort of the transaction deletes its file, a Stream Abort of a subtransaction
 * marks its changes (which carry the subtransaction's xid) to be skipped; a Stream Commit replays the file through the
 * same path as a normal transaction (so it is chunked likewise) and deletes it. Relation and Type messages of a
 * streamed transaction apply when it is replayed, as PostgreSQL's own subscriber does (pgoutput expects that).
 *
 * <h2>Streamed transactions applied in progress</h2>
 * With a {@link CommitWait} (the destination can apply a transaction before its commit), a streamed transaction whose
 * first segment comes while no other streamed transaction is in progress is also decoded as its blocks arrive and
 * handed over in provisional parts ({@link InProgressTransaction}, step {@code APPLY}), which the destination applies
 * into a transaction it holds open; at its Stream Commit a {@code COMMIT} part follows, and the reader waits until the
 * destination committed it (then it is acknowledged) or demoted it. Its spool file is written all along, so whatever
 * makes applying it early unsafe <em>demotes</em> it (a {@code ROLLBACK} part, when anything was handed over): another
 * streamed transaction starting or committing, another transaction reaching the destination while it is open, the
 * rollback of one of its subtransactions, a Relation message that changes a known table's shape, a logical decoding
 * message in it, or the destination's own refusal (a failure, a copy it needs). A demoted transaction is replayed at
 * its Stream Commit as above, as if it had never been handed over. A Stream Abort of the whole transaction rolls it
 * back. Only one transaction at a time is applied in progress; a Relation message of it for a table not seen yet is
 * recorded at once (no other transaction can use that entry before it sends its own), one that changes nothing is
 * taken as it is.
 *
 * <p>Two-phase messages (slot option {@code two_phase}) are decoded by {@link PgOutputDecoder} but not assembled:
 * they fail here. Not thread-safe: one assembler per replication stream. {@link #close()} deletes spool files left.
 */
public final class TransactionAssembler implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionAssembler.class);

    private final PgOutputDecoder decoder;
    private final RelationCache relations;
    private final int maxBatchSize;
    private final Path spoolDirectory;
    private final Consumer<TransactionPart> sink;
    private final Consumer<LogicalMessage> nonTransactionalMessages;

    private final Map<Long, StreamSpool> streams = new HashMap<>();
    private final Set<TableId> warnedTruncates = new HashSet<>();
    private StreamSpool block;
    private Tx tx;
    /** Waits for the destination at the commit of a transaction applied in progress; null: none is. */
    private final CommitWait commitWait;
    /** The streamed transaction handed over in progress, or null. */
    private Eager eager;

    /**
     * How the reader waits at the Stream Commit of a transaction handed over in progress until the destination said what
     * became of it ({@link InProgressTransaction#resolved}); it may return unresolved when the reader stops (nothing is
     * acknowledged then, and nothing replayed).
     */
    @FunctionalInterface
    public interface CommitWait {
        void await(InProgressTransaction transaction) throws InterruptedException;
    }

    /**
     * @param protocolVersion          the {@code proto_version} the stream was started with
     * @param relations                where Relation messages go and table schemas come from
     * @param maxBatchSize             the most events one part holds, at least 1
     * @param spoolDirectory           where streamed transactions are spooled (created if missing)
     * @param sink                     receives every part, in order
     * @param nonTransactionalMessages receives non-transactional logical decoding messages as they come; may be null
     */
    public TransactionAssembler(int protocolVersion, RelationCache relations, int maxBatchSize, Path spoolDirectory,
                                Consumer<TransactionPart> sink, Consumer<LogicalMessage> nonTransactionalMessages) {
        this(protocolVersion, relations, maxBatchSize, spoolDirectory, sink, nonTransactionalMessages, null);
    }

    /**
     * @param commitWait null, or how to wait at the commit of a streamed transaction handed over in progress: then such
     *                   transactions are (see the class comment)
     */
    public TransactionAssembler(int protocolVersion, RelationCache relations, int maxBatchSize, Path spoolDirectory,
                                Consumer<TransactionPart> sink, Consumer<LogicalMessage> nonTransactionalMessages,
                                CommitWait commitWait) {
        this.commitWait = commitWait;
        if (maxBatchSize < 1) {
            throw new IllegalArgumentException("maxBatchSize must be at least 1, not " + maxBatchSize);
        }
        this.decoder = new PgOutputDecoder(protocolVersion);
        this.relations = relations;
        this.maxBatchSize = maxBatchSize;
        this.spoolDirectory = spoolDirectory;
        this.sink = sink;
        this.nonTransactionalMessages = nonTransactionalMessages;
    }

    /**
     * Takes the next message of the stream (consumed from position to limit).
     *
     * @param walStart the LSN it came with (XLogData walStart, or the SQL interface's lsn); for error messages and
     *                 the spool only
     */
    public void accept(ByteBuffer message, long walStart) {
        if (block != null && message.hasRemaining() && isStreamedChange(message.get(message.position()))) {
            block.append(message, walStart);
            if (eager != null && eager.spool == block) {
                inProgressChange(message, walStart);
            }
            message.position(message.limit());
            return;
        }
        PgOutputMessage m = decoder.decode(message, walStart);
        if (m instanceof Begin b) {
            begin(b, walStart);
        } else if (m instanceof Commit c) {
            commit(c, walStart);
        } else if (m instanceof StreamStart s) {
            streamStart(s, walStart);
        } else if (m instanceof StreamStop) {
            if (block != null) {
                block.flush(); // the block's messages leave the JVM heap now, not when the buffer happens to fill
            }
            block = null;
        } else if (m instanceof StreamCommit c) {
            streamCommit(c, walStart);
        } else if (m instanceof StreamAbort a) {
            streamAbort(a);
        } else {
            change(tx, m, walStart);
        }
    }

    /** The number of streamed transactions in progress (spooled, not yet committed or aborted). */
    public int streamsInProgress() {
        return streams.size();
    }

    public RelationCache relations() {
        return relations;
    }

    /** What a Stream Start … Stream Stop block holds: spooled untouched, decoded at Stream Commit. */
    private static boolean isStreamedChange(byte type) {
        return switch (type) {
            case 'R', 'Y', 'O', 'I', 'U', 'D', 'T', 'M' -> true;
            default -> false;
        };
    }

    private void begin(Begin b, long walStart) {
        if (block != null) {
            throw new PgOutputException("Begin of transaction " + b.xid() + " inside the streamed block of transaction " + block.xid()
                    + where(walStart));
        }
        if (tx != null) {
            throw new PgOutputException("Begin of transaction " + b.xid() + " inside transaction " + tx.xid + where(walStart));
        }
        tx = new Tx(b.xid(), b.finalLsn(), b.commitTime(), false);
    }

    private void commit(Commit c, long walStart) {
        Tx t = requireTx('C', walStart);
        if (c.commitLsn() != t.commitLsn) {
            throw new PgOutputException("Commit at " + PgOutputDecoder.lsn(c.commitLsn()) + " does not match its Begin ("
                    + PgOutputDecoder.lsn(t.commitLsn) + ") in transaction " + t.xid + where(walStart));
        }
        finish(c.endLsn());
    }

    private void streamStart(StreamStart s, long walStart) {
        if (eager != null && eager.spool.xid() != s.xid()) {
            demote("another streamed transaction is in progress");
        }
        if (block != null) {
            throw new PgOutputException("Stream Start of transaction " + s.xid() + " before the Stream Stop of transaction " + block.xid()
                    + where(walStart));
        }
        if (tx != null) {
            throw new PgOutputException("Stream Start of transaction " + s.xid() + " inside transaction " + tx.xid + where(walStart));
        }
        StreamSpool spool = streams.get(s.xid());
        if (spool == null) {
            if (!s.firstSegment()) {
                throw new PgOutputException("streamed transaction " + s.xid() + " continues, but its first segment was not received"
                        + where(walStart));
            }
            spool = new StreamSpool(s.xid(), spoolDirectory);
            if (commitWait != null && streams.isEmpty() && eager == null) {
                eager = new Eager(spool, new Tx(s.xid(), walStart, null, true, new InProgressTransaction(s.xid())));
            }
            streams.put(s.xid(), spool);
            LOG.debug("spooling streamed transaction {} to {}{}", s.xid(), spool.file(), eager != null && eager.spool == spool
                    ? ", and applying it in progress" : "");
        } else if (s.firstSegment()) {
            throw new PgOutputException("streamed transaction " + s.xid() + " starts again while already in progress" + where(walStart));
        }
        block = spool;
    }

    private void streamCommit(StreamCommit c, long walStart) {
        if (tx != null) {
            throw new PgOutputException("Stream Commit of transaction " + c.xid() + " inside transaction " + tx.xid + where(walStart));
        }
        StreamSpool spool = streams.remove(c.xid());
        if (spool == null) {
            throw new PgOutputException("Stream Commit of transaction " + c.xid() + ", whose changes were never streamed" + where(walStart));
        }
        if (eager != null && eager.spool != spool) {
            demote("another streamed transaction committed");
        }
        if (eager != null) {
            boolean done = eager.handedOver && !eager.tx.inProgress.demoted() && committedInProgress(eager, c);
            eager = null;
            if (done) {
                spool.close();
                return;
            }
            // nothing of it handed over (a small one: replayed as any), or demoted: replayed from the spool file
        }
        try (spool) {
            tx = new Tx(c.xid(), c.commitLsn(), c.commitTime(), true);
            spool.replay((message, at) -> {
                PgOutputMessage m = decoder.decodeStreamed(message, at);
                if (!spool.aborted(changeXid(m))) {
                    change(tx, m, at);
                }
            });
            finish(c.endLsn());
        }
    }

    private void streamAbort(StreamAbort a) {
        StreamSpool spool = streams.get(a.xid());
        if (spool == null) {
            return; // nothing of it was kept
        }
        if (a.wholeTransaction()) {
            streams.remove(a.xid());
            spool.close();
            LOG.debug("streamed transaction {} aborted: {} spooled messages dropped", a.xid(), spool.messages());
            if (eager != null && eager.spool == spool) {
                Eager e = eager;
                eager = null;
                e.tx.inProgress.demote();
                if (e.handedOver) {
                    sink.accept(rollback(e.tx));
                }
            }
        } else {
            spool.abortSubtransaction(a.subXid());
            if (eager != null && eager.spool == spool) {
                demote("one of its subtransactions was rolled back");
            }
        }
    }

    /** The (sub)transaction of a streamed data change, or 0 for messages an aborted subtransaction does not undo. */
    private static long changeXid(PgOutputMessage m) {
        if (m instanceof Insert i) {
            return i.xid();
        } else if (m instanceof Update u) {
            return u.xid();
        } else if (m instanceof Delete d) {
            return d.xid();
        } else if (m instanceof Truncate t) {
            return t.xid();
        } else if (m instanceof LogicalMessage l) {
            return l.transactional() ? l.xid() : 0;
        }
        return 0; // Relation, Type, Origin: they describe, they do not change
    }

    /**
     * One change message of a streamed block of the transaction applied in progress (already spooled): decoded and
     * handed over as it comes, unless something makes that unsafe (then it is demoted).
     */
    private void inProgressChange(ByteBuffer message, long walStart) {
        Eager e = eager;
        if (e.tx.inProgress.demoted()) {
            demote("the destination could not apply it in progress"); // it rolled back itself
            return;
        }
        PgOutputMessage m = decoder.decodeStreamed(message, walStart);
        if (m instanceof Relation r) {
            if (!relations.acceptUnlessChanged(r)) {
                demote("the shape of " + r.namespace() + "." + r.name() + " changed in it");
            }
        } else if (m instanceof LogicalMessage) {
            demote("it holds a logical decoding message");
        } else {
            change(e.tx, m, walStart);
        }
    }

    /**
     * Hands over the last changes and the commit of the transaction applied in progress and waits for the destination.
     *
     * @return false when it was demoted meanwhile (it is replayed from its spool file then)
     */
    private boolean committedInProgress(Eager e, StreamCommit c) {
        Tx t = e.tx;
        InProgressTransaction transaction = t.inProgress;
        if (!t.events.isEmpty()) {
            emit(t, false, t.position);
            if (eager != e) {
                return false; // demoted by the destination meanwhile
            }
        }
        transaction.commitRecordLsn(c.commitLsn());
        sink.accept(new TransactionPart(new ChangeBatch(List.of(), new Position.Log(c.endLsn(), t.xid, c.commitTime()), true), t.xid,
                t.parts++, t.delivered, true, t.origin, List.of(), new TransactionPart.InProgress(InProgressTransaction.Step.COMMIT,
                transaction)));
        try {
            commitWait.await(transaction);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the destination committed transaction " + t.xid, ex);
        }
        if (transaction.isCommitted() || !transaction.demoted()) {
            // committed, or the reader stops before the destination said (nothing acknowledged: it comes again)
            return true;
        }
        LOG.debug("streamed transaction {}: the destination rolled back what it applied in progress; applying it from its spool file",
                t.xid);
        return false;
    }

    /** The transaction applied in progress is not any more: the destination rolls back what it got of it. */
    private void demote(String why) {
        Eager e = eager;
        eager = null;
        e.tx.inProgress.demote();
        LOG.debug("streamed transaction {} is no longer applied in progress ({}): it is applied from its spool file at its commit",
                e.tx.xid, why);
        if (e.handedOver) {
            sink.accept(rollback(e.tx));
        }
    }

    private static TransactionPart rollback(Tx t) {
        return new TransactionPart(new ChangeBatch(List.of(), t.position, false), t.xid, t.parts, t.delivered, true, t.origin,
                List.of(), new TransactionPart.InProgress(InProgressTransaction.Step.ROLLBACK, t.inProgress));
    }

    private void change(Tx current, PgOutputMessage m, long walStart) {
        if (m instanceof Relation r) {
            relations.accept(r);
        } else if (m instanceof Type t) {
            relations.accept(t);
        } else if (m instanceof Origin o) {
            require(current, 'O', walStart).origin = o;
        } else if (m instanceof Insert i) {
            TableSchema schema = captured(current, i.relationOid(), 'I', walStart);
            if (schema == null) {
                return;
            }
            add(current, new ChangeEvent(Op.INSERT, schema, null, row(schema, i.newTuple(), walStart), unchanged(schema, i.newTuple()),
                    require(current, 'I', walStart).position));
        } else if (m instanceof Update u) {
            TableSchema schema = captured(current, u.relationOid(), 'U', walStart);
            if (schema == null) {
                return;
            }
            Row before = u.oldTuple() == null ? null : row(schema, u.oldTuple(), walStart);
            add(current, new ChangeEvent(Op.UPDATE, schema, before, row(schema, u.newTuple(), walStart), unchanged(schema, u.newTuple()),
                    require(current, 'U', walStart).position));
        } else if (m instanceof Delete d) {
            TableSchema schema = captured(current, d.relationOid(), 'D', walStart);
            if (schema == null) {
                return;
            }
            add(current, new ChangeEvent(Op.DELETE, schema, row(schema, d.oldTuple(), walStart), null, unchanged(schema, d.oldTuple()),
                    require(current, 'D', walStart).position));
        } else if (m instanceof Truncate t) {
            Position.Log position = require(current, 'T', walStart).position;
            for (RelationCache.Truncated truncated : relations.truncated(t.relationOids())) {
                if (truncated.partitionsOnly().isEmpty()) {
                    add(current, ChangeEvent.truncate(truncated.schema(), position));
                } else {
                    partitionsTruncated(truncated, walStart);
                }
            }
        } else if (m instanceof LogicalMessage l) {
            if (l.transactional()) {
                Tx t = require(current, 'M', walStart);
                t.messages.add(new TransactionPart.Message(t.events.size(), l));
            } else if (nonTransactionalMessages != null) {
                nonTransactionalMessages.accept(l);
            } else {
                LOG.debug("non-transactional logical decoding message '{}' ignored: no listener", l.prefix());
            }
        } else {
            throw new PgOutputException("pgoutput '" + m.type() + "' messages (two-phase commit) are not supported: "
                    + "create the slot without two_phase" + where(walStart));
        }
    }

    /** The schema of a change's relation, or null when its table is not captured (the change is dropped). */
    private TableSchema captured(Tx current, int relationOid, char type, long walStart) {
        RelationCache.Entry e = relations.entry(relationOid);
        if (e.captured()) {
            return e.schema();
        }
        require(current, type, walStart);
        return null;
    }

    /**
     * A TRUNCATE of some partitions of a partitioned table, under a publication that names partitions (without
     * publish_via_partition_root): the table's copy holds the rows of every partition, with nothing that tells whose
     * they were, so it cannot be applied. Said once per table, with what it means and the fix.
     */
    private void partitionsTruncated(RelationCache.Truncated truncated, long walStart) {
        TableId table = truncated.schema().id();
        if (warnedTruncates.add(table)) {
            LOG.warn("TRUNCATE of partition(s) {} of {}{} is not applied: the destination holds {}'s rows of all its partitions and cannot"
                    + " tell which came from {}, so it keeps them (rows that no longer exist at the source). To remove them, copy {}"
                    + " again (sync.resnapshot=true), or delete them at the destination. DELETE instead of TRUNCATE on a partition"
                    + " is streamed row by row. (Said once per table.)", truncated.partitionsOnly().stream().map(TableId::quoted).toList(),
                    table.quoted(), where(walStart), table.quoted(), truncated.partitionsOnly().size() == 1 ? "it" : "them", table.quoted());
        }
    }

    private Tx requireTx(char type, long walStart) {
        return require(tx, type, walStart);
    }

    private static Tx require(Tx current, char type, long walStart) {
        if (current == null) {
            throw new PgOutputException("pgoutput '" + type + "' message outside a transaction" + where(walStart));
        }
        return current;
    }

    private void add(Tx t, ChangeEvent event) {
        if (t.events.size() >= maxBatchSize) {
            emit(t, false, t.position);
        }
        t.events.add(event);
    }

    private void finish(long endLsn) {
        Tx t = tx;
        emit(t, true, new Position.Log(endLsn, t.xid, t.commitTime));
        tx = null;
    }

    private void emit(Tx t, boolean last, Position.Log position) {
        TransactionPart.InProgress inProgress = null;
        if (t.inProgress != null) {
            if (eager == null || eager.tx != t) {
                throw new IllegalStateException("transaction " + t.xid + " is not the one applied in progress");
            }
            if (t.inProgress.demoted()) {
                // the destination gave up on it: nothing more of it goes there (it comes from the spool file at its commit)
                demote("the destination could not apply it in progress");
                t.events.clear();
                return;
            }
            inProgress = new TransactionPart.InProgress(InProgressTransaction.Step.APPLY, t.inProgress);
            eager.handedOver = true;
        } else if (eager != null && !(t.parts == 0 && last && t.events.isEmpty() && t.messages.isEmpty())) {
            // another transaction reaches the destination, whose one connection is inside the open transaction
            demote("transaction " + t.xid + " committed meanwhile");
        }
        TransactionPart part = new TransactionPart(new ChangeBatch(t.events, position, last), t.xid, t.parts++, t.delivered,
                t.streamed, t.origin, t.messages, inProgress);
        t.delivered += t.events.size();
        t.events.clear();
        t.messages.clear();
        sink.accept(part);
    }

    private static Row row(TableSchema schema, TupleData tuple, long walStart) {
        if (tuple.size() != schema.size()) {
            throw new PgOutputException("a tuple of " + schema.id() + " has " + tuple.size() + " columns but its Relation message has "
                    + schema.size() + where(walStart));
        }
        return new Row(schema, tuple.values());
    }

    private static Set<String> unchanged(TableSchema schema, TupleData tuple) {
        if (!tuple.hasUnchanged()) {
            return Set.of();
        }
        Set<String> names = new LinkedHashSet<>();
        for (int i = 0; i < tuple.size(); i++) {
            if (tuple.kind(i) == TupleData.UNCHANGED) {
                names.add(schema.columns().get(i).name());
            }
        }
        return names;
    }

    private static String where(long walStart) {
        return walStart == 0 ? "" : " (at LSN " + PgOutputDecoder.lsn(walStart) + ")";
    }

    /**
     * The stream ends: the part that rolls back what the destination holds of the transaction applied in progress, or
     * null when nothing of one was handed over. The destination would otherwise keep that transaction open (and its
     * locks) until its next batch, which after a failover may come from another instance's.
     */
    public TransactionPart abandonInProgress() {
        Eager e = eager;
        eager = null;
        if (e == null) {
            return null;
        }
        e.tx.inProgress.demote();
        return e.handedOver ? rollback(e.tx) : null;
    }

    /** Deletes the spool files of streamed transactions still in progress. */
    @Override
    public void close() {
        for (StreamSpool spool : streams.values()) {
            spool.close();
        }
        streams.clear();
        block = null;
        eager = null;
    }

    /** The streamed transaction applied in progress: its spool file and its decoded changes. */
    private static final class Eager {
        final StreamSpool spool;
        final Tx tx;
        /** A part of it went to the destination (which then holds a transaction open for it). */
        boolean handedOver;

        Eager(StreamSpool spool, Tx tx) {
            this.spool = spool;
            this.tx = tx;
        }
    }

    /** The transaction being assembled. */
    private static final class Tx {
        final long xid;
        final long commitLsn;
        final OffsetDateTime commitTime;
        final boolean streamed;
        final Position.Log position;
        final List<ChangeEvent> events = new ArrayList<>();
        final List<TransactionPart.Message> messages = new ArrayList<>();
        /** For a transaction applied in progress, null for any other. */
        final InProgressTransaction inProgress;
        Origin origin;
        int parts;
        /** The changes handed over in earlier parts. */
        long delivered;

        Tx(long xid, long commitLsn, OffsetDateTime commitTime, boolean streamed) {
            this(xid, commitLsn, commitTime, streamed, null);
        }

        /** @param commitLsn for a transaction applied in progress, a lower bound of it (its commit is not known yet) */
        Tx(long xid, long commitLsn, OffsetDateTime commitTime, boolean streamed, InProgressTransaction inProgress) {
            this.inProgress = inProgress;
            this.xid = xid;
            this.commitLsn = commitLsn;
            this.commitTime = commitTime;
            this.streamed = streamed;
            this.position = new Position.Log(commitLsn, xid, commitTime);
        }
    }
}
