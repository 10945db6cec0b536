package io.pgsource.pgoutput;

import static io.pgsource.pgoutput.PgOutputTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.pgoutput.PgOutputTestSupport.Collector;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.spi.ExceptionHandler;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A slot that can no longer deliver every change stops the consumer for good, with the reason in the health check and
 * a {@link SlotLostException} handed to the endpoint's exceptionHandler: the slot dropped while streaming (not silently
 * created again, although createSlot=true), a captured table taken out of the publication (pgoutput just stops sending
 * its changes), the slot invalidated by max_slot_wal_keep_size while the route kept failing. Meanwhile the lag grows.
 */
class PgOutputSlotTroubleTest extends CamelTestSupport {
    private static PgOutputTestSupport db;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_trouble");
        db.execute("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)", "CREATE TABLE c (id int PRIMARY KEY)",
                "CREATE PUBLICATION dropped_pub FOR TABLE a", "CREATE PUBLICATION shrunk_pub FOR TABLE a, b",
                "CREATE PUBLICATION stuck_pub FOR TABLE c",
                "CREATE TABLE d (id int PRIMARY KEY)", "CREATE PUBLICATION renamed_pub FOR TABLE d",
                "CREATE TABLE pm (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
                "CREATE TABLE pm_2024 PARTITION OF pm FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (id)",
                "CREATE TABLE pm_2024_a PARTITION OF pm_2024 FOR VALUES FROM (0) TO (100)",
                "CREATE TABLE pm_2024_b PARTITION OF pm_2024 FOR VALUES FROM (100) TO (MAXVALUE)",
                "CREATE TABLE pm_2025 PARTITION OF pm FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE PUBLICATION all_pub FOR ALL TABLES", "CREATE PUBLICATION root_pub FOR TABLE pm");
    }

    @AfterAll
    static void dropSlots() throws Exception {
        db.dropSlots();
    }

    /** Records what the consumer hands to its exceptionHandler. */
    static final class Trouble implements ExceptionHandler {
        final List<Throwable> handled = new CopyOnWriteArrayList<>();

        @Override
        public void handleException(Throwable exception) {
            handled.add(exception);
        }

        @Override
        public void handleException(String message, Throwable exception) {
            handled.add(exception);
        }

        @Override
        public void handleException(String message, org.apache.camel.Exchange exchange, Throwable exception) {
            handled.add(exception);
        }
    }

    private PgOutputConsumer route(String routeId, String uri, org.apache.camel.Processor step) throws Exception {
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from(uri).routeId(routeId).process(step);
            }
        });
        return (PgOutputConsumer) context.getRoute(routeId).getConsumer();
    }

    private Trouble trouble(String name) {
        Trouble t = new Trouble();
        context.getRegistry().bind(name, t);
        return t;
    }

    @Test
    void aSlotDroppedWhileStreamingStopsTheConsumerInsteadOfBeingCreatedAgain() throws Exception {
        String slot = db.newSlotName("dropped");
        Trouble trouble = trouble("droppedTrouble");
        Collector collector = new Collector();
        PgOutputConsumer consumer = route("dropped", db.uri(slot, "dropped_pub", "createSlot=true&exceptionHandler=#droppedTrouble"),
                collector);
        await(Duration.ofSeconds(20), () -> consumer.status().streaming(), "streaming");
        db.transaction("INSERT INTO a VALUES (1)");
        await(Duration.ofSeconds(20), () -> collector.transactions().size() == 1, "the first transaction");

        // what an operator does to drop an active slot: end its walsender, then drop it before the consumer reconnects
        db.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
        await(Duration.ofSeconds(10), () -> {
            try {
                db.execute("SELECT pg_drop_replication_slot('" + slot + "')");
                return true;
            } catch (java.sql.SQLException e) {
                return false; // the consumer reconnected first: end it again
            } finally {
                try {
                    db.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
                } catch (java.sql.SQLException ignored) {
                    // gone already
                }
            }
        }, "the slot dropped");

        await(Duration.ofSeconds(20), () -> !trouble.handled.isEmpty(), "the exception handler called");
        assertThat(trouble.handled).singleElement().isInstanceOfSatisfying(SlotLostException.class, e -> {
            assertThat(e.reason()).isEqualTo(SlotLostException.Reason.DROPPED);
            assertThat(e.getMessage()).contains("replication slot \"" + slot + "\" no longer exists").contains("dropped while")
                    .contains("may be missing downstream").contains("copy the tables again");
        });
        HealthCheck.Result health = consumer.getHealthCheck().call();
        assertThat(health.getState()).isEqualTo(HealthCheck.State.DOWN);
        assertThat(health.getMessage()).get().asString().contains("no longer exists");
        PgOutputTestSupport.sleep(1500);
        assertThat(db.query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'"))
                .as("createSlot=true did not silently create a new slot (that would skip the changes in between)").isEqualTo("0");
    }

    @Test
    void aCapturedTableTakenOutOfThePublicationStopsTheConsumerNamingIt() throws Exception {
        String slot = db.createSlot("shrunk");
        Trouble trouble = trouble("shrunkTrouble");
        Collector collector = new Collector();
        PgOutputConsumer consumer = route("shrunk", db.uri(slot, "shrunk_pub",
                "publicationTables=a,public.b&slotCheckInterval=200ms&exceptionHandler=#shrunkTrouble"), collector);
        await(Duration.ofSeconds(20), () -> consumer.status().streaming(), "streaming");
        db.transaction("INSERT INTO b VALUES (1)");
        await(Duration.ofSeconds(20), () -> collector.transactions().size() == 1, "the first transaction");

        db.execute("ALTER PUBLICATION shrunk_pub DROP TABLE b");
        db.transaction("INSERT INTO b VALUES (2)"); // pgoutput does not send this one, and says nothing

        await(Duration.ofSeconds(20), () -> !trouble.handled.isEmpty(), "the exception handler called");
        assertThat(trouble.handled).singleElement().isInstanceOfSatisfying(SlotLostException.class, e -> {
            assertThat(e.reason()).isEqualTo(SlotLostException.Reason.UNPUBLISHED);
            assertThat(e.getMessage()).contains("table \"public\".\"b\" was taken out of publication \"shrunk_pub\"")
                    .contains("ALTER PUBLICATION \"shrunk_pub\" ADD TABLE \"public\".\"b\";").contains("out of publicationTables");
        });
        assertThat(consumer.getHealthCheck().call().getState()).isEqualTo(HealthCheck.State.DOWN);
    }

    /**
     * FOR ALL TABLES without publish_via_partition_root lists the leaves of a partitioned table, never the table: that is
     * no table taken out of the publication. Changes of leaves at any depth, and of a partition created meanwhile, arrive
     * as the partitioned table's; changes of tables the consumer does not capture never reach the route.
     */
    @Test
    void aPartitionedTablePublishedAsItsLeavesStreamsAsItselfAndIsNoLoss() throws Exception {
        String slot = db.createSlot("leaves");
        Trouble trouble = trouble("leavesTrouble");
        context.getRegistry().bind("onlyPm", (java.util.function.Predicate<io.pgsource.change.TableId>) t -> t.name().equals("pm"));
        Collector collector = new Collector();
        PgOutputConsumer consumer = route("leaves", db.uri(slot, "all_pub",
                "publicationTables=pm&tableFilter=#onlyPm&slotCheckInterval=200ms&exceptionHandler=#leavesTrouble"), collector);
        await(Duration.ofSeconds(20), () -> consumer.status().streaming(), "streaming");
        db.transaction("INSERT INTO pm VALUES (1, '2024-02-01'), (200, '2024-03-01'), (3, '2025-01-05')", "INSERT INTO a VALUES (77)");
        db.execute("CREATE TABLE pm_2026 PARTITION OF pm FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')");
        db.transaction("INSERT INTO pm VALUES (4, '2026-01-05')");
        db.transaction("INSERT INTO a VALUES (78)"); // nothing of it is captured: it reaches no route
        db.transaction("INSERT INTO pm VALUES (5, '2024-02-02')");
        await(Duration.ofSeconds(20), () -> collector.transactions().size() >= 3, "the transactions");
        PgOutputTestSupport.sleep(1_000); // a few slot checks
        assertThat(trouble.handled).as("nothing was taken out of the publication").isEmpty();
        assertThat(collector.transactions()).hasSize(3);
        assertThat(collector.events()).hasSize(5).allSatisfy(e -> assertThat(e.tableId().name()).isEqualTo("pm"));
        assertThat(consumer.status().streaming()).isTrue();
    }

    /** A table attached as a partition while streaming: its changes become the partitioned table's; detached, its own. */
    @Test
    void aPartitionAttachedOrDetachedWhileStreamingIsFollowed() throws Exception {
        db.execute("CREATE TABLE pm_2030 (id int NOT NULL, at date NOT NULL)");
        String slot = db.createSlot("attach");
        Collector collector = new Collector();
        PgOutputConsumer consumer = route("attach", db.uri(slot, "all_pub", "publicationTables=pm"), collector);
        await(Duration.ofSeconds(20), () -> consumer.status().streaming(), "streaming");
        db.transaction("INSERT INTO pm_2030 VALUES (1, '2030-01-05')");
        await(Duration.ofSeconds(20), () -> collector.events().size() == 1, "the change of the table");
        db.execute("ALTER TABLE pm ATTACH PARTITION pm_2030 FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')");
        db.transaction("INSERT INTO pm_2030 VALUES (2, '2030-02-05')");
        await(Duration.ofSeconds(20), () -> collector.events().size() == 2, "the change of the partition");
        db.execute("ALTER TABLE pm DETACH PARTITION pm_2030");
        db.transaction("INSERT INTO pm_2030 VALUES (3, '2030-03-05')");
        await(Duration.ofSeconds(20), () -> collector.events().size() == 3, "the change of the detached table");
        assertThat(collector.events()).extracting(e -> e.tableId().name()).containsExactly("pm_2030", "pm", "pm_2030");
    }

    @Test
    void aPartitionedTableTakenOutOfItsPublicationStopsTheConsumerWithSqlPostgresAccepts() throws Exception {
        String slot = db.createSlot("rootout");
        Trouble trouble = trouble("rootTrouble");
        Collector collector = new Collector();
        PgOutputConsumer consumer = route("rootout", db.uri(slot, "root_pub",
                "publicationTables=pm&slotCheckInterval=200ms&exceptionHandler=#rootTrouble"), collector);
        await(Duration.ofSeconds(20), () -> consumer.status().streaming(), "streaming");
        db.execute("ALTER PUBLICATION root_pub DROP TABLE pm");
        await(Duration.ofSeconds(20), () -> !trouble.handled.isEmpty(), "the exception handler called");
        String message = trouble.handled.get(0).getMessage();
        assertThat(message).contains("table \"public\".\"pm\" was taken out of publication \"root_pub\"")
                .contains("ALTER PUBLICATION \"root_pub\" ADD TABLE \"public\".\"pm\";");
        db.execute("ALTER PUBLICATION \"root_pub\" ADD TABLE \"public\".\"pm\";"); // the fix it names is accepted
    }

    @Test
    void aCapturedTableRenamedAtTheSourceIsNoLossTheConsumerStreamsOn() throws Exception {
        String slot = db.createSlot("renamed");
        Trouble trouble = trouble("renamedTrouble");
        Collector collector = new Collector();
        PgOutputConsumer consumer = route("renamed", db.uri(slot, "renamed_pub",
                "publicationTables=d&slotCheckInterval=200ms&exceptionHandler=#renamedTrouble"), collector);
        await(Duration.ofSeconds(20), () -> consumer.status().streaming(), "streaming");
        db.transaction("INSERT INTO d VALUES (1)");
        await(Duration.ofSeconds(20), () -> collector.transactions().size() == 1, "the first transaction");

        db.execute("ALTER TABLE d RENAME TO d2");
        db.transaction("INSERT INTO d2 VALUES (2)");
        await(Duration.ofSeconds(20), () -> collector.transactions().size() == 2, "the change under the new name");
        PgOutputTestSupport.sleep(1_000); // a few slot checks
        assertThat(trouble.handled).as("still published under its new name: nothing lost").isEmpty();
        assertThat(consumer.status().streaming()).isTrue();
        assertThat(collector.received.get(1).batch().get(0).table().id().name()).isEqualTo("d2");
    }

    @Test
    void aSlotInvalidatedWhileTheRouteKeepsFailingStopsTheConsumerAfterItsLagGrew() throws Exception {
        String slot = db.createSlot("stuck");
        Trouble trouble = trouble("stuckTrouble");
        PgOutputConsumer consumer = route("stuck", db.uri(slot, "stuck_pub", "slotCheckInterval=200ms&exceptionHandler=#stuckTrouble"),
                exchange -> {
                    throw new IllegalStateException("the destination is down");
                });
        await(Duration.ofSeconds(20), () -> consumer.status().streaming(), "streaming");
        db.transaction("INSERT INTO c VALUES (1)");
        await(Duration.ofSeconds(20), () -> consumer.status().problem() != null, "the route failing");
        await(Duration.ofSeconds(20), () -> consumer.getSlotLagBytes() >= 0, "a slot check");
        long before = consumer.getSlotLagBytes();
        db.transaction("INSERT INTO c SELECT g FROM generate_series(2, 20000) g");
        await(Duration.ofSeconds(20), () -> consumer.getSlotLagBytes() > before + 500_000, "the lag growing with the WAL written");
        HealthCheck.Result stuck = consumer.getHealthCheck().call();
        assertThat(stuck.getState()).isEqualTo(HealthCheck.State.DOWN);
        assertThat(stuck.getDetails()).containsKeys("slotLagBytes", "walStatus");
        assertThat((Long) stuck.getDetails().get("slotLagBytes")).isGreaterThan(500_000L);

        db.execute("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", "SELECT pg_reload_conf()");
        try {
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (trouble.handled.isEmpty()) {
                assertThat(System.nanoTime()).as("the slot is invalidated and the consumer stops").isLessThan(end);
                db.execute("SELECT pg_logical_emit_message(false, 'filler', repeat('x', 1000))", "SELECT pg_switch_wal()",
                        "SELECT pg_logical_emit_message(false, 'filler', 'y')", "SELECT pg_switch_wal()", "CHECKPOINT");
                PgOutputTestSupport.sleep(200);
            }
        } finally {
            db.execute("ALTER SYSTEM RESET max_slot_wal_keep_size", "SELECT pg_reload_conf()");
        }
        assertThat(trouble.handled).singleElement().isInstanceOfSatisfying(SlotLostException.class, e -> {
            assertThat(e.reason()).isEqualTo(SlotLostException.Reason.INVALIDATED);
            assertThat(e.getMessage()).contains("is invalidated").contains("max_slot_wal_keep_size").contains("copy the data again");
        });
        assertThat(consumer.getHealthCheck().call().getState()).isEqualTo(HealthCheck.State.DOWN);
    }
}
