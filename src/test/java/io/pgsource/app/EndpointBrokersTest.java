package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.pgsource.sink.endpoint.EndpointSink;
import io.pgsource.state.FilePositionStore;
import io.pgsource.state.Positions;
import io.pgsource.testsupport.TcpProxy;
import io.pgsource.testsupport.TestPostgres;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * destination=endpoint against real brokers, through Camel's own components: NATS JetStream (camel-nats) on
 * 127.0.0.1:4222 and RabbitMQ (camel-spring-rabbitmq) on 127.0.0.1:5672, guest/guest. Each test skips with a message
 * where its broker is not running. What the broker holds is read back with the broker's own client and replayed per key
 * (repeats dropped by the PgSourcePosition header): it must equal the source table. With the broker unreachable for a
 * while (a proxy between pgsource and the broker is cut), nothing past what the broker holds is stored as applied or
 * acknowledged on the slot, and nothing is lost once it is back.
 */
class EndpointBrokersTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TestPostgres pg;

    @TempDir
    Path dir;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** A message read back from a broker: its body and the headers pgsource set. */
    private record Received(String body, String table, String op, String key, String position) {
    }

    private static final String SOURCE = """
            CREATE SCHEMA shop;
            CREATE TABLE shop.orders (id bigint PRIMARY KEY, item text, qty int);
            CREATE TABLE shop.notes (id int PRIMARY KEY, body text);
            INSERT INTO shop.orders SELECT g, 'item ' || g, g % 5 FROM generate_series(1, 40) g;
            INSERT INTO shop.notes VALUES (1, 'first'), (2, 'second');
            """;

    private static final String CHANGES = """
            INSERT INTO shop.orders SELECT g, 'new ' || g, 1 FROM generate_series(41, 60) g;
            UPDATE shop.orders SET qty = qty + 10 WHERE id % 3 = 0;
            UPDATE shop.orders SET item = 'twice ' || id WHERE id <= 30;
            UPDATE shop.orders SET qty = qty * 2 WHERE id <= 30;
            UPDATE shop.orders SET item = item || ' and again' WHERE id <= 30;
            DELETE FROM shop.orders WHERE id % 7 = 0;
            UPDATE shop.orders SET id = id + 1000 WHERE id BETWEEN 10 AND 12;
            TRUNCATE shop.notes;
            INSERT INTO shop.notes VALUES (3, 'after the truncate');
            """;

    private Map<String, String> env(String source, String slot, String uri, String format) {
        Map<String, String> env = SourceFixture.env(pg, source, "shop");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SOURCE_MAX_RECONNECT_DELAY", "2s");
        env.put("DESTINATION", "endpoint");
        env.put("DESTINATION_URI", uri);
        env.put("DESTINATION_FORMAT", format);
        env.put("DESTINATION_DIRECTORY", dir.toString());
        return env;
    }

    /**
     * The table as the messages make it: each change replayed in the order the broker holds them, repeats dropped as the
     * README tells consumers to: in log replication, a change at or below the highest position processed for its key,
     * or at or below the table's last truncate, is a repeat (messages of different keys may come out of order).
     */
    private static Map<String, String> replay(List<Received> messages, String table) throws IOException {
        Map<String, String> rows = new TreeMap<>();
        Map<String, String> highest = new HashMap<>();
        String truncated = "";
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Received m : messages) {
            if (!m.table().equals(table)) {
                continue;
            }
            if (m.position().matches("[0-9A-F]{16}:[0-9]{10}")) {
                if (m.position().compareTo(truncated) <= 0
                        || !m.op().equals("t") && m.position().compareTo(highest.getOrDefault(m.key(), "")) <= 0) {
                    // a repeat that at-least-once allows; one never seen before came after a later change of its key
                    assertThat(seen).as("%s of %s (key %s) came after a later change of its key or table", m.position(), table, m.key())
                            .contains(m.position());
                    continue;
                }
                seen.add(m.position());
                if (m.op().equals("t")) {
                    truncated = m.position();
                } else {
                    highest.put(m.key(), m.position());
                }
            }
            JsonNode body = JSON.readTree(m.body());
            switch (m.op()) {
                case "r", "c", "u" -> {
                    if (body.has("before") && !body.get("before").isNull() && body.get("before").has("id")) {
                        rows.remove(key(body.get("before")));
                    }
                    rows.put(key(body.get("after")), body.get("after").toString());
                }
                case "d" -> rows.remove(key(body.get("before")));
                case "t" -> rows.clear();
                default -> throw new IllegalStateException(m.op());
            }
        }
        return rows;
    }

    private static String key(JsonNode row) {
        return String.format("%012d", row.get("id").asLong());
    }

    /** The source table as JSON rows, keyed as {@link #replay} keys them. */
    private static Map<String, String> source(String db, String table) throws Exception {
        Map<String, String> rows = new TreeMap<>();
        for (String json : SourceFixture.query(pg, db, "SELECT row_to_json(t)::text FROM shop." + table + " t")) {
            JsonNode row = JSON.readTree(json);
            rows.put(key(row), row.toString());
        }
        return rows;
    }

    private static void assertSame(String db, Supplier<List<Received>> messages) throws Exception {
        for (String table : List.of("orders", "notes")) {
            assertThat(replay(messages.get(), table)).as("shop." + table + " replayed from the broker").isEqualTo(source(db, table));
        }
    }

    /** Waits (at most a minute) until the broker's messages replay to the source's tables. */
    private static void awaitSame(String db, Supplier<List<Received>> messages) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            List<Received> now = messages.get();
            if (replay(now, "orders").equals(source(db, "orders")) && replay(now, "notes").equals(source(db, "notes"))) {
                return;
            }
            Thread.sleep(200);
        }
        assertSame(db, messages);
    }

    // ---------------------------------------------------------------- NATS JetStream

    /** A JetStream stream of its own for a test, taking in {@code <prefix>.>}; deleted afterwards. */
    private static final class NatsStream implements AutoCloseable {
        final String prefix = "pgsrc" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        final String name = prefix.toUpperCase();
        final Connection nats;
        final JetStreamManagement jsm;

        NatsStream() throws Exception {
            nats = Nats.connect("nats://127.0.0.1:4222");
            jsm = nats.jetStreamManagement();
            jsm.addStream(StreamConfiguration.builder().name(name).subjects(prefix + ".>").storageType(StorageType.Memory).build());
        }

        List<Received> read() {
            try {
                long count = jsm.getStreamInfo(name).getStreamState().getMsgCount();
                List<Received> out = new ArrayList<>();
                for (long seq = 1; seq <= count; seq++) {
                    MessageInfo m = jsm.getMessage(name, seq);
                    out.add(new Received(new String(m.getData(), StandardCharsets.UTF_8), m.getHeaders().getFirst(EndpointSink.TABLE),
                            m.getHeaders().getFirst(EndpointSink.OP), m.getHeaders().getFirst(EndpointSink.KEY),
                            m.getHeaders().getFirst(EndpointSink.POSITION)));
                }
                return out;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() throws Exception {
            try {
                jsm.deleteStream(name);
            } finally {
                nats.close();
            }
        }
    }

    @Test
    void natsJetStreamGetsEveryChangeOneMessageEachWithItsKeyAndPosition() throws Exception {
        assumeTrue(listening(4222), "NATS is not running on 127.0.0.1:4222 (start nats-server -js to run this test)");
        String source = pg.createDatabase("ep_nats");
        SourceFixture.execute(pg, source, SOURCE);
        try (NatsStream stream = new NatsStream()) {
            Map<String, String> env = env(source, "ep_nats", "nats:" + stream.prefix + ".${schema}.${table}?servers=127.0.0.1:4222"
                    + "&jetstreamEnabled=true&requestTimeout=3000", "pgsource");
            assertThat(PgSourceMain.run(env, new Properties())).isZero();
            List<Received> copied = stream.read();
            // a copy of each table: a truncate, then each row read
            assertThat(copied).extracting(Received::op).hasSize(44).containsOnly("t", "r").filteredOn("t"::equals).hasSize(2);
            // each row's key header is its primary key (rows of a copy come in any order: they go on lanes side by side)
            assertThat(copied).filteredOn(m -> m.op().equals("r") && m.table().equals("orders")).hasSize(40)
                    .allSatisfy(m -> assertThat(m.key()).isEqualTo("{\"id\":" + JSON.readTree(m.body()).get("after").get("id") + "}"));
            // a truncate goes alone: the copy's truncate of a table comes before its rows
            assertThat(copied.get(0).op()).isEqualTo("t");

            SourceFixture.execute(pg, source, CHANGES);
            assertThat(PgSourceMain.run(env, new Properties())).isZero();
            assertSame(source, stream::read);
            List<Received> all = stream.read();
            List<Received> streamed = all.subList(44, all.size());
            // sent on lanes side by side: the order per key (and of each table's truncates) is the source's
            Map<String, List<String>> perKey = new HashMap<>();
            streamed.forEach(m -> perKey.computeIfAbsent(m.table() + " " + m.key(), k -> new ArrayList<>()).add(m.position()));
            assertThat(perKey.values()).allSatisfy(positions -> assertThat(positions).isSorted().doesNotHaveDuplicates());
            assertThat(streamed).extracting(Received::op).contains("c", "u", "d", "t");
            // a third run has nothing new: the stored position covers everything sent
            assertThat(PgSourceMain.run(env, new Properties())).isZero();
            assertThat(stream.read()).hasSize(all.size());
        }
    }

    @Test
    void natsUnreachableForAWhileAcknowledgesNothingItDoesNotHoldAndLosesNothing() throws Exception {
        assumeTrue(listening(4222), "NATS is not running on 127.0.0.1:4222 (start nats-server -js to run this test)");
        String source = pg.createDatabase("ep_nats_out");
        SourceFixture.execute(pg, source, SOURCE);
        try (NatsStream stream = new NatsStream(); TcpProxy proxy = TcpProxy.start("127.0.0.1", 4222)) {
            Map<String, String> env = env(source, "ep_nats_out", "nats:" + stream.prefix + ".${schema}.${table}?servers=127.0.0.1:"
                    + proxy.port() + "&jetstreamEnabled=true&requestTimeout=5000&reconnectTimeWait=200&maxReconnectAttempts=-1",
                    "debezium");
            outage(source, "ep_nats_out", env, proxy, stream::read);
            Received update = stream.read().stream().filter(m -> m.op().equals("u")).findFirst().orElseThrow();
            JsonNode event = JSON.readTree(update.body());
            assertThat(event.get("op").asText()).isEqualTo("u");
            assertThat(event.get("source").get("connector").asText()).isEqualTo("postgresql");
            assertThat(event.get("source").get("table").asText()).isEqualTo("orders");
            assertThat(event.get("source").get("lsn").isNumber()).isTrue();
            assertThat(event.get("source").get("snapshot").asText()).isEqualTo("false");
            assertThat(event.get("after").get("id").isNumber()).isTrue();
        }
    }

    // ---------------------------------------------------------------- RabbitMQ

    /** A durable queue per table of its own on the default exchange; deleted afterwards. */
    private static final class RabbitQueues implements AutoCloseable {
        final String prefix = "pgsrc_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        final com.rabbitmq.client.Connection rabbit;
        final Channel channel;
        final List<Received> received = new ArrayList<>();

        RabbitQueues() throws Exception {
            ConnectionFactory f = new ConnectionFactory();
            f.setHost("127.0.0.1");
            f.setPort(5672);
            f.setUsername("guest");
            f.setPassword("guest");
            rabbit = f.newConnection();
            channel = rabbit.createChannel();
            for (String table : List.of("orders", "notes")) {
                channel.queueDeclare(prefix + "_" + table, true, false, false, null);
            }
        }

        /** Everything received so far (messages are taken off the queues as they are read). */
        synchronized List<Received> read() {
            try {
                for (String table : List.of("orders", "notes")) {
                    GetResponse r;
                    while ((r = channel.basicGet(prefix + "_" + table, true)) != null) {
                        Map<String, Object> h = r.getProps().getHeaders();
                        received.add(new Received(new String(r.getBody(), StandardCharsets.UTF_8), String.valueOf(h.get(EndpointSink.TABLE)),
                                String.valueOf(h.get(EndpointSink.OP)), String.valueOf(h.get(EndpointSink.KEY)),
                                String.valueOf(h.get(EndpointSink.POSITION))));
                    }
                }
                return new ArrayList<>(received);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() throws Exception {
            for (String table : List.of("orders", "notes")) {
                channel.queueDelete(prefix + "_" + table);
            }
            rabbit.close();
        }
    }

    /** Camel's spring-rabbitmq component, with a connection factory that waits for publisher confirms. */
    private static Properties rabbit(int port) {
        Properties p = new Properties();
        p.setProperty("camel.beans.rabbit", "#class:org.springframework.amqp.rabbit.connection.CachingConnectionFactory");
        p.setProperty("camel.beans.rabbit.host", "127.0.0.1");
        p.setProperty("camel.beans.rabbit.port", Integer.toString(port));
        p.setProperty("camel.beans.rabbit.username", "guest");
        p.setProperty("camel.beans.rabbit.password", "guest");
        p.setProperty("camel.beans.rabbit.publisherConfirmType", "SIMPLE");
        p.setProperty("camel.component.spring-rabbitmq.connection-factory", "#rabbit");
        return p;
    }

    @Test
    void rabbitMqWithPublisherConfirmsGetsEveryChangeAndSurvivesAnOutage() throws Exception {
        assumeTrue(listening(5672), "RabbitMQ is not running on 127.0.0.1:5672 (guest/guest) to run this test");
        String source = pg.createDatabase("ep_rabbit");
        SourceFixture.execute(pg, source, SOURCE);
        try (RabbitQueues queues = new RabbitQueues(); TcpProxy proxy = TcpProxy.start("127.0.0.1", 5672)) {
            Map<String, String> env = env(source, "ep_rabbit", "spring-rabbitmq:default?routingKey=" + queues.prefix
                    + "_${table}&confirm=enabled&confirmTimeout=2000", "pgsource");
            outage(source, "ep_rabbit", env, proxy, queues::read, rabbit(proxy.port()));
        }
    }

    private void outage(String source, String slot, Map<String, String> env, TcpProxy proxy, Supplier<List<Received>> broker)
            throws Exception {
        outage(source, slot, env, proxy, broker, new Properties());
    }

    /**
     * The copy, then changes while pgsource streams; the proxy to the broker cut while more changes come, then restored.
     * While it is cut, neither the stored position nor the slot passes what the broker holds; after, every change is there.
     */
    private void outage(String source, String slot, Map<String, String> env, TcpProxy proxy, Supplier<List<Received>> broker,
            Properties camel) throws Exception {
        assertThat(PgSourceMain.run(env, camel)).as("the copy").isZero();
        assertSame(source, broker);
        Map<String, String> streaming = new HashMap<>(env);
        streaming.put("SYNC_ONCE", "false");
        ExecutorService thread = Executors.newSingleThreadExecutor();
        Future<Integer> exit = thread.submit(() -> PgSourceMain.run(streaming, camel));
        try {
            SourceFixture.execute(pg, source, "INSERT INTO shop.orders SELECT g, 'streamed ' || g, 2 FROM generate_series(100, 110) g");
            awaitSame(source, broker);

            proxy.cut();
            String before = SourceFixture.query(pg, source, "SELECT pg_current_wal_lsn()::text").get(0);
            SourceFixture.execute(pg, source, CHANGES);
            Thread.sleep(3000);
            int held = broker.get().size();
            String stored = new FilePositionStore(dir.resolve(EndpointSink.POSITIONS_FILE)).load("slot:" + slot).orElseThrow();
            assertThat(Long.compareUnsigned(Positions.parseLsn(stored), Positions.parseLsn(before)))
                    .as("stored position %s, not past %s (the WAL end before the changes the broker cannot have)", stored, before)
                    .isLessThanOrEqualTo(0);
            // the slot still gives the changes' transaction: a copy of it decodes that transaction again (its confirmed
            // position may pass the WAL end read above by a keepalive, into the transaction, never past its commit)
            String changes = SourceFixture.query(pg, source, "SELECT xmin::text FROM shop.notes WHERE id = 3").get(0);
            String copy = slot + "_check";
            SourceFixture.query(pg, source, "SELECT 1 FROM pg_copy_logical_replication_slot('" + slot + "', '" + copy + "')");
            try {
                assertThat(SourceFixture.query(pg, source, "SELECT DISTINCT xid::text FROM pg_logical_slot_peek_binary_changes('" + copy
                        + "', NULL, NULL, 'proto_version', '1', 'publication_names', '" + slot + "_pub')"))
                        .as("transactions the slot would send again").contains(changes);
            } finally {
                SourceFixture.query(pg, source, "SELECT 1 FROM pg_drop_replication_slot('" + copy + "')");
            }

            proxy.restore();
            awaitSame(source, broker);
            assertThat(broker.get().size()).as("the changes made while the broker was unreachable arrived").isGreaterThan(held);
        } finally {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!exit.isDone() && !PgSourceMain.stopRunning("the test") && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(exit.get(60, TimeUnit.SECONDS)).isZero();
            thread.shutdownNow();
        }
        assertSame(source, broker);
    }
}
