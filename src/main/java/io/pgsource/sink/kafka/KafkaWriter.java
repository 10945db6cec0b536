package io.pgsource.sink.kafka;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Position;
import io.pgsource.change.Op;
import io.pgsource.config.ConfigurationException;
import io.pgsource.sink.endpoint.EndpointSink;
import io.pgsource.sink.json.ChangeEnvelope;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes batches of changes into Kafka exactly once: each batch is one Kafka transaction holding one record per change,
 * on the topic of its table ({@link KafkaSettings#topic}), and the source position the batch advances to, on the
 * compacted position topic. A consumer reading with {@code isolation.level=read_committed} sees a batch and its position
 * together or not at all; so after a crash pgsource reads the positions back (read_committed) and skips what they cover,
 * and every change is seen exactly once.
 *
 * <p>The producer is idempotent and transactional, with a stable {@code transactional.id}: a restarted pgsource (or one
 * whose producer failed) calls {@code initTransactions}, which fences the producer it replaces and aborts (or completes)
 * that one's open transaction, and only then are the positions read. Any failure of a batch closes the producer; the next
 * batch starts from that step, so what counts as applied is always what Kafka committed.
 *
 * <p>A record's key is the row's primary key as a JSON object ({@code {"id":42}}), null for a table without a key and
 * for a truncate; its value is the {@link ChangeEnvelope} in {@code destination.format}. Records of one key go to one partition, in order. Position
 * records are keyed {@code <transactional.id>/<stream>}, so instances sharing a position topic keep theirs apart.
 *
 * <p>Thread-safe: batches and positions saved outside a batch are written one at a time.
 */
public final class KafkaWriter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaWriter.class);
    private static final JsonFactory JSON = new JsonFactory();
    /** How long the start waits for the brokers to answer before it says they cannot be reached. */
    private static final Duration START_CHECK = Duration.ofSeconds(10);

    private final KafkaSettings settings;
    private final Duration timeout;
    private final String database;
    private final Set<String> topics = new HashSet<>();
    private final Map<String, String> positions = new HashMap<>();
    private Admin admin;
    private KafkaProducer<byte[], byte[]> producer;

    /**
     * @param timeout how long a step that waits for the brokers (a topic's creation, reading the positions) may take
     */
    public KafkaWriter(KafkaSettings settings, Duration timeout) {
        this(settings, timeout, "");
    }

    /** @param database the source database, for the {@code source.db} of Debezium's change events */
    public KafkaWriter(KafkaSettings settings, Duration timeout, String database) {
        this.settings = settings;
        this.timeout = timeout;
        this.database = database;
    }

    public KafkaSettings settings() {
        return settings;
    }

    /**
     * Connects: checks that the brokers answer, creates the position topic when missing, starts the transactional
     * producer (fencing the one it replaces) and reads the positions.
     *
     * @throws ConfigurationException when the brokers cannot be reached or refuse: one line with the cause and the fix
     */
    public synchronized void open() {
        try {
            admin().describeCluster().nodes().get(Math.min(timeout.toMillis(), START_CHECK.toMillis()), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new ConfigurationException("cannot reach Kafka at destination.kafka.brokers=" + settings.brokers() + " ("
                    + cause(e) + "): check the brokers' host:port and that they run, and the destination.kafka.client.* settings"
                    + " (TLS, SASL) they need", e);
        }
        try {
            ready();
        } catch (RuntimeException e) {
            throw new ConfigurationException("cannot start the transactional producer on Kafka at " + settings.brokers() + " ("
                    + cause(e) + "): the brokers must allow transactions (transaction.state.log.* settings) and the user must be"
                    + " allowed to write the topics " + settings.topicPrefix() + ".* and use transactional.id "
                    + settings.transactionalId(), e);
        }
    }

    /** The last position of a stream that Kafka committed, if any. */
    public synchronized Optional<String> position(String stream) {
        ready();
        return Optional.ofNullable(positions.get(stream));
    }

    /** Stores positions alone, in a transaction of their own. */
    public synchronized void savePositions(Map<String, String> saved) {
        write(null, null, saved);
    }

    /**
     * Writes the batch's changes and the positions in one Kafka transaction.
     *
     * @param batch the changes (null or empty: positions alone)
     * @param part  where the batch stands in a transaction that came in parts, or null
     * @param saved the positions to store with them, stream to value
     * @throws KafkaWriteException when Kafka did not commit the transaction: nothing of it counts
     */
    public synchronized void write(ChangeBatch batch, ChangeEnvelope.Part part, Map<String, String> saved) {
        ready();
        try {
            if (batch != null) {
                createTopics(batch);
            }
            producer.beginTransaction();
            if (batch != null) {
                ByteArrayOutputStream buffer = new ByteArrayOutputStream(512);
                long now = System.currentTimeMillis();
                boolean tombstones = settings.format() == EndpointSink.Format.DEBEZIUM;
                for (ChangeEvent e : batch) {
                    String topic = settings.topic(e.tableId());
                    byte[] key = key(e);
                    producer.send(new ProducerRecord<>(topic, key, value(e, batch.position(), part, buffer, now)));
                    if (tombstones && e.op() == Op.DELETE && key != null) {
                        // Debezium's tombstone: log compaction may drop the key's records
                        producer.send(new ProducerRecord<>(topic, key, null));
                    }
                }
            }
            for (Map.Entry<String, String> p : saved.entrySet()) {
                producer.send(new ProducerRecord<>(settings.positionTopic(), positionKey(p.getKey()).getBytes(StandardCharsets.UTF_8),
                        p.getValue().getBytes(StandardCharsets.UTF_8)));
            }
            // flushes every record and fails when one of them failed: then nothing of the transaction is visible
            producer.commitTransaction();
        } catch (RuntimeException | IOException e) {
            discardProducer();
            throw new KafkaWriteException("Kafka did not commit the batch (" + cause(e) + "); it is written again from the last"
                    + " committed position", e);
        }
        positions.putAll(saved);
    }

    /**
     * Forgets the producer and the positions: the next call starts a producer again (fencing any other with the same
     * transactional id) and reads the positions as Kafka holds them (a high-availability takeover).
     */
    public synchronized void refresh() {
        discardProducer();
    }

    @Override
    public synchronized void close() {
        discardProducer();
        if (admin != null) {
            admin.close(Duration.ofSeconds(1));
            admin = null;
        }
    }

    /** Starts the producer when there is none, and reads the positions once it fenced the one before it. */
    private void ready() {
        if (producer != null) {
            return;
        }
        createPositionTopic();
        Map<String, Object> config = clientConfig();
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, settings.transactionalId());
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 5);
        config.putIfAbsent(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        config.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, settings.transactionalId());
        KafkaProducer<byte[], byte[]> started = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
        try {
            // fences the producer this one replaces and ends its open transaction: from now on what Kafka holds is final
            started.initTransactions();
            Map<String, String> read = readPositions();
            positions.clear();
            positions.putAll(read);
        } catch (RuntimeException e) {
            started.close(Duration.ZERO);
            throw e;
        }
        producer = started;
        LOG.info("Kafka at {}: transactional producer {} ready, {} position(s) read from {}", settings.brokers(),
                settings.transactionalId(), positions.size(), settings.positionTopic());
    }

    /** Every committed position of this instance on the position topic, the latest of each stream. */
    private Map<String, String> readPositions() {
        Map<String, Object> config = clientConfig();
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.remove(ConsumerConfig.GROUP_ID_CONFIG);
        Map<String, String> read = new HashMap<>();
        String prefix = positionKey("");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(settings.positionTopic(), timeout)) {
                partitions.add(new TopicPartition(p.topic(), p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            // with read_committed, the end is the last stable offset: everything committed so far
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, timeout);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp, timeout) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new KafkaWriteException("cannot read the positions on " + settings.positionTopic() + " within " + timeout, null);
                }
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.key() != null && r.key().startsWith(prefix)) {
                        if (r.value() == null) {
                            read.remove(r.key().substring(prefix.length()));
                        } else {
                            read.put(r.key().substring(prefix.length()), r.value());
                        }
                    }
                }
            }
        }
        return read;
    }

    private String positionKey(String stream) {
        return settings.transactionalId() + "/" + stream;
    }

    private void createPositionTopic() {
        NewTopic topic = new NewTopic(settings.positionTopic(), Optional.of(1), settings.replicationFactor())
                .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
        create(List.of(topic));
    }

    /** Creates the topics of the batch's tables that this writer has not seen yet (those that exist are left as they are). */
    private void createTopics(ChangeBatch batch) {
        Set<String> missing = new LinkedHashSet<>();
        for (ChangeEvent e : batch) {
            String topic = settings.topic(e.tableId());
            if (!topics.contains(topic)) {
                missing.add(topic);
            }
        }
        if (missing.isEmpty()) {
            return;
        }
        create(missing.stream().map(t -> new NewTopic(t, settings.partitions(), settings.replicationFactor())).toList());
        topics.addAll(missing);
    }

    private void create(List<NewTopic> wanted) {
        var result = admin().createTopics(wanted);
        for (NewTopic t : wanted) {
            try {
                result.values().get(t.name()).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                LOG.info("Created Kafka topic {}", t.name());
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new KafkaWriteException("cannot create the Kafka topic " + t.name() + " (" + cause(e) + "): create it"
                            + " yourself or allow pgsource's user to", e);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KafkaWriteException("interrupted while creating the Kafka topic " + t.name(), e);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new KafkaWriteException("the Kafka topic " + t.name() + " was not created within " + timeout, e);
            }
        }
    }

    private Admin admin() {
        if (admin == null) {
            admin = Admin.create(clientConfig());
        }
        return admin;
    }

    private Map<String, Object> clientConfig() {
        Map<String, Object> config = new HashMap<>(settings.client());
        config.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, settings.brokers());
        return config;
    }

    private void discardProducer() {
        if (producer != null) {
            try {
                // an open transaction is aborted by the next producer's initTransactions (or by the broker's timeout)
                producer.close(Duration.ZERO);
            } catch (RuntimeException e) {
                LOG.debug("closing the Kafka producer", e);
            }
            producer = null;
        }
        positions.clear();
    }

    private static byte[] key(ChangeEvent e) {
        String key = ChangeEnvelope.keyJson(e);
        return key == null ? null : key.getBytes(StandardCharsets.UTF_8);
    }

    private byte[] value(ChangeEvent e, Position position, ChangeEnvelope.Part part, ByteArrayOutputStream buffer, long now) throws IOException {
        if (settings.format() == EndpointSink.Format.DEBEZIUM) {
            return ChangeEnvelope.toDebeziumJson(e, position, settings.topicPrefix(), database, "pgsource", now).getBytes(StandardCharsets.UTF_8);
        }
        buffer.reset();
        try (JsonGenerator g = JSON.createGenerator(buffer)) {
            ChangeEnvelope.write(g, e, position, part);
        }
        return buffer.toByteArray();
    }

    /** The innermost message of an exception, for one line. */
    static String cause(Throwable e) {
        Throwable c = e;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        String message = c.getMessage();
        return c.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    /** A batch (or a position) Kafka did not commit. */
    public static final class KafkaWriteException extends RuntimeException {
        public KafkaWriteException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
