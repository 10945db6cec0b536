package example;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.embedded.EmbeddedPostgres;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import org.apache.camel.CamelContext;
import org.apache.camel.ServiceStatus;
import org.apache.camel.component.mock.MockEndpoint;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The Spring Boot application starts with the pgoutput: route running against a real PostgreSQL (pgsource's embedded
 * launcher, test scope), and a committed row arrives with typed values.
 */
@SpringBootTest(properties = {"example.sink=mock:changes", "camel.main.run-controller=false"})
class PgOutputApplicationTest {
    private static EmbeddedPostgres pg;

    @Autowired
    private CamelContext camel;

    @DynamicPropertySource
    static void postgres(DynamicPropertyRegistry registry) throws Exception {
        pg = EmbeddedPostgres.builder().start();
        try (Connection c = connect(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2))");
            // made here rather than by the route's createSlot/createPublication (which then find them): the consumer
            // creates a missing slot on its own thread after the route started, and a row inserted before that would
            // belong to the slot's snapshot, not to its stream
            s.execute("CREATE PUBLICATION example_pub FOR TABLE accounts");
            s.execute("SELECT pg_create_logical_replication_slot('example_slot', 'pgoutput')");
        }
        registry.add("pg.host", pg::host);
        registry.add("pg.port", pg::port);
        registry.add("pg.user", pg::superuser);
        registry.add("pg.password", pg::password);
    }

    @AfterAll
    static void stop() {
        if (pg != null) {
            pg.close();
        }
    }

    private static Connection connect() throws Exception {
        return DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.superuser(), pg.password());
    }

    @Test
    void theRouteStartsAndACommittedRowArrivesTyped() throws Exception {
        assertThat(camel.getRouteController().getRouteStatus("changes")).isEqualTo(ServiceStatus.Started);
        MockEndpoint changes = camel.getEndpoint("mock:changes", MockEndpoint.class);
        changes.expectedMinimumMessageCount(1);
        changes.setResultWaitTime(30_000);
        try (Connection c = connect(); Statement s = c.createStatement()) {
            s.execute("INSERT INTO accounts VALUES (1, 'ada', 0.00)");
        }
        changes.assertIsSatisfied();
        ChangeEvent event = changes.getExchanges().get(0).getMessage().getBody(ChangeEvent.class);
        assertThat(event.table().id().toString()).isEqualTo("public.accounts");
        // values=typed (the default): numeric is a BigDecimal, not the text "0.00"
        assertThat(event.after().get("balance")).isEqualTo(new BigDecimal("0.00"));
    }
}
