package io.pgsource.pgoutput.protocol;

import java.time.OffsetDateTime;
import java.util.List;

/**
 * One pgoutput message, as PostgreSQL's "Logical Replication Message Formats" chapter defines it (protocol versions
 * 1 to 4). LSNs are {@code long}s; transaction ids are unsigned 32-bit values held in a {@code long}. In the change
 * messages (Relation, Type, Insert, Update, Delete, Truncate, Message), {@code xid} is the (sub)transaction id sent
 * inside a Stream Start … Stream Stop block (protocol 2 and later), and 0 (InvalidTransactionId) everywhere else.
 */
public sealed interface PgOutputMessage {

    /** The message type byte ('B', 'C', …). */
    char type();

    /**
     * Begin of a transaction sent at commit.
     *
     * @param finalLsn   the LSN of the commit record (equals the Commit message's {@code commitLsn})
     * @param commitTime the commit time
     * @param xid        the transaction id
     */
    record Begin(long finalLsn, OffsetDateTime commitTime, long xid) implements PgOutputMessage {
        @Override
        public char type() {
            return 'B';
        }
    }

    /**
     * Commit of the transaction begun by the last {@link Begin}.
     *
     * @param flags      currently unused (0)
     * @param commitLsn  the LSN of the commit record
     * @param endLsn     the end of the commit record: what the slot may be acknowledged to once the transaction is applied
     * @param commitTime the commit time
     */
    record Commit(int flags, long commitLsn, long endLsn, OffsetDateTime commitTime) implements PgOutputMessage {
        @Override
        public char type() {
            return 'C';
        }
    }

    /**
     * The transaction was replicated from another node.
     *
     * @param commitLsn the commit LSN on the origin server
     * @param name      the replication origin's name
     */
    record Origin(long commitLsn, String name) implements PgOutputMessage {
        @Override
        public char type() {
            return 'O';
        }
    }

    /**
     * A published table's shape, sent before its first change in a transaction and again after it changed.
     *
     * @param xid             the streamed (sub)transaction, or 0
     * @param oid             the relation OID
     * @param namespace       the schema ({@code pg_catalog} is sent as the empty string and decoded back here)
     * @param name            the table name
     * @param replicaIdentity {@code relreplident}: 'd' default (primary key), 'n' nothing, 'f' full, 'i' index
     * @param columns         the published columns in tuple order (no dropped columns, no generated ones in PostgreSQL ≤ 17)
     */
    record Relation(long xid, int oid, String namespace, String name, char replicaIdentity, List<RelationColumn> columns)
            implements PgOutputMessage {
        public Relation {
            columns = List.copyOf(columns);
        }

        @Override
        public char type() {
            return 'R';
        }

        /** REPLICA IDENTITY FULL: every column is flagged as key, whatever the real key is. */
        public boolean fullIdentity() {
            return replicaIdentity == 'f';
        }

        /** Equal apart from {@code xid}: the same table shape. */
        public boolean sameShape(Relation other) {
            return oid == other.oid && namespace.equals(other.namespace) && name.equals(other.name)
                    && replicaIdentity == other.replicaIdentity && columns.equals(other.columns);
        }
    }

    /**
     * A column of a {@link Relation}.
     *
     * @param flags   1 = part of the replica identity (the key)
     * @param name    the column name
     * @param typeOid the type OID
     * @param typmod  the type modifier ({@code atttypmod}, -1 for none)
     */
    record RelationColumn(int flags, String name, int typeOid, int typmod) {
        public boolean key() {
            return (flags & 1) != 0;
        }
    }

    /**
     * A non-built-in type used by a following Relation.
     *
     * @param xid       the streamed (sub)transaction, or 0
     * @param oid       the type OID
     * @param namespace the type's schema ({@code pg_catalog} for the empty string on the wire)
     * @param name      the type name
     */
    record Type(long xid, int oid, String namespace, String name) implements PgOutputMessage {
        @Override
        public char type() {
            return 'Y';
        }
    }

    /** A row inserted: the new tuple. */
    record Insert(long xid, int relationOid, TupleData newTuple) implements PgOutputMessage {
        @Override
        public char type() {
            return 'I';
        }
    }

