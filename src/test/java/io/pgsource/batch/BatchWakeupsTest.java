package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.TableId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What each batch-query run reads, from the wake-ups since the run before; and the trigger SQL the README shows. */
class BatchWakeupsTest {
    private static final TableId ORDERS = new TableId("shop", "orders");
    private static final TableId ODD = new TableId("My \"Schema\"", "a.b");

    @Test
    void notificationsBetweenTwoRunsMakeOneRunOfTheTablesTheyNamed() {
        BatchWakeups wakeups = new BatchWakeups();
        for (int i = 0; i < 100; i++) {
            wakeups.notified("{\"schema\":\"shop\",\"table\":\"orders\"}");
        }
        wakeups.notified("{\"schema\":\"My \\\"Schema\\\"\",\"table\":\"a.b\"}");

        BatchWakeups.Wake run = wakeups.take();
        assertThat(run.all()).isFalse();
        assertThat(run.tables()).containsExactlyInAnyOrder(ORDERS, ODD);
        assertThat(run.includes(new TableId("shop", "other"))).isFalse();
        BatchWakeups.Wake next = wakeups.take();
        assertThat(next.all()).isFalse();
        assertThat(next.tables()).as("taken by the run before: the next run reads nothing").isEmpty();
    }

    @Test
    void theTimerOrAPayloadThatNamesNoTableMakesARunOfEveryTable() {
        BatchWakeups wakeups = new BatchWakeups();
        wakeups.notified("{\"schema\":\"shop\",\"table\":\"orders\"}");
        wakeups.timer();
        BatchWakeups.Wake run = wakeups.take();
        assertThat(run.all()).isTrue();
        assertThat(run.includes(new TableId("shop", "other"))).isTrue();
        assertThat(run.tables()).as("what notifications named, read again if the run is held back").containsExactly(ORDERS);

        for (String payload : new String[] {"", "hello", "{\"schema\":\"shop\"}", "[1]", "{\"schema\":1,\"table\":2}", "{broken"}) {
            wakeups.notified(payload);
            assertThat(wakeups.take().all()).as("payload %s", payload).isTrue();
        }
        wakeups.notified(null);
        assertThat(wakeups.take().all()).isTrue();
    }

    @Test
    void tablesHeldBackAreReadByTheNextRunOnceTheRetryIsDue() {
        BatchWakeups wakeups = new BatchWakeups();
        assertThat(wakeups.retryDue()).as("nothing held").isFalse();
        wakeups.heldBack(Set.of(ORDERS));
        assertThat(wakeups.retryDue()).isTrue();
        assertThat(wakeups.retryDue()).as("moved to the next run once").isFalse();
        BatchWakeups.Wake run = wakeups.take();
        assertThat(run.all()).isFalse();
        assertThat(run.tables()).containsExactly(ORDERS);
    }

    @Test
    void theReadmeShowsTheSqlPgsourceInstalls() throws Exception {
        String readme = normalized(Files.readString(Path.of("src/main/docs/replication-methods.md")));
        assertThat(readme).contains(normalized(NotifyTriggers.functionSql("shop")))
                .contains(normalized(NotifyTriggers.triggerSql(ORDERS, "pgsource_notify")));
    }

    /** Without double quotes (the README writes plain names) and with single spaces. */
    private static String normalized(String sql) {
        return sql.replace("\"", "").replaceAll("\\s+", " ");
    }

    @Test
    void aTableIsNamedOnceByItsSchemaAndName() {
        assertThat(BatchWakeups.table("{\"table\":\"orders\",\"extra\":{\"x\":[1,2]},\"schema\":\"shop\"}")).isEqualTo(ORDERS);
        assertThat(Set.of(BatchWakeups.table("{\"schema\":\"shop\",\"table\":\"orders\"}"))).containsExactly(ORDERS);
    }
}
