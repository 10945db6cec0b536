package io.pgsource.testsupport;

import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.Assumptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The Kafka broker the kafka destination's tests talk to: one per test JVM, resolved once, in this order: the broker
 * named by {@code PGSOURCE_TEST_KAFKA} (bootstrap servers), else Testcontainers' {@code apache/kafka} when Docker is
 * available, else a single-node KRaft broker (broker and controller in one process) started here as a child JVM from
 * the {@code org.apache.kafka:kafka_2.13} jars on the test classpath: its own log directory, free ports, a small heap,
 * every internal topic with one replica. It is killed when the test JVM ends.
 *
 * <p>Tests call {@link #get()}: when no broker can be had, the test is skipped (JUnit assumption) with the reason.
 */
public final class KafkaBroker {
    /** Environment variable naming an existing broker (bootstrap servers, e.g. {@code 127.0.0.1:9092}). */
    public static final String BOOTSTRAP_ENV = "PGSOURCE_TEST_KAFKA";
    private static final Logger LOG = LoggerFactory.getLogger(KafkaBroker.class);
    private static final Duration START = Duration.ofSeconds(60);
    private static KafkaBroker broker;
    private static String unavailable;

    private final String bootstrapServers;
    private final String origin;

    private KafkaBroker(String bootstrapServers, String origin) {
        this.bootstrapServers = bootstrapServers;
        this.origin = origin;
    }

    /** The broker of this JVM, started on first use; skips the calling test when none can be started. */
    public static synchronized KafkaBroker get() {
        if (broker == null && unavailable == null) {
            try {
                broker = resolve();
                LOG.info("Kafka broker for the tests: {} ({})", broker.bootstrapServers, broker.origin);
            } catch (Exception e) {
                unavailable = e.getMessage();
                LOG.warn("no Kafka broker for the tests: {}", unavailable, e);
            }
        }
        Assumptions.assumeTrue(broker != null, () -> "no Kafka broker for the tests (" + unavailable + "): set "
                + BOOTSTRAP_ENV + " to a broker's bootstrap servers, or let the tests start one (org.apache.kafka:kafka_2.13 on the test classpath)");
        return broker;
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** An admin client of the broker (the caller closes it). */
    public Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000));
    }

    /** A record read back: its topic, partition, key and value (UTF-8 text). */
    public record Message(String topic, int partition, String key, String value) {
    }

    /**
     * Every record of the topics that a read_committed consumer sees (committed transactions only), in offset order per
     * partition, read up to the end of each partition at the time of the call. Topics that do not exist are empty.
     */
    public List<Message> readCommitted(List<String> topics) {
        List<Message> out = new ArrayList<>();
        try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<String, String>(Map.of(
                org.apache.kafka.clients.consumer.ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                org.apache.kafka.clients.consumer.ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                org.apache.kafka.clients.consumer.ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new org.apache.kafka.common.serialization.StringDeserializer(), new org.apache.kafka.common.serialization.StringDeserializer())) {
            List<org.apache.kafka.common.TopicPartition> partitions = new ArrayList<>();
            var existing = consumer.listTopics(Duration.ofSeconds(30));
            for (String topic : topics) {
                for (var p : existing.getOrDefault(topic, List.of())) {
                    partitions.add(new org.apache.kafka.common.TopicPartition(topic, p.partition()));
                }
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<org.apache.kafka.common.TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("cannot read " + topics + " to their end within 60 s");
                }
                consumer.poll(Duration.ofMillis(200)).forEach(r -> out.add(new Message(r.topic(), r.partition(), r.key(), r.value())));
            }
        }
        return out;
    }

    private static KafkaBroker resolve() throws Exception {
        String given = System.getenv(BOOTSTRAP_ENV);
        if (given != null && !given.isBlank()) {
            return new KafkaBroker(given.strip(), BOOTSTRAP_ENV);
        }
        if (dockerAvailable()) {
            KafkaContainer container = new KafkaContainer("apache/kafka:4.1.1");
            container.start();
            Runtime.getRuntime().addShutdownHook(new Thread(container::stop, "kafka-container-stop"));
            return new KafkaBroker(container.getBootstrapServers(), "Testcontainers apache/kafka:4.1.1");
        }
        return childJvm();
    }

    private static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (Throwable e) {
            return false;
        }
    }

    /** Formats a log directory and starts {@code kafka.Kafka} on it in a child JVM; returns once the broker answers. */
    private static KafkaBroker childJvm() throws Exception {
        Path dir = Files.createTempDirectory("pgsource-kafka-");
        int brokerPort = freePort();
        int controllerPort = freePort();
        Path logs = dir.resolve("data");
        Properties p = new Properties();
        p.setProperty("process.roles", "broker,controller");
        p.setProperty("node.id", "1");
        p.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        p.setProperty("controller.listener.names", "CONTROLLER");
        p.setProperty("inter.broker.listener.name", "PLAINTEXT");
        p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.setProperty("log.dirs", logs.toString());
        p.setProperty("num.partitions", "1");
        // one node: every internal topic with one replica, and few partitions (each costs start time)
        p.setProperty("offsets.topic.replication.factor", "1");
        p.setProperty("offsets.topic.num.partitions", "1");
        p.setProperty("transaction.state.log.replication.factor", "1");
        p.setProperty("transaction.state.log.min.isr", "1");
        p.setProperty("transaction.state.log.num.partitions", "1");
        p.setProperty("share.coordinator.state.topic.replication.factor", "1");
        p.setProperty("share.coordinator.state.topic.min.isr", "1");
        p.setProperty("group.initial.rebalance.delay.ms", "0");
        p.setProperty("num.network.threads", "2");
        p.setProperty("num.io.threads", "2");
        p.setProperty("log.cleaner.threads", "1");
        Path config = dir.resolve("server.properties");
        try (var out = Files.newBufferedWriter(config, StandardCharsets.UTF_8)) {
            p.store(out, "single-node KRaft broker of pgsource's tests");
        }
        Path logback = dir.resolve("logback.xml");
        Files.writeString(logback, """
                <configuration>
                  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
                    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{30} - %msg%n</pattern></encoder>
                  </appender>
                  <logger name="kafka.server.KafkaRaftServer" level="INFO"/>
                  <root level="WARN"><appender-ref ref="OUT"/></root>
                </configuration>
                """);

        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xms128m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-Dlogback.configurationFile=" + logback, "-cp", System.getProperty("java.class.path"),
                Launcher.class.getName(), Uuid.randomUuid().toString(), config.toString()));
        KafkaBroker started = new KafkaBroker("127.0.0.1:" + brokerPort, "child JVM, log " + dir.resolve("broker.log"));
        started.child = new Child(command, dir);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            started.child.kill();
            deleteQuietly(dir);
        }, "kafka-broker-stop"));
        started.child.start(started.bootstrapServers);
        return started;
    }

    /**
     * A broker of the caller's own, in a child JVM (never Testcontainers or PGSOURCE_TEST_KAFKA), which it may kill and
     * start again on the same ports and data: for outage tests. Skips the calling test when it cannot be started.
     */
    public static KafkaBroker startOwn() {
        try {
            return childJvm();
        } catch (Exception e) {
            Assumptions.abort("no Kafka broker of its own for this test (" + e.getMessage() + ")");
            return null;
        }
    }

    /** SIGKILL of a broker started as a child JVM (its data stays). */
    public void kill() {
        requireChild().kill();
    }

    /** Starts a killed broker again, on its ports and data; returns once it answers. */
    public void restart() throws Exception {
        requireChild().start(bootstrapServers);
    }

    private Child requireChild() {
        if (child == null) {
            throw new IllegalStateException("the broker " + bootstrapServers + " (" + origin + ") is not a child JVM of the tests");
        }
        return child;
    }

    private Child child;

    /** The child JVM of a broker: its command (format if needed, then run) and directory. */
    private static final class Child {
        private final List<String> command;
        private final Path dir;
        private Process process;
        private int starts;

        Child(List<String> command, Path dir) {
            this.command = command;
            this.dir = dir;
        }

        synchronized void start(String bootstrapServers) throws Exception {
            Path log = dir.resolve(starts++ == 0 ? "broker.log" : "broker-" + starts + ".log");
            process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            long end = System.nanoTime() + START.toNanos();
            while (true) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("the test broker ended (exit " + process.exitValue() + ") before it answered: "
                            + PgSourceProcess.tail(log, 15));
                }
                try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                        AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000, AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 2_000))) {
                    if (!admin.describeCluster().nodes().get(2, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (Exception e) {
                    // not up yet
                }
                if (System.nanoTime() > end) {
                    process.destroyForcibly();
                    throw new IllegalStateException("the test broker did not answer within " + START + ": " + PgSourceProcess.tail(log, 15));
                }
                Thread.sleep(200);
            }
        }

        synchronized void kill() {
            if (process != null) {
                process.destroyForcibly();
                try {
                    process.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            // a temp directory; the OS cleans it eventually
        }
    }

    /**
     * The child JVM's main: formats the log directory ({@code kafka-storage.sh format}) and runs the broker
     * ({@code kafka-server-start.sh}).
     */
    public static final class Launcher {
        private Launcher() {
        }

        public static void main(String[] args) {
            String clusterId = args[0];
            String config = args[1];
            int formatted = kafka.tools.StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", config, "--ignore-formatted"},
                    new PrintStream(System.out, true, StandardCharsets.UTF_8));
            if (formatted != 0) {
                System.err.println("kafka-storage format failed: exit " + formatted);
                System.exit(formatted);
            }
            kafka.Kafka.main(new String[] {config});
        }
    }
}
