package io.pgsource.pgoutput.protocol;

import io.pgsource.pgoutput.protocol.PgOutputMessage.Begin;
import io.pgsource.pgoutput.protocol.PgOutputMessage.BeginPrepare;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Commit;
import io.pgsource.pgoutput.protocol.PgOutputMessage.CommitPrepared;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Delete;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Insert;
import io.pgsource.pgoutput.protocol.PgOutputMessage.LogicalMessage;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Origin;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Prepare;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Relation;
import io.pgsource.pgoutput.protocol.PgOutputMessage.RelationColumn;
import io.pgsource.pgoutput.protocol.PgOutputMessage.RollbackPrepared;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamAbort;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamCommit;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamPrepare;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamStart;
import io.pgsource.pgoutput.protocol.PgOutputMessage.StreamStop;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Truncate;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Type;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Update;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes pgoutput messages, one per call: the payload of one XLogData message, which is what pgjdbc's
 * {@code PGReplicationStream.read()/readPending()} returns and what one row of
 * {@code pg_logical_slot_get_binary_changes} holds.
 *
 * <p>Stateful in one respect: inside a Stream Start … Stream Stop block (protocol ≥ 2) the change messages carry a
 * leading transaction id, so the decoder follows the blocks. Feed it every message of a stream in order; one
 * decoder per stream, not thread-safe. Strings and text values are UTF-8 (pgjdbc's replication connection and the
 * SQL interface both run with {@code client_encoding = UTF8}).
 */
public final class PgOutputDecoder {
    /** Microseconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01 (both UTC). */
    private static final long PG_EPOCH_SECONDS = 946_684_800L;

    private final int protocolVersion;
    private boolean inStreamBlock;

    /** @param protocolVersion the {@code proto_version} the stream was started with, 1 to 4 */
    public PgOutputDecoder(int protocolVersion) {
        if (protocolVersion < 1 || protocolVersion > 4) {
            throw new IllegalArgumentException("pgoutput protocol version " + protocolVersion + " is not supported (1 to 4 are)");
        }
        this.protocolVersion = protocolVersion;
    }

    public int protocolVersion() {
        return protocolVersion;
    }

    /** Whether the last message was a Stream Start not yet followed by its Stream Stop. */
    public boolean inStreamBlock() {
        return inStreamBlock;
    }

    /**
     * Decodes one message, from the buffer's position to its limit (both consumed).
     *
     * @param walStart the LSN the message came with (XLogData's walStart, or the SQL interface's {@code lsn}), used
     *                 only in error messages; 0 when unknown
     * @throws PgOutputException on an unknown message type, a truncated or over-long message, or a message the
     *                           protocol version does not allow
     */
    public PgOutputMessage decode(ByteBuffer message, long walStart) {
        return decode(message, walStart, inStreamBlock, true);
    }

    /**
     * Decodes one change message that was received inside a Stream Start … Stream Stop block (so it carries a
     * transaction id), without touching the block state: for replaying spooled streamed changes.
     */
    public PgOutputMessage decodeStreamed(ByteBuffer message, long walStart) {
        return decode(message, walStart, true, false);
    }