    /**
     * A row updated.
     *
     * @param oldKind  'K' (old key columns only; the other columns are null), 'O' (the whole old row, REPLICA
     *                 IDENTITY FULL), or 0 when no old tuple was sent (the key did not change)
     * @param oldTuple the old tuple, or null
     * @param newTuple the new tuple; columns sent as 'u' (unchanged TOAST) are null in it and flagged
     */
    record Update(long xid, int relationOid, char oldKind, TupleData oldTuple, TupleData newTuple) implements PgOutputMessage {
        @Override
        public char type() {
            return 'U';
        }
    }

    /**
     * A row deleted.
     *
     * @param oldKind  'K' (old key columns only, the rest null) or 'O' (the whole old row)
     * @param oldTuple the old tuple
     */
    record Delete(long xid, int relationOid, char oldKind, TupleData oldTuple) implements PgOutputMessage {
        @Override
        public char type() {
            return 'D';
        }
    }

    /**
     * Tables truncated together.
     *
     * @param options      1 = CASCADE, 2 = RESTART IDENTITY
     * @param relationOids the truncated published tables (cascaded ones included)
     */
    record Truncate(long xid, int options, List<Integer> relationOids) implements PgOutputMessage {
        public Truncate {
            relationOids = List.copyOf(relationOids);
        }

        @Override
        public char type() {
            return 'T';
        }

        public boolean cascade() {
            return (options & 1) != 0;
        }

        public boolean restartIdentity() {
            return (options & 2) != 0;
        }
    }

    /**
     * A logical decoding message ({@code pg_logical_emit_message}), sent when the slot option {@code messages} is on.
     *
     * @param transactional whether it belongs to a transaction (else it is sent as soon as it is decoded)
     * @param lsn           the LSN of the message
     */
    record LogicalMessage(long xid, boolean transactional, long lsn, String prefix, byte[] content) implements PgOutputMessage {
        @Override
        public char type() {
            return 'M';
        }
    }

    /** Start of a block of changes of an in-progress transaction (protocol ≥ 2, {@code streaming} on). */
    record StreamStart(long xid, boolean firstSegment) implements PgOutputMessage {
        @Override
        public char type() {
            return 'S';
        }
    }

    /** End of the current streamed block. */
    record StreamStop() implements PgOutputMessage {
        @Override
        public char type() {
            return 'E';
        }
    }

    /** Commit of a streamed transaction; the fields mean what they mean in {@link Commit}. */
    record StreamCommit(long xid, int flags, long commitLsn, long endLsn, OffsetDateTime commitTime) implements PgOutputMessage {
        @Override
        public char type() {
            return 'c';
        }
    }

    /**
     * Abort of a streamed transaction ({@code subXid == xid}) or of one of its subtransactions.
     *
     * @param abortLsn  the abort LSN, only with protocol 4 and {@code streaming} = parallel; else 0
     * @param abortTime the abort time, likewise; else null
     */
    record StreamAbort(long xid, long subXid, long abortLsn, OffsetDateTime abortTime) implements PgOutputMessage {
        @Override
        public char type() {
            return 'A';
        }

        public boolean wholeTransaction() {
            return xid == subXid;
        }
    }

    /** Begin of a prepared transaction (protocol ≥ 3, {@code two_phase} on). */
    record BeginPrepare(long prepareLsn, long endLsn, OffsetDateTime prepareTime, long xid, String gid) implements PgOutputMessage {
        @Override
        public char type() {
            return 'b';
        }
    }

    /** PREPARE TRANSACTION of the transaction begun by {@link BeginPrepare}. */
    record Prepare(int flags, long prepareLsn, long endLsn, OffsetDateTime prepareTime, long xid, String gid) implements PgOutputMessage {
        @Override
        public char type() {
            return 'P';
        }
    }

    /** COMMIT PREPARED. */
    record CommitPrepared(int flags, long commitLsn, long endLsn, OffsetDateTime commitTime, long xid, String gid) implements PgOutputMessage {
        @Override
        public char type() {
            return 'K';
        }
    }

    /** ROLLBACK PREPARED. */
    record RollbackPrepared(int flags, long prepareEndLsn, long rollbackEndLsn, OffsetDateTime prepareTime,
                            OffsetDateTime rollbackTime, long xid, String gid) implements PgOutputMessage {
        @Override
        public char type() {
            return 'r';
        }
    }

    /** PREPARE TRANSACTION of a streamed transaction. */
    record StreamPrepare(int flags, long prepareLsn, long endLsn, OffsetDateTime prepareTime, long xid, String gid) implements PgOutputMessage {
        @Override
        public char type() {
            return 'p';
        }
    }
}
