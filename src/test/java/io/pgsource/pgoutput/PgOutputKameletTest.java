package io.pgsource.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import java.math.BigDecimal;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.component.mock.MockEndpoint;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The pgoutput-source Kamelet the jar ships (kamelets/pgoutput-source.kamelet.yaml, found where camel-kamelet looks by
 * default), run as a Camel user runs it, against a real PostgreSQL: one exchange per change, in commit order, with
 * typed values.
 */
class PgOutputKameletTest extends CamelTestSupport {
    private static PgOutputTestSupport db;
    private static String slot;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_kamelet");
        db.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(12,2))",
                "CREATE PUBLICATION accounts_pub FOR TABLE accounts");
        // made before the route starts: a slot the Kamelet created itself would exist only once its consumer streams
        slot = db.createSlot("kamelet");
    }

    @AfterAll
    static void dropSlots() throws Exception {
        db.dropSlots();
    }

    @Override
    protected RouteBuilder createRouteBuilder() {
        return new RouteBuilder() {
            @Override
            public void configure() {
                from("kamelet:pgoutput-source?serverName=" + db.pg.host() + "&serverPort=" + db.pg.port() + "&databaseName="
                        + db.database + "&username=" + db.pg.user() + "&password=RAW(" + db.pg.password() + ")&slotName=" + slot
                        + "&publicationName=accounts_pub&createPublication=false")
                        .routeId("kamelet-user")
                        .to("mock:changes");
            }
        };
    }

    @Test
    void eachCommittedChangeArrivesAsATypedChangeEvent() throws Exception {
        MockEndpoint changes = getMockEndpoint("mock:changes");
        changes.expectedMessageCount(3);
        db.transaction("INSERT INTO accounts VALUES (1, 10.00), (2, 20.50)");
        db.transaction("UPDATE accounts SET balance = 11.00 WHERE id = 1");
        changes.assertIsSatisfied(20_000);

        ChangeEvent first = changes.getExchanges().get(0).getMessage().getBody(ChangeEvent.class);
        assertThat(first.op()).isEqualTo(Op.INSERT);
        assertThat(first.table().id().toString()).isEqualTo("public.accounts");
        assertThat(first.after().get("balance")).isEqualTo(new BigDecimal("10.00"));
        ChangeEvent update = changes.getExchanges().get(2).getMessage().getBody(ChangeEvent.class);
        assertThat(update.op()).isEqualTo(Op.UPDATE);
        assertThat(update.after().get("balance")).isEqualTo(new BigDecimal("11.00"));
    }
}
