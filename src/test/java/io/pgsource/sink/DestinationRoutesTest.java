package io.pgsource.sink;

import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.page;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.ConfigurationException;
import io.pgsource.sink.endpoint.EndpointSink;
import io.pgsource.sink.jdbc.PostgresSink;
import io.pgsource.sink.jsonl.JsonLinesSink;
import io.pgsource.sink.log.LogSink;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelExecutionException;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The route files in routes/destinations load and deliver batches to their destination. */
class DestinationRoutesTest {
    @TempDir
    Path dir;

    private final TableSchema t = table("s", "t", List.of("id"), col("id", "bigint"), col("v", "text"));

    private static CamelContext camel(String routeFile, Map<String, Object> beans) throws Exception {
        CamelContext camel = new DefaultCamelContext();
        beans.forEach(camel.getRegistry()::bind);
        // what the endpoint destination sets when it opens: its route sends there
        camel.getPropertiesComponent().addInitialProperty(EndpointSink.URI_PROPERTY, "seda:endpoint-${header.PgSourceTable}");
        PluginHelper.getRoutesLoader(camel).loadRoutes(ResourceHelper.resolveResource(camel, "file:routes/destinations/" + routeFile));
        camel.start();
        return camel;
    }

    @Test
    void jsonlRoute() throws Exception {
        JsonLinesSink sink = new JsonLinesSink(dir);
        try (CamelContext camel = camel("jsonl.camel.yaml", Map.of(DestinationStep.BEAN_NAME, new DestinationStep(sink)))) {
            assertThat(camel.getRoute("destination-jsonl")).isNotNull();
            camel.createProducerTemplate().sendBody("direct:destination", batch(page("s.t", "1"), insert(row(t, 1L, "a"))));
        }
        assertThat(Files.readAllLines(dir.resolve("s.t.jsonl"))).hasSize(1);
        assertThat(sink.positions().load("s.t")).contains("1");
    }

    @Test
    void logRoute() throws Exception {
        LogSink sink = new LogSink();
        try (CamelContext camel = camel("log.camel.yaml", Map.of(DestinationStep.BEAN_NAME, new DestinationStep(sink)))) {
            assertThat(camel.getRoute("destination-log")).isNotNull();
            camel.createProducerTemplate().sendBody("direct:destination", batch(page("s.t", "3"), insert(row(t, 1L, "a"))));
        }
        assertThat(sink.positions().load("s.t")).contains("3");
    }

    @Test
    void postgresRouteAppliesAndReportsFailures() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String db = pg.createDatabase("sink_routes");
        PostgresSink sink = new PostgresSink(new DestinationSettings("postgres", pg.jdbcUrl(db), pg.user(), pg.password(), null, null));
        try (CamelContext camel = camel("postgres.camel.yaml",
                Map.of(DestinationStep.BEAN_NAME, new DestinationStep(sink)))) {
            assertThat(camel.getRoute("destination-postgres")).isNotNull();
            camel.createProducerTemplate().sendBody("direct:destination", batch(page("s.t", "1"), insert(row(t, 1L, "a"))));
            assertThatThrownBy(() -> camel.createProducerTemplate().sendBody("direct:destination",
                    batch(page("s.t", "2"), insert(row(t, 2L, "b")), insert(row(t, null, "no key")))))
                    .isInstanceOf(CamelExecutionException.class)
                    .cause().hasMessageContaining("rolled back");
        }
        try (Connection c = pg.connect(db); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM s.t")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("1:a");
        }
        assertThat(sink.positions().load("s.t")).contains("1");
        sink.stop();
    }

    @Test
    void everyRegisteredDestinationHasItsRouteFileAndTheRegistryNamesThemAll() throws Exception {
        assertThat(Destinations.names()).contains("discard", "endpoint", "jsonl", "log", "postgres");
        for (String name : Destinations.names()) {
            assertThat(Destinations.create(name).name()).isEqualTo(name);
            Map<String, Object> beans = new java.util.HashMap<>(Map.of(DestinationStep.BEAN_NAME, new DestinationStep(Destinations.create(name))));
            if (name.equals(EndpointSink.NAME)) {
                // bound by the destination's open, which this test does not call
                beans.put(EndpointSink.SEND_ROUTE_POLICY, new org.apache.camel.support.RoutePolicySupport() { });
            }
            try (CamelContext camel = camel(name + ".camel.yaml", beans)) {
                assertThat(camel.getRoute("destination-" + name)).as(name).isNotNull();
            }
        }
        assertThatThrownBy(() -> Destinations.create("nosuch"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("destination=nosuch is not a registered destination: set destination to one of "
                        + String.join(", ", Destinations.names()));
    }
}
