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
 * order, and nothing of a transaction before its commit was received.
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
            change(m, walStart);
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
            streams.put(s.xid(), spool);
            LOG.debug("spooling streamed transaction {} to {}", s.xid(), spool.file());
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
        try (spool) {
            tx = new Tx(c.xid(), c.commitLsn(), c.commitTime(), true);
            spool.replay((message, at) -> {
                PgOutputMessage m = decoder.decodeStreamed(message, at);
                if (!spool.aborted(changeXid(m))) {
                    change(m, at);
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
        } else {
            spool.abortSubtransaction(a.subXid());
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

    private void change(PgOutputMessage m, long walStart) {
        if (m instanceof Relation r) {
            relations.accept(r);
        } else if (m instanceof Type t) {
            relations.accept(t);
        } else if (m instanceof Origin o) {
            requireTx('O', walStart).origin = o;
        } else if (m instanceof Insert i) {
            TableSchema schema = captured(i.relationOid(), 'I', walStart);
            if (schema == null) {
                return;
            }
            add(new ChangeEvent(Op.INSERT, schema, null, row(schema, i.newTuple(), walStart), unchanged(schema, i.newTuple()),
                    requireTx('I', walStart).position));
        } else if (m instanceof Update u) {
            TableSchema schema = captured(u.relationOid(), 'U', walStart);
            if (schema == null) {
                return;
            }
            Row before = u.oldTuple() == null ? null : row(schema, u.oldTuple(), walStart);
            add(new ChangeEvent(Op.UPDATE, schema, before, row(schema, u.newTuple(), walStart), unchanged(schema, u.newTuple()),
                    requireTx('U', walStart).position));
        } else if (m instanceof Delete d) {
            TableSchema schema = captured(d.relationOid(), 'D', walStart);
            if (schema == null) {
                return;
            }
            add(new ChangeEvent(Op.DELETE, schema, row(schema, d.oldTuple(), walStart), null, unchanged(schema, d.oldTuple()),
                    requireTx('D', walStart).position));
        } else if (m instanceof Truncate t) {
            Position.Log position = requireTx('T', walStart).position;
            for (RelationCache.Truncated truncated : relations.truncated(t.relationOids())) {
                if (truncated.partitionsOnly().isEmpty()) {
                    add(ChangeEvent.truncate(truncated.schema(), position));
                } else {
                    partitionsTruncated(truncated, walStart);
                }
            }
        } else if (m instanceof LogicalMessage l) {
            if (l.transactional()) {
                Tx current = requireTx('M', walStart);
                current.messages.add(new TransactionPart.Message(current.events.size(), l));
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
    private TableSchema captured(int relationOid, char type, long walStart) {
        RelationCache.Entry e = relations.entry(relationOid);
        if (e.captured()) {
            return e.schema();
        }
        requireTx(type, walStart);
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
        if (tx == null) {
            throw new PgOutputException("pgoutput '" + type + "' message outside a transaction" + where(walStart));
        }
        return tx;
    }

    private void add(ChangeEvent event) {
        if (tx.events.size() >= maxBatchSize) {
            emit(false, tx.position);
        }
        tx.events.add(event);
    }

    private void finish(long endLsn) {
        Tx t = tx;
        emit(true, new Position.Log(endLsn, t.xid, t.commitTime));
        tx = null;
    }

    private void emit(boolean last, Position.Log position) {
        Tx t = tx;
        TransactionPart part = new TransactionPart(new ChangeBatch(t.events, position, last), t.xid, t.parts++, t.delivered,
                t.streamed, t.origin, t.messages);
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

    /** Deletes the spool files of streamed transactions still in progress. */
    @Override
    public void close() {
        for (StreamSpool spool : streams.values()) {
            spool.close();
        }
        streams.clear();
        block = null;
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
        Origin origin;
        int parts;
        /** The changes handed over in earlier parts. */
        long delivered;

        Tx(long xid, long commitLsn, OffsetDateTime commitTime, boolean streamed) {
            this.xid = xid;
            this.commitLsn = commitLsn;
            this.commitTime = commitTime;
            this.streamed = streamed;
            this.position = new Position.Log(commitLsn, xid, commitTime);
        }
    }
}