    private PgOutputMessage decode(ByteBuffer message, long walStart, boolean streamed, boolean track) {
        ByteBuffer b = message.order() == ByteOrder.BIG_ENDIAN ? message : message.duplicate().order(ByteOrder.BIG_ENDIAN);
        if (!b.hasRemaining()) {
            throw new PgOutputException("empty pgoutput message" + at(walStart));
        }
        byte type = b.get();
        int minimum = minimumVersion(type);
        if (protocolVersion < minimum) {
            throw new PgOutputException("pgoutput '" + (char) type + "' message needs protocol version " + minimum
                    + " but the stream was started with " + protocolVersion + at(walStart));
        }
        PgOutputMessage decoded;
        try {
            decoded = switch (type) {
                case 'B' -> new Begin(b.getLong(), time(b.getLong()), xid(b));
                case 'C' -> new Commit(b.get(), b.getLong(), b.getLong(), time(b.getLong()));
                case 'O' -> new Origin(b.getLong(), string(b));
                case 'R' -> relation(b, streamedXid(b, streamed));
                case 'Y' -> new Type(streamedXid(b, streamed), b.getInt(), namespace(string(b)), string(b));
                case 'I' -> insert(b, streamedXid(b, streamed), walStart);
                case 'U' -> update(b, streamedXid(b, streamed), walStart);
                case 'D' -> delete(b, streamedXid(b, streamed), walStart);
                case 'T' -> truncate(b, streamedXid(b, streamed));
                case 'M' -> message(b, streamedXid(b, streamed));
                case 'S' -> new StreamStart(xid(b), b.get() == 1);
                case 'E' -> new StreamStop();
                case 'c' -> new StreamCommit(xid(b), b.get(), b.getLong(), b.getLong(), time(b.getLong()));
                case 'A' -> streamAbort(b);
                case 'b' -> new BeginPrepare(b.getLong(), b.getLong(), time(b.getLong()), xid(b), string(b));
                case 'P' -> new Prepare(b.get(), b.getLong(), b.getLong(), time(b.getLong()), xid(b), string(b));
                case 'K' -> new CommitPrepared(b.get(), b.getLong(), b.getLong(), time(b.getLong()), xid(b), string(b));
                case 'r' -> new RollbackPrepared(b.get(), b.getLong(), b.getLong(), time(b.getLong()), time(b.getLong()), xid(b), string(b));
                case 'p' -> new StreamPrepare(b.get(), b.getLong(), b.getLong(), time(b.getLong()), xid(b), string(b));
                default -> throw new PgOutputException(String.format("unknown pgoutput message type 0x%02x%s%s", type & 0xff,
                        printable(type), at(walStart)));
            };
        } catch (BufferUnderflowException e) {
            throw new PgOutputException("truncated pgoutput '" + (char) type + "' message" + at(walStart), e);
        }
        if (b.hasRemaining()) {
            throw new PgOutputException(b.remaining() + " unexpected bytes after a pgoutput '" + (char) type + "' message" + at(walStart)
                    + (streamed ? " (inside a streamed block)" : ""));
        }
        if (b != message) {
            message.position(message.limit());
        }
        if (track) {
            if (type == 'S') {
                inStreamBlock = true;
            } else if (type == 'E') {
                inStreamBlock = false;
            }
        }
        return decoded;
    }

    /** Streaming messages came with protocol 2, two-phase ones with 3. */
    private static int minimumVersion(byte type) {
        return switch (type) {
            case 'S', 'E', 'c', 'A' -> 2;
            case 'b', 'P', 'K', 'r', 'p' -> 3;
            default -> 1;
        };
    }

    private static StreamAbort streamAbort(ByteBuffer b) {
        long xid = xid(b);
        long subXid = xid(b);
        // abort LSN and time follow only with protocol 4 and streaming = parallel: the length tells
        if (b.remaining() >= 16) {
            return new StreamAbort(xid, subXid, b.getLong(), time(b.getLong()));
        }
        return new StreamAbort(xid, subXid, 0, null);
    }

