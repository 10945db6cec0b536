package example;

import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.main.Main;

/**
 * Every committed transaction of the tables published by {@code example_pub}, change by change, with typed values.
 * Connection settings are properties ({@code -Dpg.host=...}, pg.port, pg.database, pg.user, pg.password).
 */
public final class PgOutputExample extends RouteBuilder {

    @Override
    public void configure() {
        from("pgoutput:example_slot?publication=example_pub&createSlot=true&createPublication=true"
                + "&host={{pg.host:localhost}}&port={{pg.port:5432}}&database={{pg.database:postgres}}"
                + "&user={{pg.user:postgres}}&password=RAW({{pg.password:}})")
                .routeId("changes")
                // the body is a ChangeBatch: one committed transaction (or a part of a huge one), in commit order
                .split(body())
                    .log("${body}")
                    .to("{{example.sink:log:example.changes}}");
    }

    public static void main(String[] args) throws Exception {
        Main main = new Main();
        main.configure().addRoutesBuilder(new PgOutputExample());
        main.run(args);
    }
}
