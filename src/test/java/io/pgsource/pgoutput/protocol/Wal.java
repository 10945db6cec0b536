package io.pgsource.pgoutput.protocol;

import io.pgsource.change.ChangeEvent;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.postgresql.replication.LogSequenceNumber;

/**
 * Reads pgoutput messages through the SQL interface: each row of {@code pg_logical_slot_get_binary_changes} is one
 * message, exactly what the replication stream would deliver.
 */
final class Wal {
    private static final AtomicInteger SLOTS = new AtomicInteger();

    /** One pgoutput message with the LSN the SQL interface reports for it. */
    record Message(long lsn, long xid, byte[] data) {
        ByteBuffer buffer() {
            return ByteBuffer.wrap(data);
        }

        char type() {
            return (char) data[0];
        }
    }

    private Wal() {
    }

    /** Creates a pgoutput slot with a name unique on the server (slot names are per cluster) and returns it. */
    static String createSlot(Connection c, String prefix) throws SQLException {
        String slot = (prefix + "_" + ProcessHandle.current().pid() + "_" + SLOTS.incrementAndGet()).toLowerCase();
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_create_logical_replication_slot(?, 'pgoutput')")) {
            ps.setString(1, slot);
            ps.execute();
        }
        return slot;
    }

    static void dropSlot(Connection c, String slot) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
            ps.setString(1, slot);
            ps.execute();
        }
    }

    /** Consumes the slot's pending changes; options are name, value pairs (proto_version, publication_names …). */
    static List<Message> read(Connection c, String slot, String... options) throws SQLException {
        return changes(c, "pg_logical_slot_get_binary_changes", slot, options);
    }

    /** Like {@link #read} but leaves the changes in the slot. */
    static List<Message> peek(Connection c, String slot, String... options) throws SQLException {
        return changes(c, "pg_logical_slot_peek_binary_changes", slot, options);
    }

    private static List<Message> changes(Connection c, String function, String slot, String... options) throws SQLException {
        if (c.getMetaData().getDatabaseMajorVersion() < 14) {
            // PostgreSQL 13's pgoutput knows no messages option (and sends no logical decoding messages)
            List<String> o = new ArrayList<>(List.of(options));
            for (int i = 0; i < o.size() - 1; i += 2) {
                if (o.get(i).equals("messages")) {
                    o.subList(i, i + 2).clear();
                    break;
                }
            }
            options = o.toArray(String[]::new);
        }
        List<Message> messages = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT lsn::text, xid::text, data FROM " + function + "(?, NULL, NULL, VARIADIC ?::text[])")) {
            ps.setString(1, slot);
            Array array = c.createArrayOf("text", options);
            ps.setArray(2, array);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    messages.add(new Message(LogSequenceNumber.valueOf(rs.getString(1)).asLong(), Long.parseLong(rs.getString(2)),
                            rs.getBytes(3)));
                }
            }
        }
        return messages;
    }

    /**
     * The messages without the transactions of nothing published: before PostgreSQL 15 pgoutput sends Begin and Commit
     * of every transaction (the consumer skips those).
     */
    static List<Message> withoutEmptyTransactions(List<Message> messages) {
        List<Message> kept = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i).type() == 'B' && i + 1 < messages.size() && messages.get(i + 1).type() == 'C') {
                i++;
            } else {
                kept.add(messages.get(i));
            }
        }
        return kept;
    }

    /** The newest pgoutput protocol the server speaks: 1 on PostgreSQL 13, 2 on 14, 3 on 15, 4 from 16. */
    static int newestProtocol(Connection c) throws SQLException {
        int major = c.getMetaData().getDatabaseMajorVersion();
        return major >= 16 ? 4 : Math.max(1, major - 12);
    }

    /** The options of a text-mode read of publication {@code pub} with messages on (dropped before PostgreSQL 14). */
    static String[] options(int protocol, String... more) {
        List<String> o = new ArrayList<>(List.of("proto_version", Integer.toString(protocol), "publication_names", "pub", "messages", "true"));
        o.addAll(List.of(more));
        return o.toArray(String[]::new);
    }

    /** An assembler fed from the SQL interface, collecting every part. */
    static final class Assembled {
        final List<TransactionPart> parts = new ArrayList<>();
        final List<PgOutputMessage.LogicalMessage> nonTransactional = new ArrayList<>();
        final TransactionAssembler assembler;

        Assembled(int protocol, RelationCache relations, int maxBatchSize, Path spool) {
            assembler = new TransactionAssembler(protocol, relations, maxBatchSize, spool, parts::add, nonTransactional::add);
        }

        Assembled feed(List<Message> messages) {
            for (Message m : messages) {
                assembler.accept(m.buffer(), m.lsn());
            }
            return this;
        }

        List<ChangeEvent> events() {
            List<ChangeEvent> all = new ArrayList<>();
            parts.forEach(p -> all.addAll(p.batch()));
            return all;
        }
    }
}
