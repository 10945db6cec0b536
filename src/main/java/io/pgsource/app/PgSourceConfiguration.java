package io.pgsource.app;

import io.pgsource.batch.BatchPageProcessor;
import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.StreamTask;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.route.UpsertDeleteRouting;
import io.pgsource.sink.discard.DiscardSink;
import io.pgsource.sink.jdbc.PostgresSink;
import io.pgsource.sink.jsonl.JsonLinesSink;
import io.pgsource.sink.log.LogSink;
import io.pgsource.state.PositionStore;
import io.pgsource.types.TypeRegistry;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.spi.Registry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the beans the routes refer to by name, from the configuration in Camel's properties
 * ({@code application.properties}, environment, system properties). Listed in {@code camel.main.configuration-classes},
 * so the routes run the same under {@code java -jar}, Camel JBang or any Camel Main runtime that has the jar.
 *
 * <p>It checks the source before any route starts (reachable, credentials, schemas, tables), so a wrong setting
 * stops pgsource at once with an error that names the fix.
 */
public class PgSourceConfiguration implements CamelConfiguration {
    private static final Logger LOG = LoggerFactory.getLogger(PgSourceConfiguration.class);

    @Override
    public void configure(CamelContext context) throws Exception {
        PropertiesComponent properties = context.getPropertiesComponent();
        Settings settings = new SettingsLoader(key -> properties.resolveProperty(key).orElse(null)).load();
        PgSourceConnections connections = new PgSourceConnections(settings.source());
        BatchStreams streams = new BatchStreams(settings.source(), connections);
        TypeRegistry types = loadTypes(connections);
        // discovering now shows every setting error before any route starts
        List<StreamTask> tables = streams.streams();
        LOG.info("Source {}: {} table(s) selected in schema(s) {}", connections.target(), tables.size(), settings.source().schemas());

        Registry registry = context.getRegistry();
        registry.bind("sourceSettings", settings.source());
        registry.bind("sourceConnections", connections);
        registry.bind("typeRegistry", types);
        registry.bind("typeMapping", new TypeMappingProcessor(types));
        PositionStore positions = bindDestination(context, settings);
        registry.bind("positionStore", positions);
        registry.bind("batchStreams", streams);
        registry.bind("batchPage", new BatchPageProcessor(connections, positions));

        // log replication: the consumer connects with the source's settings and copies through InitialCopy
        registry.bind("sourceDataSource", connections.dataSource());
        // the selected tables, for the publication pgsource creates when missing (a value known only after discovery)
        properties.addOverrideProperty("pgsource.publication_tables",
                String.join(",", tables.stream().map(t -> t.table().id().quoted()).toList()));
        InitialCopy initialCopy = new InitialCopy(connections, streams, positions);
        initialCopy.setCamelContext(context);
        registry.bind("initialCopy", initialCopy);
        LogReplicationStart logStart = new LogReplicationStart(settings.source().replicationSlot(), connections, streams, positions);
        context.addStartupListener(new CaptureStarter(settings.source().replicationMethod(), logStart));
    }

    /** Connects once and loads the source's types (a wrong host, password or database shows now). */
    private static TypeRegistry loadTypes(PgSourceConnections connections) throws SQLException {
        try (Connection c = connections.open()) {
            return TypeRegistry.load(c);
        }
    }

    private static PositionStore bindDestination(CamelContext context, Settings settings) throws Exception {
        Registry registry = context.getRegistry();
        switch (settings.destination().kind()) {
            case "postgres" -> {
                registry.bind(UpsertDeleteRouting.BEAN_NAME, new UpsertDeleteRouting());
                PostgresSink sink = new PostgresSink(settings.destination());
                context.addService(sink, true, true);
                registry.bind(PostgresSink.BEAN_NAME, sink);
                return sink.positionStore();
            }
            case "discard" -> {
                // benchmark aids, read only here: -Ddestination.discard.assume_copied=true, -Ddestination.discard.latency_file=...
                PropertiesComponent properties = context.getPropertiesComponent();
                boolean assumeCopied = Boolean.parseBoolean(properties.resolveProperty("destination.discard.assume_copied").orElse("false").strip());
                String latencyFile = properties.resolveProperty("destination.discard.latency_file").orElse("").strip();
                DiscardSink sink = new DiscardSink(assumeCopied, latencyFile.isEmpty() ? null : Path.of(latencyFile));
                context.addService(sink, true, true);
                registry.bind(DiscardSink.BEAN_NAME, sink);
                return sink.positionStore();
            }
            case "log" -> {
                LogSink sink = new LogSink();
                registry.bind(LogSink.BEAN_NAME, sink);
                return sink.positionStore();
            }
            default -> {
                JsonLinesSink sink = new JsonLinesSink(settings.destination());
                context.addService(sink, true, true);
                registry.bind(JsonLinesSink.BEAN_NAME, sink);
                return sink.positionStore();
            }
        }
    }
}