    private static Relation relation(ByteBuffer b, long xid) {
        int oid = b.getInt();
        String namespace = namespace(string(b));
        String name = string(b);
        char identity = (char) b.get();
        int n = Short.toUnsignedInt(b.getShort());
        List<RelationColumn> columns = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            columns.add(new RelationColumn(b.get(), string(b), b.getInt(), b.getInt()));
        }
        return new Relation(xid, oid, namespace, name, identity, columns);
    }

    private static Insert insert(ByteBuffer b, long xid, long walStart) {
        int oid = b.getInt();
        expect(b, 'N', "Insert", walStart);
        return new Insert(xid, oid, tuple(b, walStart));
    }

    private static Update update(ByteBuffer b, long xid, long walStart) {
        int oid = b.getInt();
        byte kind = b.get();
        char oldKind = 0;
        TupleData old = null;
        if (kind == 'K' || kind == 'O') {
            oldKind = (char) kind;
            old = tuple(b, walStart);
            kind = b.get();
        }
        if (kind != 'N') {
            throw new PgOutputException("Update message: expected 'N' but found 0x" + Integer.toHexString(kind & 0xff) + at(walStart));
        }
        return new Update(xid, oid, oldKind, old, tuple(b, walStart));
    }

    private static Delete delete(ByteBuffer b, long xid, long walStart) {
        int oid = b.getInt();
        byte kind = b.get();
        if (kind != 'K' && kind != 'O') {
            throw new PgOutputException("Delete message: expected 'K' or 'O' but found 0x" + Integer.toHexString(kind & 0xff) + at(walStart));
        }
        return new Delete(xid, oid, (char) kind, tuple(b, walStart));
    }

    private static Truncate truncate(ByteBuffer b, long xid) {
        int n = b.getInt();
        int options = b.get();
        List<Integer> oids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            oids.add(b.getInt());
        }
        return new Truncate(xid, options, oids);
    }

    private static LogicalMessage message(ByteBuffer b, long xid) {
        boolean transactional = (b.get() & 1) != 0;
        long lsn = b.getLong();
        String prefix = string(b);
        byte[] content = new byte[b.getInt()];
        b.get(content);
        return new LogicalMessage(xid, transactional, lsn, prefix, content);
    }

    private static void expect(ByteBuffer b, char wanted, String what, long walStart) {
        byte got = b.get();
        if (got != wanted) {
            throw new PgOutputException(what + " message: expected '" + wanted + "' but found 0x" + Integer.toHexString(got & 0xff) + at(walStart));
        }
    }

    private static TupleData tuple(ByteBuffer b, long walStart) {
        int n = Short.toUnsignedInt(b.getShort());
        byte[] kinds = new byte[n];
        Object[] values = new Object[n];
        int unchanged = 0;
        for (int i = 0; i < n; i++) {
            byte kind = b.get();
            kinds[i] = kind;
            switch (kind) {
                case TupleData.NULL -> {
                }
                case TupleData.UNCHANGED -> unchanged++;
                case TupleData.TEXT -> values[i] = utf8(b, b.getInt());
                case TupleData.BINARY -> {
                    byte[] raw = new byte[b.getInt()];
                    b.get(raw);
                    values[i] = raw;
                }
                default -> throw new PgOutputException("tuple column " + (i + 1) + ": unknown kind 0x"
                        + Integer.toHexString(kind & 0xff) + at(walStart));
            }
        }
        return new TupleData(kinds, values, unchanged);
    }

    /** A NUL-terminated string. */
    private static String string(ByteBuffer b) {
        int start = b.position();
        int end = start;
        int limit = b.limit();
        while (end < limit && b.get(end) != 0) {
            end++;
        }
        if (end == limit) {
            throw new BufferUnderflowException();
        }
        String s = utf8(b, end - start);
        b.get(); // the terminator
        return s;
    }

    /** {@code length} bytes as UTF-8, without a copy when the buffer has an array. */
    private static String utf8(ByteBuffer b, int length) {
        if (length < 0 || length > b.remaining()) {
            throw new BufferUnderflowException();
        }
        String s;
        if (b.hasArray()) {
            s = new String(b.array(), b.arrayOffset() + b.position(), length, StandardCharsets.UTF_8);
            b.position(b.position() + length);
        } else {
            byte[] bytes = new byte[length];
            b.get(bytes);
            s = new String(bytes, StandardCharsets.UTF_8);
        }
        return s;
    }

    private static String namespace(String wire) {
        return wire.isEmpty() ? "pg_catalog" : wire;
    }

    private static long xid(ByteBuffer b) {
        return Integer.toUnsignedLong(b.getInt());
    }

    private static long streamedXid(ByteBuffer b, boolean streamed) {
        return streamed ? xid(b) : 0;
    }

    /** Microseconds since 2000-01-01 00:00 UTC. */
    static OffsetDateTime time(long pgMicros) {
        long seconds = Math.floorDiv(pgMicros, 1_000_000L);
        long micros = Math.floorMod(pgMicros, 1_000_000L);
        return Instant.ofEpochSecond(PG_EPOCH_SECONDS + seconds, micros * 1000).atOffset(ZoneOffset.UTC);
    }

    private static String printable(byte type) {
        return type >= 0x20 && type < 0x7f ? " ('" + (char) type + "')" : "";
    }

    private static String at(long walStart) {
        return walStart == 0 ? "" : " at LSN " + lsn(walStart);
    }

    /** An LSN as PostgreSQL prints it ({@code 16/B374D848}). */
    public static String lsn(long lsn) {
        // pgjdbc's LogSequenceNumber.asString text, without its String.format: every streamed transaction's position is
        // written so
        return hex((int) (lsn >>> 32)) + "/" + hex((int) lsn);
    }

    private static String hex(int half) {
        return Integer.toHexString(half).toUpperCase(java.util.Locale.ROOT);
    }
}
