package io.pgsource.pgoutput.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeEvent;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.replication.LogSequenceNumber;

/** The decoder on real pgoutput output of every protocol version, binary mode, origins and types; and its errors. */
class PgOutputDecoderTest {
    private static WalDatabase db;
    private static Connection c;
    private static int protocol;

    @TempDir
    Path spool;

    @BeforeAll
    static void setUp() throws SQLException {
        db = new WalDatabase("pgoutput_dec", "dec");
        c = db.connection();
        protocol = db.protocol();
    }

    @AfterAll
    static void tearDown() throws SQLException {
        db.close();
    }

    @Test
    void everyProtocolVersionDecodesTheSameChanges() throws SQLException {
        exec("CREATE TABLE versions (id int PRIMARY KEY, v text)");
        String[] slots = {slot(), slot(), slot(), slot()};
        exec("BEGIN; INSERT INTO versions VALUES (1, 'one'), (2, 'two'); SELECT pg_logical_emit_message(true, 'p', 'm'); COMMIT");
        exec("BEGIN; UPDATE versions SET id = 3, v = 'three' WHERE id = 2; DELETE FROM versions WHERE id = 1; COMMIT");
        exec("TRUNCATE versions");

        List<String> first = null;
        for (int version = 1; version <= protocol; version++) {
            List<Wal.Message> messages = Wal.read(c, slots[version - 1], Wal.options(version));
            PgOutputDecoder decoder = new PgOutputDecoder(version);
            List<Character> types = new ArrayList<>();
            for (Wal.Message m : messages) {
                PgOutputMessage decoded = decoder.decode(m.buffer(), m.lsn());
                assertThat(decoded.type()).isEqualTo(m.type());
                types.add(decoded.type());
            }
            // the Relation goes once per decoding session, and again after TRUNCATE invalidated it; no Message before 14
            List<Character> expected = new ArrayList<>(List.of('B', 'R', 'I', 'I', 'M', 'C', 'B', 'U', 'D', 'C', 'B', 'R', 'T', 'C'));
            if (protocol < 2) {
                expected.remove(Character.valueOf('M'));
            }
            assertThat(types).isEqualTo(expected);

            Wal.Assembled a = new Wal.Assembled(version, new RelationCache(new CatalogTypeNames(c)), 100, spool).feed(messages);
            List<String> described = new ArrayList<>();
            for (TransactionPart p : a.parts) {
                described.add(p.xid() + " " + p.position() + " " + p.messages().size());
                for (ChangeEvent e : p.batch()) {
                    described.add(e.op() + " " + e.table() + " " + e.before() + " " + e.after() + " " + e.position());
                }
            }
            assertThat(described).as("3 transactions, 5 events").hasSize(3 + 5);
            if (first == null) {
                first = described;
            } else {
                assertThat(described).as("protocol %d", version).isEqualTo(first);
            }
        }
    }

    @Test
    void binaryModeKeepsTheRawBytes() throws SQLException {
        exec("CREATE TABLE bin (id int PRIMARY KEY, t text, b bool, raw bytea, big int8, f float8, nothing text)");
        String slot = slot();
        exec("INSERT INTO bin VALUES (42, 'héllo', true, '\\x00ff', -1, 1.5, NULL)");

        Assumptions.assumeTrue(protocol >= 2, "pgoutput's binary mode came with PostgreSQL 14");
        List<Wal.Message> messages = Wal.read(c, slot, Wal.options(protocol, "binary", "true"));
        PgOutputDecoder decoder = new PgOutputDecoder(protocol);
        PgOutputMessage.Insert insert = null;
        for (Wal.Message m : messages) {
            if (decoder.decode(m.buffer(), m.lsn()) instanceof PgOutputMessage.Insert i) {
                insert = i;
            }
        }
        assertThat(insert).isNotNull();
        TupleData tuple = insert.newTuple();
        for (int i = 0; i < 6; i++) {
            assertThat((char) tuple.kind(i)).isEqualTo('b');
        }
        assertThat((char) tuple.kind(6)).isEqualTo('n');
        HexFormat hex = HexFormat.of();
        assertThat(hex.formatHex((byte[]) tuple.value(0))).isEqualTo("0000002a");
        assertThat((byte[]) tuple.value(1)).isEqualTo("héllo".getBytes(StandardCharsets.UTF_8));
        assertThat(hex.formatHex((byte[]) tuple.value(2))).isEqualTo("01");
        assertThat(hex.formatHex((byte[]) tuple.value(3))).isEqualTo("00ff");
        assertThat(hex.formatHex((byte[]) tuple.value(4))).isEqualTo("ffffffffffffffff");
        assertThat(hex.formatHex((byte[]) tuple.value(5))).isEqualTo(hex.formatHex(ByteBuffer.allocate(8).putDouble(1.5).array()));
        assertThat(tuple.value(6)).isNull();

        // the assembler passes the raw bytes through
        ChangeEvent e = new Wal.Assembled(protocol, new RelationCache(new CatalogTypeNames(c)), 10, spool).feed(messages).events().get(0);
        assertThat((byte[]) e.after().get("raw")).containsExactly(0x00, 0xff);
    }

