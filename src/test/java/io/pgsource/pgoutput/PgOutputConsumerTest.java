package io.pgsource.pgoutput;

import static io.pgsource.pgoutput.PgOutputTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.pgoutput.PgOutputTestSupport.Collector;
import io.pgsource.pgoutput.PgOutputTestSupport.Received;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.impl.health.ConsumersHealthCheckRepository;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The consumer in Camel routes against a real PostgreSQL: order, headers, parts, failures, acknowledgements. */
class PgOutputConsumerTest extends CamelTestSupport {
    private static PgOutputTestSupport db;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_consumer");
        db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)",
                "CREATE TABLE parts (id int PRIMARY KEY, name text)",
                "CREATE TABLE retried (id int PRIMARY KEY)",
                "CREATE TABLE quiet (id int PRIMARY KEY)",
                "CREATE TABLE busy (id serial PRIMARY KEY, v text)",
                "CREATE PUBLICATION items_pub FOR TABLE items",
                "CREATE PUBLICATION parts_pub FOR TABLE parts",
                "CREATE PUBLICATION retried_pub FOR TABLE retried",
                "CREATE PUBLICATION quiet_pub FOR TABLE quiet");
    }

    @AfterAll
    static void dropSlots() throws Exception {
        db.dropSlots();
    }

    private void route(String routeId, String uri, org.apache.camel.Processor... steps) throws Exception {
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                var r = from(uri).routeId(routeId);
                for (org.apache.camel.Processor p : steps) {
                    r = r.process(p);
                }
            }
        });
    }

    @Test
    void insertsUpdatesDeletesAndTruncatesArriveInCommitOrderWithHeaders() throws Exception {
        String slot = db.createSlot("crud");
        Collector collector = new Collector();
        route("crud", db.uri(slot, "items_pub", ""), collector);

        long insert = db.transaction("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
        long update = db.transaction("UPDATE items SET name = 'uno' WHERE id = 1");
        long delete = db.transaction("DELETE FROM items WHERE id = 2");
        long truncate = db.transaction("TRUNCATE items");
        await(Duration.ofSeconds(20), () -> collector.transactions().size() >= 4, "4 transactions");

        assertThat(collector.transactions()).containsExactly(insert, update, delete, truncate);
        List<Received> r = collector.received;
        assertThat(r).extracting(Received::slot).containsOnly(slot);
        assertThat(r).extracting(Received::partIndex).containsOnly(0);
        assertThat(r).extracting(Received::last).containsOnly(true);
        assertThat(r).extracting(Received::commitLsn).isSorted().doesNotHaveDuplicates();
        assertThat(r).allSatisfy(x -> assertThat(x.commitTime()).isNotNull());

        List<ChangeEvent> e = collector.events();
        assertThat(e).extracting(ChangeEvent::op).containsExactly(Op.INSERT, Op.INSERT, Op.UPDATE, Op.DELETE, Op.TRUNCATE);
        assertThat(e.get(0).after().asMap()).containsEntry("id", "1").containsEntry("name", "one");
        assertThat(e.get(2).after().asMap()).containsEntry("id", "1").containsEntry("name", "uno");
        assertThat(e.get(3).before().get("id")).isEqualTo("2");
        assertThat(e.get(4).tableId().name()).isEqualTo("items");
        assertThat(e.get(0).table().key()).containsExactly("id");

        // the slot follows once the exchanges completed (status updates every second here)
        long lastCommit = r.get(r.size() - 1).commitLsn();
        await(Duration.ofSeconds(10), () -> confirmed(slot) >= lastCommit, "confirmed_flush_lsn to reach the last commit");
    }

    @Test
    void withAsyncStartASetupProblemDoesNotFailTheStartAndTheConsumerStreamsOnceItIsFixed() throws Exception {
        String slot = db.createSlot("async");
        // the publication does not exist yet: a plain start fails with the fix, asyncStart starts and keeps trying
        assertThatThrownBy(() -> route("plain-start", db.uri(slot, "late_pub", ""), new Collector())).hasStackTraceContaining("late_pub");
        Collector collector = new Collector();
        route("async-start", db.uri(slot, "late_pub", "asyncStart=true"), collector);
        assertThat(context.getRouteController().getRouteStatus("async-start").isStarted()).isTrue();
        await(Duration.ofSeconds(20), () -> health("async-start").getMessage().orElse("").contains("late_pub"), "the problem in the health check");
        assertThat(health("async-start").getState()).isEqualTo(HealthCheck.State.DOWN);

        db.execute("CREATE TABLE late (id int PRIMARY KEY)", "CREATE PUBLICATION late_pub FOR TABLE late");
        long xid = db.transaction("INSERT INTO late VALUES (1)");
        await(Duration.ofSeconds(20), () -> collector.transactions().contains(xid), "the transaction committed after the fix");
        assertThat(health("async-start").getState()).isEqualTo(HealthCheck.State.UP);
    }

    @Test
    void aTransactionLargerThanMaxBatchSizeArrivesInPartsAndOnlyTheLastOneAdvancesTheSlot() throws Exception {
        String slot = db.createSlot("parts");
        Collector collector = new Collector();
        route("parts", db.uri(slot, "parts_pub", "maxBatchSize=3"), collector);

        long xid = db.transaction("INSERT INTO parts SELECT g, 'p' || g FROM generate_series(1, 7) g");
        await(Duration.ofSeconds(20), () -> collector.transactions().size() == 1, "the transaction");

        List<Received> r = collector.received;
        assertThat(r).extracting(Received::xid).containsOnly(xid);
        assertThat(r).extracting(Received::partIndex).containsExactly(0, 1, 2);
        assertThat(r).extracting(Received::last).containsExactly(false, false, true);
        assertThat(r).extracting(x -> x.events().size()).containsExactly(3, 3, 1);
        assertThat(r.get(0).commitLsn()).isEqualTo(r.get(1).commitLsn()).isLessThan(r.get(2).commitLsn());
        assertThat(collector.events()).extracting(ev -> ev.after().get("id")).containsExactly("1", "2", "3", "4", "5", "6", "7");
    }

    @Test
    void aFailingRouteGetsTheSameTransactionAgainUntilItSucceedsAndNothingIsAcknowledgedMeanwhile() throws Exception {
        String slot = db.createSlot("retry");
        Collector collector = new Collector();
        AtomicInteger attempts = new AtomicInteger();
        List<Long> confirmedWhileFailing = new CopyOnWriteArrayList<>();
        List<HealthCheck.Result> healthWhileFailing = new CopyOnWriteArrayList<>();
        route("retry", db.uri(slot, "retried_pub", ""), exchange -> {
            if (exchange.getMessage().getBody(List.class).toString().contains("id=2")) {
                int attempt = attempts.incrementAndGet();
                confirmedWhileFailing.add(confirmed(slot));
                if (attempt > 1) {
                    healthWhileFailing.add(health("retry"));
                }
                if (attempt <= 3) {
                    throw new IllegalStateException("destination down (attempt " + attempt + ")");
                }
            }
        }, collector);

        long first = db.transaction("INSERT INTO retried VALUES (1)");
        long failing = db.transaction("INSERT INTO retried VALUES (2)");
        long after = db.transaction("INSERT INTO retried VALUES (3)");
        await(Duration.ofSeconds(30), () -> collector.transactions().size() >= 3, "all three transactions");
        PgOutputTestSupport.sleep(500); // anything sent twice would arrive now

        assertThat(collector.transactions()).containsExactly(first, failing, after);
        assertThat(attempts.get()).isEqualTo(4);
        long failingCommit = collector.received.get(1).commitLsn();
        assertThat(confirmedWhileFailing).allSatisfy(c -> assertThat(c).isLessThan(failingCommit));
        assertThat(healthWhileFailing).isNotEmpty().allSatisfy(h -> {
            assertThat(h.getState()).isEqualTo(HealthCheck.State.DOWN);
            assertThat(h.getMessage()).get().asString().contains("the route failed on transaction " + failing)
                    .contains("nothing acknowledged");
        });
        assertThat(health("retry").getState()).isEqualTo(HealthCheck.State.UP);
        await(Duration.ofSeconds(10), () -> confirmed(slot) >= collector.received.get(2).commitLsn(), "the slot to follow");
    }

    @Test
    void theConsumerHealthCheckIsRegisteredWithCamel() throws Exception {
        String slot = db.createSlot("health");
        route("health", db.uri(slot, "quiet_pub", ""), new Collector());
        await(Duration.ofSeconds(20), () -> health("health").getState() == HealthCheck.State.UP, "UP");
        // Camel's consumers repository (what camel-health's readiness endpoints read) finds it through HealthCheckAware
        ConsumersHealthCheckRepository repository = new ConsumersHealthCheckRepository();
        repository.setCamelContext(context);
        HealthCheck check = repository.stream().filter(c -> c.getId().equals("consumer:health")).findFirst().orElseThrow();
        HealthCheck.Result result = check.call();
        assertThat(result.getState()).isEqualTo(HealthCheck.State.UP);
        assertThat(result.getDetails()).containsKey("acknowledgedLsn");
    }

    @Test
    void anIdlePublicationOnABusyDatabaseStillAdvancesTheSlot() throws Exception {
        String slot = db.createSlot("idle");
        Collector collector = new Collector();
        route("idle", db.uri(slot, "quiet_pub", ""), collector);
        await(Duration.ofSeconds(20), () -> health("idle").getState() == HealthCheck.State.UP, "streaming");

        long before = confirmed(slot);
        for (int i = 0; i < 20; i++) {
            db.execute("INSERT INTO busy (v) SELECT repeat('x', 100) FROM generate_series(1, 100)");
        }
        long churned = db.currentLsn();
        await(Duration.ofSeconds(20), () -> confirmed(slot) >= churned, "confirmed_flush_lsn to pass the unpublished churn");
        assertThat(confirmed(slot)).isGreaterThan(before);
        assertThat(collector.received).isEmpty();
    }

    private HealthCheck.Result health(String routeId) {
        return ((PgOutputConsumer) context.getRoute(routeId).getConsumer()).getHealthCheck().call();
    }

    private static long confirmed(String slot) {
        try {
            return db.confirmedFlush(slot);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
