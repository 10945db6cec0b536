package io.pgsource.sink.kafka;

import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import io.pgsource.sink.endpoint.EndpointSink;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The {@code destination.kafka.*} keys.
 *
 * @param brokers           {@code destination.kafka.brokers}: bootstrap servers, {@code host:port[,host:port...]} (required)
 * @param topicPrefix       {@code destination.kafka.topic_prefix} (default {@value #DEFAULT_PREFIX}): a table's changes go to
 *                          the topic {@code <prefix>.<schema>.<table>}, as Debezium names them
 * @param positionTopic     {@code destination.kafka.position_topic} (default {@code <prefix>.pgsource-positions}): the
 *                          compacted topic the source positions are written to, in the transaction of the changes
 * @param transactionalId   {@code destination.kafka.transactional_id} (default {@code pgsource-<slot>}): stable across
 *                          restarts, so a restarted pgsource fences the one it replaces; it also tells the positions of
 *                          several pgsource instances apart in the position topic
 * @param partitions        {@code destination.kafka.partitions}: partitions of a topic pgsource creates (empty: the broker's
 *                          {@code num.partitions})
 * @param replicationFactor {@code destination.kafka.replication_factor}: replicas of a topic pgsource creates (empty: the
 *                          broker's {@code default.replication.factor})
 * @param client            {@code destination.kafka.client.*}: Kafka client settings given to the producer, the consumer of
 *                          positions and the admin client alike (TLS, SASL, timeouts), without the prefix; never logged
 * @param format            {@code destination.format}: the records' values, pgsource's envelope (default) or Debezium's
 *                          change event (then the topic prefix is Debezium's logical server name, and a delete is
 *                          followed by a tombstone, as Debezium does)
 */
public record KafkaSettings(String brokers, String topicPrefix, String positionTopic, String transactionalId,
        Optional<Integer> partitions, Optional<Short> replicationFactor, Map<String, String> client, EndpointSink.Format format) {
    /** The prefix of the Kafka client settings passed through. */
    public static final String CLIENT_PREFIX = "destination.kafka.client.";
    public static final String DEFAULT_PREFIX = "pgsource";
    /** What Kafka accepts in a topic name. */
    private static final Pattern TOPIC = Pattern.compile("[a-zA-Z0-9._-]{1,249}");

    /**
     * Reads the settings.
     *
     * @param property a setting's value, or null when unset
     * @param slot     the replication slot (source.replication_slot), which names the default transactional id
     * @param client   the {@value #CLIENT_PREFIX}* settings, with their prefix
     * @throws ConfigurationException one line with the cause and the fix
     */
    public static KafkaSettings load(Function<String, String> property, String slot, Map<String, String> client) {
        String brokers = text(property, "destination.kafka.brokers");
        if (brokers == null) {
            throw new ConfigurationException("destination=kafka needs destination.kafka.brokers, the bootstrap servers, e.g."
                    + " destination.kafka.brokers=kafka1:9092,kafka2:9092");
        }
        String prefix = text(property, "destination.kafka.topic_prefix");
        prefix = prefix == null ? DEFAULT_PREFIX : prefix;
        if (!TOPIC.matcher(prefix).matches()) {
            throw new ConfigurationException("destination.kafka.topic_prefix=" + prefix + " is not the start of a Kafka topic name:"
                    + " use letters, digits, '.', '_' and '-' only, e.g. destination.kafka.topic_prefix=" + DEFAULT_PREFIX);
        }
        String positionTopic = text(property, "destination.kafka.position_topic");
        positionTopic = positionTopic == null ? prefix + ".pgsource-positions" : positionTopic;
        if (!TOPIC.matcher(positionTopic).matches()) {
            throw new ConfigurationException("destination.kafka.position_topic=" + positionTopic + " is not a Kafka topic name:"
                    + " use letters, digits, '.', '_' and '-' only");
        }
        String tid = text(property, "destination.kafka.transactional_id");
        tid = tid == null ? "pgsource-" + (slot == null || slot.isBlank() ? "slot" : slot.strip()) : tid;
        return new KafkaSettings(brokers, prefix, positionTopic, tid,
                number(property, "destination.kafka.partitions", Integer.MAX_VALUE).map(Long::intValue),
                number(property, "destination.kafka.replication_factor", Short.MAX_VALUE).map(Long::shortValue), clientSettings(client),
                EndpointSink.format(Optional.ofNullable(text(property, "destination.format")).orElse("pgsource")));
    }

    /**
     * The topic of a source table's changes: {@code <prefix>.<schema>.<table>}. Characters Kafka does not take in a topic
     * name become {@code _}, as Debezium replaces them.
     */
    public String topic(TableId table) {
        return sanitize(topicPrefix + "." + table.schema() + "." + table.name());
    }

    static String sanitize(String name) {
        StringBuilder out = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            out.append(c < 128 && (Character.isLetterOrDigit(c) || c == '.' || c == '_' || c == '-') ? c : '_');
        }
        return out.length() > 249 ? out.substring(0, 249) : out.toString();
    }

    private static Map<String, String> clientSettings(Map<String, String> given) {
        Map<String, String> out = new TreeMap<>();
        given.forEach((k, v) -> {
            String name = k.startsWith(CLIENT_PREFIX) ? k.substring(CLIENT_PREFIX.length()) : k;
            if (OWN.contains(name)) {
                throw new ConfigurationException(CLIENT_PREFIX + name + " is set by pgsource itself (exactly-once needs it so):"
                        + " remove it" + (name.equals("bootstrap.servers") ? "; set destination.kafka.brokers instead" : ""));
            }
            if (!name.isEmpty()) {
                out.put(name, v);
            }
        });
        return Collections.unmodifiableMap(out);
    }

    /** Client settings exactly-once depends on: pgsource sets them, a user cannot. */
    private static final Set<String> OWN = Set.of("bootstrap.servers", "transactional.id", "enable.idempotence", "acks",
            "isolation.level", "key.serializer", "value.serializer", "key.deserializer", "value.deserializer");

    @Override
    public String toString() {
        return "KafkaSettings[brokers=" + brokers + ", topicPrefix=" + topicPrefix + ", positionTopic=" + positionTopic
                + ", transactionalId=" + transactionalId + ", partitions=" + partitions + ", replicationFactor=" + replicationFactor
                + ", client=" + client.keySet() + " (values not shown), format=" + format + "]";
    }

    private static String text(Function<String, String> property, String key) {
        String v = property.apply(key);
        return v == null || v.isBlank() ? null : v.strip();
    }

    private static Optional<Long> number(Function<String, String> property, String key, long max) {
        String v = text(property, key);
        if (v == null) {
            return Optional.empty();
        }
        try {
            long n = Long.parseLong(v);
            if (n >= 1 && n <= max) {
                return Optional.of(n);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigurationException(key + "=" + v + " is not a number from 1 to " + max + ": set it to a positive number,"
                + " or leave it unset for the broker's default");
    }
}
