package io.pgsource.pgoutput;

import static io.pgsource.pgoutput.PgOutputTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgsource.change.ChangeEvent;
import io.pgsource.pgoutput.PgOutputTestSupport.Collector;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.PGReplicationStream;

/** Slow routes, slots held elsewhere, server restarts: the consumer keeps its connection or resumes, losing nothing. */
class PgOutputResilienceTest extends CamelTestSupport {
    private static PgOutputTestSupport db;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_resilience");
        db.execute("CREATE TABLE slow (id int PRIMARY KEY)", "CREATE TABLE held (id int PRIMARY KEY)",
                "CREATE TABLE restarted (id int PRIMARY KEY)", "CREATE TABLE bounced (id int PRIMARY KEY)",
                "CREATE PUBLICATION bounced_pub FOR TABLE bounced",
                "CREATE PUBLICATION slow_pub FOR TABLE slow", "CREATE PUBLICATION held_pub FOR TABLE held",
                "CREATE PUBLICATION restarted_pub FOR TABLE restarted");
    }

    @AfterAll
    static void dropSlots() throws Exception {
        db.dropSlots();
    }

    private PgOutputConsumer route(String routeId, String uri, org.apache.camel.Processor... steps) throws Exception {
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                var r = from(uri).routeId(routeId);
                for (org.apache.camel.Processor p : steps) {
                    r = r.process(p);
                }
            }
        });
        return (PgOutputConsumer) context.getRoute(routeId).getConsumer();
    }

    @Test
    void aRouteSlowerThanWalSenderTimeoutKeepsTheConnection() throws Exception {
        db.execute("ALTER SYSTEM SET wal_sender_timeout = '2s'", "SELECT pg_reload_conf()");
        try {
            String slot = db.createSlot("slow");
            Collector collector = new Collector();
            // the default statusInterval (10s) is far beyond the timeout: only the status sent during the exchange helps
            String uri = db.uri(slot, "slow_pub", "").replace("&statusInterval=1s", "");
            PgOutputConsumer consumer = route("slow", uri, exchange -> {
                if (collector.received.isEmpty()) {
                    TimeUnit.SECONDS.sleep(6);
                }
            }, collector);
            await(Duration.ofSeconds(20), () -> consumer.status().streaming(), "streaming");
            Integer walsender = db.activePid(slot);

            db.transaction("INSERT INTO slow VALUES (1)");
            db.transaction("INSERT INTO slow VALUES (2)");
            await(Duration.ofSeconds(30), () -> collector.transactions().size() == 2, "both transactions");

            assertThat(consumer.status().failures()).isZero();
            assertThat(db.activePid(slot)).isEqualTo(walsender);
            assertThat(collector.events()).extracting(e -> e.after().get("id")).containsExactly("1", "2");
        } finally {
            db.execute("ALTER SYSTEM RESET wal_sender_timeout", "SELECT pg_reload_conf()");
        }
    }

    @Test
    void aSlotHeldByAnotherConnectionIsWaitedForThenRead() throws Exception {
        String slot = db.createSlot("held");
        db.transaction("INSERT INTO held VALUES (1)");
        Properties p = new Properties();
        PGProperty.USER.set(p, db.pg.user());
        PGProperty.PASSWORD.set(p, db.pg.password());
        PGProperty.REPLICATION.set(p, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "10");
        PGProperty.PREFER_QUERY_MODE.set(p, "simple");
        Collector collector = new Collector();
        PgOutputConsumer consumer;
        try (Connection holder = DriverManager.getConnection(db.pg.jdbcUrl(db.database), p)) {
            PGReplicationStream stream = holder.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                    .withSlotName(slot).withSlotOption("proto_version", 1).withSlotOption("publication_names", "held_pub").start();
            int holderPid = db.activePid(slot);
            consumer = route("held", db.uri(slot, "held_pub", ""), collector);
            await(Duration.ofSeconds(20), () -> consumer.status().failures() >= 2, "a few attempts");
            HealthCheck.Result health = consumer.getHealthCheck().call();
            assertThat(health.getState()).isEqualTo(HealthCheck.State.DOWN);
            assertThat(health.getMessage()).get().asString().contains("is in use by PID " + holderPid);
            assertThat(collector.received).isEmpty();
            stream.close();
        }
        await(Duration.ofSeconds(20), () -> collector.transactions().size() == 1, "the transaction once the slot is free");
        await(Duration.ofSeconds(5), () -> consumer.getHealthCheck().call().getState() == HealthCheck.State.UP, "UP");
    }

    @Test
    void aConnectionLostAfterTheStreamMovedOnIsRetriedAfterTheInitialDelayNotAGrownOne() throws Exception {
        String slot = db.createSlot("bounced");
        Collector collector = new Collector();
        ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(PgOutputConsumer.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
        lines.start();
        log.addAppender(lines);
        try {
            // far apart failures are told apart by time (maxReconnectDelay); these come quickly, each after progress
            PgOutputConsumer consumer = route("bounced", db.uri(slot, "bounced_pub", "").replace("maxReconnectDelay=1s", "maxReconnectDelay=60s"),
                    collector);
            for (int i = 1; i <= 4; i++) {
                int n = i;
                long before = consumer.getAcknowledgedLsn();
                db.transaction("INSERT INTO bounced VALUES (" + i + ")");
                await(Duration.ofSeconds(30), () -> collector.transactions().size() == n && consumer.getAcknowledgedLsn() > before,
                        "transaction " + i + " acknowledged");
                Integer walsender = db.activePid(slot);
                db.query("SELECT pg_terminate_backend(" + walsender + ")");
                await(Duration.ofSeconds(30), () -> consumer.status().failures() == n && consumer.status().streaming(), "streaming again " + i);
            }
            List<String> delays = lines.list.stream().map(e -> e.getFormattedMessage()).filter(m -> m.contains("reconnecting in")).toList();
            assertThat(delays).hasSize(4).allSatisfy(m -> assertThat(m).endsWith("reconnecting in 200 ms"));
            assertThat(collector.events()).extracting(e -> e.after().get("id")).containsExactly("1", "2", "3", "4");
        } finally {
            log.detachAppender(lines);
        }
    }

    @Test
    void aServerRestartMidStreamIsResumedFromTheSlotWithNothingLostOrRepeated() throws Exception {
        assumeTrue(db.pg.supportsRestart(), "needs the embedded PostgreSQL");
        String slot = db.createSlot("restart");
        Collector collector = new Collector();
        PgOutputConsumer consumer = route("restart", db.uri(slot, "restarted_pub", ""), collector);
        for (int i = 1; i <= 5; i++) {
            db.transaction("INSERT INTO restarted VALUES (" + i + ")");
        }
        await(Duration.ofSeconds(20), () -> collector.transactions().size() == 5, "the first five");

        db.pg.restart();
        for (int i = 6; i <= 10; i++) {
            db.transaction("INSERT INTO restarted VALUES (" + i + ")");
        }
        await(Duration.ofSeconds(40), () -> collector.transactions().size() >= 10, "the five after the restart");
        PgOutputTestSupport.sleep(500);

        List<ChangeEvent> events = collector.events();
        assertThat(events).extracting(e -> e.after().get("id")).containsExactly("1", "2", "3", "4", "5", "6", "7", "8", "9", "10");
        assertThat(consumer.status().failures()).isPositive();
        assertThat(consumer.getHealthCheck().call().getState()).isEqualTo(HealthCheck.State.UP);
    }
}
