package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.testsupport.KafkaBroker;
import io.pgsource.testsupport.KafkaBroker.Message;
import io.pgsource.testsupport.TestPostgres;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * destination=kafka end to end (sync.once runs, in process) against a real broker: the initial copy and every kind of
 * change of two tables land on their topics {@code <prefix>.<schema>.<table>}, keyed by the primary key, each exactly
 * once for a read_committed consumer however many times pgsource runs, in the order of each key's changes; the position
 * topic holds the slot's position.
 */
class KafkaDestinationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TestPostgres pg = TestPostgres.server();

    @Test
    void everyChangeOnceOnItsTablesTopicInKeyOrderAcrossRuns() throws Exception {
        KafkaBroker kafka = KafkaBroker.get();
        String source = pg.createDatabase("kafka_e2e_src");
        SourceFixture.execute(pg, source, """
                CREATE TABLE public.items (id int PRIMARY KEY, qty int NOT NULL);
                CREATE TABLE public.notes (id bigint PRIMARY KEY, body text);
                INSERT INTO public.items SELECT g, g FROM generate_series(1, 100) g;
                INSERT INTO public.notes SELECT g, 'note ' || g FROM generate_series(1, 20) g;""");
        String prefix = "e2e" + System.nanoTime();
        String slot = "kafka_e2e";
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SOURCE_BATCH_FETCH_LIMIT", "30");
        env.put("DESTINATION", "kafka");
        env.put("DESTINATION_KAFKA_BROKERS", kafka.bootstrapServers());
        env.put("DESTINATION_KAFKA_TOPIC_PREFIX", prefix);

        assertThat(PgSourceMain.run(env, new Properties())).as("the copy").isZero();
        SourceFixture.execute(pg, source, """
                UPDATE public.items SET qty = qty + 1000 WHERE id % 3 = 0;
                DELETE FROM public.items WHERE id % 10 = 0;
                INSERT INTO public.notes SELECT g, 'late ' || g FROM generate_series(21, 30) g;""");
        SourceFixture.execute(pg, source, "UPDATE public.items SET qty = -1 WHERE id = 3");
        assertThat(PgSourceMain.run(env, new Properties())).as("the stream").isZero();
        SourceFixture.execute(pg, source, "TRUNCATE public.notes");
        assertThat(PgSourceMain.run(env, new Properties())).as("a truncate").isZero();
        assertThat(PgSourceMain.run(env, new Properties())).as("nothing new").isZero();

        List<Message> items = kafka.readCommitted(List.of(prefix + ".public.items"));
        List<Message> notes = kafka.readCommitted(List.of(prefix + ".public.notes"));
        // a copy starts with a truncate, as on every event destination
        assertThat(ops(items)).containsExactlyInAnyOrderEntriesOf(Map.of("t", 1L, "r", 100L, "u", 34L, "d", 10L));
        assertThat(ops(notes)).containsExactlyInAnyOrderEntriesOf(Map.of("t", 2L, "r", 20L, "c", 10L));
        assertThat(new HashSet<>(values(items))).as("no change twice").hasSize(items.size());

        // per key, in the order of the source: the copy, then the updates, then the delete
        Map<String, List<String>> byKey = new LinkedHashMap<>();
        for (Message m : items) {
            byKey.computeIfAbsent(m.key(), k -> new ArrayList<>()).add(JSON.readTree(m.value()).get("op").asText());
        }
        assertThat(byKey.get("{\"id\":3}")).containsExactly("r", "u", "u");
        assertThat(byKey.get("{\"id\":30}")).containsExactly("r", "u", "d");
        assertThat(byKey.get("{\"id\":7}")).containsExactly("r");
        JsonNode lastOfThree = JSON.readTree(items.stream().filter(m -> "{\"id\":3}".equals(m.key())).reduce((a, b) -> b).orElseThrow().value());
        assertThat(lastOfThree.at("/after/qty").asInt()).isEqualTo(-1);
        assertThat(lastOfThree.at("/source/table").asText()).isEqualTo("items");
        assertThat(lastOfThree.at("/source/lsn").asText()).matches("[0-9A-F]+/[0-9A-F]+");
        assertThat(notes.get(notes.size() - 1).value()).contains("\"op\":\"t\"");
        assertThat(notes.get(notes.size() - 1).key()).as("a truncate has no key").isNull();

        List<Message> positions = kafka.readCommitted(List.of(prefix + ".pgsource-positions"));
        assertThat(positions).extracting(Message::key).contains("pgsource-" + slot + "/slot:" + slot);
    }

    private static Map<String, Long> ops(List<Message> messages) throws Exception {
        List<String> ops = new ArrayList<>();
        for (Message m : messages) {
            ops.add(JSON.readTree(m.value()).get("op").asText());
        }
        return ops.stream().collect(Collectors.groupingBy(o -> o, Collectors.counting()));
    }

    private static List<String> values(List<Message> messages) {
        return messages.stream().map(Message::value).toList();
    }
}
