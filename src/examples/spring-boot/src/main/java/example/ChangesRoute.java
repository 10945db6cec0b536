package example;

import org.apache.camel.builder.RouteBuilder;
import org.springframework.stereotype.Component;

/**
 * Every committed transaction of the tables published by {@code pg.publication}, change by change, with typed values.
 * The settings are Spring properties ({@code application.properties}, {@code PG_HOST}-style environment variables,
 * {@code --pg.host=...}), which camel-spring-boot hands to Camel's placeholders.
 */
@Component
public class ChangesRoute extends RouteBuilder {

    @Override
    public void configure() {
        from("pgoutput:{{pg.slot}}?publication={{pg.publication}}&createSlot=true&createPublication=true"
                + "&host={{pg.host}}&port={{pg.port}}&database={{pg.database}}&user={{pg.user}}&password=RAW({{pg.password}})")
                .routeId("changes")
                // the body is a ChangeBatch: one committed transaction (or a part of a huge one), in commit order
                .split(body())
                    .log("${body}")
                    .to("{{example.sink}}");
    }
}
