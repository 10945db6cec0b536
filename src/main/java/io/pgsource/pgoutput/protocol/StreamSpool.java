package io.pgsource.pgoutput.protocol;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * The raw messages of one in-progress streamed transaction, kept in a temp file until its Stream Commit or Stream
 * Abort, so a huge transaction never sits in memory. Records are {@code walStart (8) | length (4) | message}.
 * Also remembers the subtransactions aborted meanwhile: their changes are skipped on replay.
 */
final class StreamSpool implements AutoCloseable {
    private final long xid;
    private final Path file;
    private DataOutputStream out;
    private final Set<Long> abortedSubtransactions = new HashSet<>();
    private long messages;

    /** Something that takes one spooled message back. */
    interface Replay {
        void message(ByteBuffer message, long walStart);
    }

    StreamSpool(long xid, Path directory) {
        this.xid = xid;
        try {
            Files.createDirectories(directory);
            this.file = Files.createTempFile(directory, "pgoutput-xid" + xid + "-", ".spool");
            this.out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a spool file for streamed transaction " + xid + " in " + directory, e);
        }
    }

    long xid() {
        return xid;
    }

    Path file() {
        return file;
    }

    long messages() {
        return messages;
    }

    /** Appends the message from its position to its limit (not consumed). */
    void append(ByteBuffer message, long walStart) {
        try {
            int length = message.remaining();
            out.writeLong(walStart);
            out.writeInt(length);
            if (message.hasArray()) {
                out.write(message.array(), message.arrayOffset() + message.position(), length);
            } else {
                byte[] copy = new byte[length];
                message.duplicate().get(copy);
                out.write(copy);
            }
            messages++;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the spool file " + file, e);
        }
    }

    void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the spool file " + file, e);
        }
    }

    void abortSubtransaction(long subXid) {
        abortedSubtransactions.add(subXid);
    }

    boolean aborted(long subXid) {
        return subXid != 0 && abortedSubtransactions.contains(subXid);
    }

    /** Hands every spooled message back in order; one reused buffer, so a message is valid only during its call. */
    void replay(Replay replay) {
        try {
            out.close();
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
                byte[] buffer = new byte[8192];
                for (long i = 0; i < messages; i++) {
                    long walStart = in.readLong();
                    int length = in.readInt();
                    if (length > buffer.length) {
                        buffer = new byte[Math.max(length, buffer.length * 2)];
                    }
                    in.readFully(buffer, 0, length);
                    replay.message(ByteBuffer.wrap(buffer, 0, length), walStart);
                }
            }
        } catch (EOFException e) {
            throw new UncheckedIOException("the spool file " + file + " is shorter than what was written to it", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the spool file " + file, e);
        }
    }

    /** Closes and deletes the file. */
    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            // deleting it anyway
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the spool file " + file, e);
        }
    }
}