    @Test
    void originAndTypeMessages() throws SQLException {
        exec("CREATE TYPE mood AS ENUM ('sad', 'happy')");
        exec("CREATE TABLE moods (id int PRIMARY KEY, m mood)");
        String slot = slot();
        exec("SELECT pg_replication_origin_create('upstream_a')");
        try {
            exec("SELECT pg_replication_origin_session_setup('upstream_a')");
            exec("BEGIN; SELECT pg_replication_origin_xact_setup('0/ABCDEF', now()); INSERT INTO moods VALUES (1, 'happy'); COMMIT");
            exec("SELECT pg_replication_origin_session_reset()");
        } finally {
            exec("SELECT pg_replication_origin_drop('upstream_a')");
        }

        List<Wal.Message> messages = Wal.withoutEmptyTransactions(Wal.read(c, slot, Wal.options(protocol)));
        PgOutputDecoder decoder = new PgOutputDecoder(protocol);
        List<PgOutputMessage> decoded = new ArrayList<>();
        for (Wal.Message m : messages) {
            decoded.add(decoder.decode(m.buffer(), m.lsn()));
        }
        assertThat(decoded).extracting(PgOutputMessage::type).containsExactly('B', 'O', 'Y', 'R', 'I', 'C');
        PgOutputMessage.Origin origin = (PgOutputMessage.Origin) decoded.get(1);
        assertThat(origin.name()).isEqualTo("upstream_a");
        assertThat(origin.commitLsn()).isEqualTo(LogSequenceNumber.valueOf("0/ABCDEF").asLong());
        PgOutputMessage.Type type = (PgOutputMessage.Type) decoded.get(2);
        assertThat(type.namespace()).isEqualTo("public");
        assertThat(type.name()).isEqualTo("mood");
        assertThat(type.oid()).isEqualTo(Integer.parseInt(scalar("SELECT 'mood'::regtype::oid::text")));
        PgOutputMessage.Relation relation = (PgOutputMessage.Relation) decoded.get(3);
        assertThat(relation.replicaIdentity()).isEqualTo('d');
        assertThat(relation.columns()).containsExactly(new PgOutputMessage.RelationColumn(1, "id", 23, -1),
                new PgOutputMessage.RelationColumn(0, "m", type.oid(), -1));

        Wal.Assembled a = new Wal.Assembled(protocol, new RelationCache(new CatalogTypeNames(c)), 10, spool).feed(messages);
        assertThat(a.parts).singleElement().satisfies(p -> assertThat(p.origin()).isEqualTo(origin));
        assertThat(a.events().get(0).table().columns().get(1).typeName()).isEqualTo("public.mood");
        assertThat(a.events().get(0).table().columns().get(1).baseTypeName()).isEqualTo("text");
    }

    @Test
    void unknownMessageTypeNamesTheByteAndTheLsn() {
        long lsn = LogSequenceNumber.valueOf("16/B374D848").asLong();
        assertThatThrownBy(() -> new PgOutputDecoder(4).decode(ByteBuffer.wrap(new byte[] {'Z', 0, 1}), lsn))
                .isInstanceOf(PgOutputException.class)
                .hasMessageContaining("0x5a")
                .hasMessageContaining("16/B374D848");
        assertThatThrownBy(() -> new PgOutputDecoder(4).decode(ByteBuffer.wrap(new byte[] {(byte) 0xf1}), 0))
                .hasMessageContaining("0xf1");
    }

    @Test
    void truncatedAndOverlongMessagesFail() {
        ByteBuffer begin = ByteBuffer.allocate(21).put((byte) 'B').putLong(100).putLong(0).putInt(7);
        assertThat(new PgOutputDecoder(1).decode(begin.flip(), 0))
                .isEqualTo(new PgOutputMessage.Begin(100, OffsetDateTime.of(2000, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC), 7));
        assertThat(begin.hasRemaining()).isFalse();

        ByteBuffer truncated = ByteBuffer.wrap(new byte[] {'B', 0, 0, 0});
        assertThatThrownBy(() -> new PgOutputDecoder(1).decode(truncated, 0)).hasMessageContaining("truncated pgoutput 'B'");
        ByteBuffer overlong = ByteBuffer.allocate(22).put((byte) 'B').putLong(100).putLong(0).putInt(7).put((byte) 1).flip();
        assertThatThrownBy(() -> new PgOutputDecoder(1).decode(overlong, 0)).hasMessageContaining("1 unexpected bytes");
    }

