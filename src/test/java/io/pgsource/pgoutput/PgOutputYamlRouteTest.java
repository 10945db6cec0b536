package io.pgsource.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import org.apache.camel.component.mock.MockEndpoint;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The component on its own: plain YAML and XML routes, as any Camel runtime with the jar loads them. */
class PgOutputYamlRouteTest extends CamelTestSupport {
    private static PgOutputTestSupport db;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_yaml");
        db.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric)", "CREATE PUBLICATION orders_pub FOR TABLE orders");
    }

    @AfterAll
    static void dropSlots() throws Exception {
        db.dropSlots();
    }

    @Test
    void aYamlRouteReadsTheSlotIntoAMockEndpoint() throws Exception {
        String slot = db.createSlot("yaml");
        String yaml = """
                - route:
                    id: yaml-pgoutput
                    from:
                      uri: pgoutput:%s
                      parameters:
                        publication: orders_pub
                        host: "%s"
                        port: %d
                        database: "%s"
                        user: "%s"
                        password: "RAW(%s)"
                        statusInterval: 1s
                        maxBatchSize: 100
                      steps:
                        - to: mock:changes
                """.formatted(slot, db.pg.host(), db.pg.port(), db.database, db.pg.user(), db.pg.password());
        MockEndpoint changes = getMockEndpoint("mock:changes");
        changes.expectedMessageCount(2);
        changes.expectedHeaderValuesReceivedInAnyOrder(ChangeHeaders.SLOT, slot, slot);
        PluginHelper.getRoutesLoader(context).loadRoutes(ResourceHelper.fromString("pgoutput.camel.yaml", yaml));

        long first = db.transaction("INSERT INTO orders VALUES (1, 9.99)");
        long second = db.transaction("UPDATE orders SET total = 10.50 WHERE id = 1");
        changes.assertIsSatisfied(20_000);

        assertThat(changes.getExchanges()).extracting(e -> e.getMessage().getHeader(ChangeHeaders.TX_ID)).containsExactly(first, second);
        ChangeBatch batch = changes.getExchanges().get(1).getMessage().getBody(ChangeBatch.class);
        // values=typed, the default: pgsource's canonical Java values, not PostgreSQL's text
        assertThat(batch.get(0).after().get("total")).isEqualTo(new java.math.BigDecimal("10.50"));
        assertThat(batch.get(0).after().get("id")).isEqualTo(1);

        // options were set through the generated configurer, not reflection
        PgOutputEndpoint endpoint = context.getEndpoint(context.getRoute("yaml-pgoutput").getEndpoint().getEndpointUri(),
                PgOutputEndpoint.class);
        assertThat(endpoint.getComponent().getEndpointPropertyConfigurer()).isInstanceOf(PgOutputEndpointConfigurer.class);
        assertThat(endpoint.getConfiguration().getStatusInterval()).isEqualTo(1000);
        assertThat(endpoint.getConfiguration().getMaxBatchSize()).isEqualTo(100);
    }

    @Test
    void anXmlRouteWorksToo() throws Exception {
        String slot = db.createSlot("xml");
        String uri = db.uri(slot, "orders_pub", "").replace("&", "&amp;");
        String xml = """
                <routes xmlns="http://camel.apache.org/schema/xml-io">
                  <route id="xml-pgoutput">
                    <from uri="%s"/>
                    <to uri="mock:xml"/>
                  </route>
                </routes>
                """.formatted(uri);
        MockEndpoint mock = getMockEndpoint("mock:xml");
        mock.expectedMessageCount(1);
        PluginHelper.getRoutesLoader(context).loadRoutes(ResourceHelper.fromString("pgoutput.camel.xml", xml));
        db.transaction("INSERT INTO orders VALUES (2, 1)");
        mock.assertIsSatisfied(20_000);
    }
}
