package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.testsupport.KafkaBroker;
import io.pgsource.testsupport.KafkaBroker.Message;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The packaged jar streaming LOG_BASED into Kafka is killed with SIGKILL mid-stream, twice, while a writer keeps inserting
 * rows and incrementing a counter in them, the second time while a transaction of 3,000 changes (which arrives in parts of
 * 500) is half written: as soon as the position Kafka holds is one of its parts ({@code X/X#n}). Restarted each time. Every change is identifiable: row id and the counter's value after it. A read_committed
 * consumer must then see, for every row, exactly the counter values 0, 1, 2, ... up to the source's, each once and in
 * that order: nothing lost, nothing twice, order per key kept. The same holds when the broker (one of the test's own) is
 * killed with SIGKILL mid-stream and started again 5 s later, while pgsource keeps running.
 */
class KafkaCrashRecoveryIT {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaCrashRecoveryIT.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration START = Duration.ofSeconds(120);

    private final TestPostgres pg = TestPostgres.server();
    private final long seed = System.nanoTime();
    private final Random random = new Random(seed);

    @Test
    void killedMidStreamAReadCommittedConsumerSeesEveryChangeExactlyOnceInKeyOrder() throws Exception {
        KafkaBroker kafka = KafkaBroker.get();
        String source = pg.createDatabase("kafka_crash_src");
        SourceFixture.execute(pg, source, "CREATE TABLE public.counters (id int PRIMARY KEY, n int NOT NULL, pad text)");
        String slot = "kafka_crash_" + ProcessHandle.current().pid();
        String prefix = "crash" + seed;
        String topic = prefix + ".public.counters";
        Map<String, String> env = env(source, slot, kafka, prefix);
        Path work = Files.createDirectories(Path.of("target", "it-work", "crash-kafka-" + seed).toAbsolutePath());
        Writer writer = new Writer(source);
        try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);
            writer.start();
            for (int round = 1; round <= 2; round++) {
                if (round == 2) {
                    writer.bigTransaction();
                    // killed as soon as Kafka holds a part of it as the slot's position (X/X#n): between its parts
                    String positionKey = "pgsource-" + slot + "/slot:" + slot;
                    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                    String latest = "";
                    while (!latest.contains("#") && System.nanoTime() < end) {
                        latest = kafka.readCommitted(List.of(prefix + ".pgsource-positions")).stream()
                                .filter(m -> positionKey.equals(m.key())).reduce((a, b) -> b).map(Message::value).orElse("");
                    }
                    pgsource.kill(latest.contains("#") ? "between the parts of a 3,000-change transaction (Kafka holds " + latest + ")"
                            : "after a 3,000-change transaction (no part of it was seen as the latest position)");
                } else {
                    Thread.sleep(1_000 + random.nextInt(2_000));
                    pgsource.kill("mid-stream, round " + round);
                }
                pgsource.start();
                pgsource.awaitLog("Streaming slot", START);
            }
            verifyExactlyOnce(kafka, topic, writer, pgsource);
            pgsource.deleteWorkDirectory();
        } finally {
            writer.stop();
            SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot('" + slot + "') FROM pg_replication_slots WHERE slot_name = '"
                    + slot + "' AND NOT active");
        }
    }

    @Test
    void theBrokerKilledMidStreamAndStartedAgainNothingIsLostNothingTwice() throws Exception {
        KafkaBroker kafka = KafkaBroker.startOwn();
        String source = pg.createDatabase("kafka_outage_src");
        SourceFixture.execute(pg, source, "CREATE TABLE public.counters (id int PRIMARY KEY, n int NOT NULL, pad text)");
        String slot = "kafka_outage_" + ProcessHandle.current().pid();
        String prefix = "outage" + seed;
        Map<String, String> env = env(source, slot, kafka, prefix);
        env.put("SOURCE_MAX_RECONNECT_DELAY", "2s");
        Path work = Files.createDirectories(Path.of("target", "it-work", "outage-kafka-" + seed).toAbsolutePath());
        Writer writer = new Writer(source);
        try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);
            writer.start();
            Thread.sleep(1_000 + random.nextInt(1_000));
            kafka.kill();
            pgsource.note("broker SIGKILLed");
            Thread.sleep(5_000);
            kafka.restart();
            pgsource.note("broker started again");
            Thread.sleep(1_000);
            verifyExactlyOnce(kafka, prefix + ".public.counters", writer, pgsource);
            assertThat(pgsource.runs()).as("one run of pgsource rode out the outage").isEqualTo(1);
            pgsource.deleteWorkDirectory();
        } finally {
            writer.stop();
            kafka.kill();
            SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot('" + slot + "') FROM pg_replication_slots WHERE slot_name = '"
                    + slot + "' AND NOT active");
        }
    }

    /** The settings of a LOG_BASED run into Kafka, big transactions in parts of 500. */
    private Map<String, String> env(String source, String slot, KafkaBroker kafka, String prefix) {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SOURCE_MAX_BATCH_SIZE", "500");
        env.put("DESTINATION", "kafka");
        env.put("DESTINATION_KAFKA_BROKERS", kafka.bootstrapServers());
        env.put("DESTINATION_KAFKA_TOPIC_PREFIX", prefix);
        return env;
    }

    /**
     * Stops the writer, waits until the topic holds as many changes as the source made, stops pgsource, and checks that
     * every row's counter values are on the topic once each, in order.
     */
    private void verifyExactlyOnce(KafkaBroker kafka, String topic, Writer writer, PgSourceProcess pgsource) throws Exception {
        writer.stop();
        Map<Integer, Integer> counters = writer.counters();
        long expected = counters.values().stream().mapToLong(n -> n + 1L).sum();
        pgsource.await(expected + " changes on " + topic, Duration.ofSeconds(120), () -> changes(kafka, topic).size() >= expected);
        pgsource.stop(Duration.ofSeconds(30));
        pgsource.note(counters.size() + " rows, " + expected + " changes");

        List<Message> changes = changes(kafka, topic);
        Map<Integer, List<Integer>> seen = new TreeMap<>();
        for (Message m : changes) {
            JsonNode after = JSON.readTree(m.value()).get("after");
            seen.computeIfAbsent(after.get("id").asInt(), k -> new ArrayList<>()).add(after.get("n").asInt());
            assertThat(m.key()).isEqualTo("{\"id\":" + after.get("id").asInt() + "}");
        }
        assertThat(seen.keySet()).as("every row, seed %d: %s", seed, pgsource.story()).isEqualTo(counters.keySet());
        for (Map.Entry<Integer, Integer> row : counters.entrySet()) {
            List<Integer> want = new ArrayList<>();
            for (int n = 0; n <= row.getValue(); n++) {
                want.add(n);
            }
            assertThat(seen.get(row.getKey())).as("the changes of row %d, each once and in order (seed %d: %s)", row.getKey(), seed,
                    pgsource.story()).isEqualTo(want);
        }
        assertThat(changes).hasSize((int) expected);
        LOG.info("{} changes of {} rows read exactly once after {}", expected, counters.size(), pgsource.story());
    }

    /** The inserts and updates read back (the copy of the empty table says only 't'). */
    private static List<Message> changes(KafkaBroker kafka, String topic) {
        return kafka.readCommitted(List.of(topic)).stream()
                .filter(m -> m.value().startsWith("{\"op\":\"c\"") || m.value().startsWith("{\"op\":\"u\"")).toList();
    }

    /** Inserts rows (counter 0) and increments the counters of random rows, 20 of each a transaction, until stopped. */
    private final class Writer {
        private final String database;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final Object lock = new Object();
        private Thread thread;
        private int rows;

        Writer(String database) {
            this.database = database;
        }

        void start() {
            thread = new Thread(() -> {
                try (Connection c = pg.connect(database); Statement s = c.createStatement()) {
                    Random r = new Random(seed);
                    while (running.get()) {
                        synchronized (lock) {
                            int from = rows + 1;
                            rows += 20;
                            s.execute("BEGIN; INSERT INTO public.counters SELECT g, 0, repeat('x', 100) FROM generate_series(" + from + ", " + rows
                                    + ") g; UPDATE public.counters SET n = n + 1 WHERE id IN (SELECT 1 + (random() * " + (rows - 1)
                                    + ")::int FROM generate_series(1, 20)); COMMIT");
                        }
                        Thread.sleep(20 + r.nextInt(30));
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            }, "kafka-crash-writer");
            thread.start();
        }

        /** One transaction changing 3,000 rows. */
        void bigTransaction() throws Exception {
            synchronized (lock) {
                try (Connection c = pg.connect(database); Statement s = c.createStatement()) {
                    int from = rows + 1;
                    rows += 1_500;
                    s.execute("BEGIN; INSERT INTO public.counters SELECT g, 0, repeat('y', 100) FROM generate_series(" + from + ", " + rows
                            + ") g; UPDATE public.counters SET n = n + 1 WHERE id > " + (rows - 1_500) + "; COMMIT");
                }
            }
        }

        void stop() throws InterruptedException {
            running.set(false);
            if (thread != null) {
                thread.join(30_000);
            }
            if (failure.get() != null) {
                throw new AssertionError("the writer failed", failure.get());
            }
        }

        Map<Integer, Integer> counters() throws Exception {
            Map<Integer, Integer> out = new HashMap<>();
            try (Connection c = pg.connect(database); Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("SELECT id, n FROM public.counters")) {
                while (rs.next()) {
                    out.put(rs.getInt(1), rs.getInt(2));
                }
            }
            return new TreeMap<>(out);
        }
    }
}