    @Test
    void streamingMessagesNeedProtocolTwo() {
        ByteBuffer start = ByteBuffer.allocate(6).put((byte) 'S').putInt(5).put((byte) 1).flip();
        assertThatThrownBy(() -> new PgOutputDecoder(1).decode(start, 0)).hasMessageContaining("needs protocol version 2");
        PgOutputDecoder v2 = new PgOutputDecoder(2);
        assertThat(v2.decode(start.rewind(), 0)).isEqualTo(new PgOutputMessage.StreamStart(5, true));
        assertThat(v2.inStreamBlock()).isTrue();
        // inside the block, change messages carry the xid
        ByteBuffer insert = ByteBuffer.allocate(19).put((byte) 'I').putInt(6).putInt(1234).put((byte) 'N')
                .putShort((short) 2).put((byte) 'n').put((byte) 't').putInt(1).put((byte) 'x').flip();
        PgOutputMessage.Insert decoded = (PgOutputMessage.Insert) v2.decode(insert, 0);
        assertThat(decoded.xid()).isEqualTo(6);
        assertThat(decoded.relationOid()).isEqualTo(1234);
        assertThat(decoded.newTuple().values()).containsExactly(null, "x");
        v2.decode(ByteBuffer.wrap(new byte[] {'E'}), 0);
        assertThat(v2.inStreamBlock()).isFalse();
    }

    /** The test server runs without max_prepared_transactions, so the two-phase layout is checked on built bytes. */
    @Test
    void twoPhaseMessagesDecodeButAreNotAssembled() {
        ByteBuffer commitPrepared = ByteBuffer.allocate(1 + 1 + 8 + 8 + 8 + 4 + 4).put((byte) 'K').put((byte) 0).putLong(10).putLong(20)
                .putLong(1_000_000).putInt(9).put("gid".getBytes(StandardCharsets.UTF_8)).put((byte) 0).flip();
        assertThatThrownBy(() -> new PgOutputDecoder(2).decode(commitPrepared, 0)).hasMessageContaining("needs protocol version 3");
        assertThat(new PgOutputDecoder(3).decode(commitPrepared.rewind(), 0)).isEqualTo(new PgOutputMessage.CommitPrepared(0, 10, 20,
                OffsetDateTime.of(2000, 1, 1, 0, 0, 1, 0, ZoneOffset.UTC), 9, "gid"));
        TransactionAssembler assembler = new TransactionAssembler(3, new RelationCache(new CatalogTypeNames(c)), 10, spool, p -> { }, null);
        assertThatThrownBy(() -> assembler.accept(commitPrepared.rewind(), 0)).hasMessageContaining("two_phase");
    }

    @Test
    void timestampsBeforeThePostgresEpoch() {
        assertThat(PgOutputDecoder.time(-1)).isEqualTo(OffsetDateTime.of(1999, 12, 31, 23, 59, 59, 999_999_000, ZoneOffset.UTC));
        assertThat(PgOutputDecoder.time(1_500_000)).isEqualTo(OffsetDateTime.of(2000, 1, 1, 0, 0, 1, 500_000_000, ZoneOffset.UTC));
    }

    @Test
    void assemblerRejectsWhatTheProtocolForbids() {
        TransactionAssembler assembler = new TransactionAssembler(4, new RelationCache(new CatalogTypeNames(c)), 10, spool, p -> { }, null);
        ByteBuffer insert = ByteBuffer.allocate(14).put((byte) 'I').putInt(1234).put((byte) 'N')
                .putShort((short) 1).put((byte) 't').putInt(1).put((byte) 'x').flip();
        assertThatThrownBy(() -> assembler.accept(insert, 0)).hasMessageContaining("before any Relation message");
        ByteBuffer begin = ByteBuffer.allocate(21).put((byte) 'B').putLong(100).putLong(0).putInt(7).flip();
        assembler.accept(begin, 0);
        assertThatThrownBy(() -> assembler.accept(begin.rewind(), 0)).hasMessageContaining("Begin of transaction 7 inside transaction 7");
    }

    private static String slot() throws SQLException {
        return db.slot();
    }

    private static String scalar(String query) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(query)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static void exec(String statement) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }
}
