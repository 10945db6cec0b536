package example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.pgsource.change.ChangeEvent;
import io.pgsource.embedded.EmbeddedPostgres;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.camel.CamelContext;
import org.apache.camel.ServiceStatus;
import org.apache.camel.component.mock.MockEndpoint;
import org.apache.camel.main.Main;
import org.junit.jupiter.api.Test;

/**
 * The example as a user runs it: Camel Main with the route, against a real PostgreSQL (pgsource's embedded launcher,
 * test scope), on this project's class path, which holds only what the pgsource artifact passes on.
 */
class PgOutputExampleTest {

    @Test
    void anInsertArrivesAsATypedChange() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
            try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.superuser(), pg.password());
                    Statement s = c.createStatement()) {
                s.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2))");
                // made here rather than by the route's createSlot/createPublication (which then find them): the consumer
                // creates a missing slot on its own thread after the route started, and a row inserted before that
                // would belong to the slot's snapshot, not to its stream
                s.execute("CREATE PUBLICATION example_pub FOR TABLE accounts");
                s.execute("SELECT pg_create_logical_replication_slot('example_slot', 'pgoutput')");
            }
            Main main = new Main();
            main.configure().addRoutesBuilder(new PgOutputExample());
            main.addInitialProperty("pg.host", pg.host());
            main.addInitialProperty("pg.port", Integer.toString(pg.port()));
            main.addInitialProperty("pg.user", pg.superuser());
            main.addInitialProperty("pg.password", pg.password());
            main.addInitialProperty("example.sink", "mock:changes");
            CountDownLatch started = new CountDownLatch(1);
            main.addMainListener(new org.apache.camel.main.MainListenerSupport() {
                @Override
                public void afterStart(org.apache.camel.main.BaseMainSupport m) {
                    started.countDown();
                }
            });
            java.util.concurrent.atomic.AtomicReference<Exception> failed = new java.util.concurrent.atomic.AtomicReference<>();
            Thread runner = new Thread(() -> {
                try {
                    main.run();
                } catch (Exception e) {
                    failed.set(e);
                    started.countDown();
                }
            }, "example-main");
            runner.start();
            try {
                if (!started.await(60, TimeUnit.SECONDS)) {
                    throw new AssertionError("Camel Main did not start within 60 s");
                }
                if (failed.get() != null) {
                    throw new AssertionError("Camel Main failed to start: " + failed.get(), failed.get());
                }
                CamelContext camel = main.getCamelContext();
                assertEquals(ServiceStatus.Started, camel.getRouteController().getRouteStatus("changes"));
                MockEndpoint changes = camel.getEndpoint("mock:changes", MockEndpoint.class);
                changes.expectedMinimumMessageCount(1);
                try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.superuser(), pg.password());
                        Statement s = c.createStatement()) {
                    s.execute("INSERT INTO accounts VALUES (1, 'ada', 0.00)");
                }
                changes.setResultWaitTime(30_000);
                changes.assertIsSatisfied();
                ChangeEvent event = changes.getExchanges().get(0).getMessage().getBody(ChangeEvent.class);
                assertNotNull(event);
                assertEquals("public.accounts", event.table().id().toString());
                assertEquals(1, event.after().get("id"));
                // values=typed (the default): numeric is a BigDecimal, not the text "0.00"
                assertEquals(new BigDecimal("0.00"), event.after().get("balance"));
            } finally {
                main.completed();
                runner.join(30_000);
            }
        }
    }
}
