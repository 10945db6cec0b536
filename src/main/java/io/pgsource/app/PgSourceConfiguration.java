package io.pgsource.app;

import io.pgsource.batch.BatchPageProcessor;
import io.pgsource.backfill.BackfillRequest;
import io.pgsource.backfill.Backfills;
import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.BatchWakeups;
import io.pgsource.batch.NotifyDataSource;
import io.pgsource.batch.NotifyTriggers;
import io.pgsource.batch.StreamTask;
import io.pgsource.catalog.Publications;
import io.pgsource.change.TableId;
import io.pgsource.batch.CopyProgress;
import io.pgsource.batch.SnapshotCopy;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.HaSettings;
import io.pgsource.config.InitialCopyMode;
import io.pgsource.pgoutput.SlotLostException;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import io.pgsource.batch.Bookmark;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.sink.Destination;
import io.pgsource.sink.DestinationContext;
import io.pgsource.sink.DestinationStep;
import io.pgsource.sink.Destinations;
import io.pgsource.state.PositionStore;
import io.pgsource.types.TypeRegistry;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ExecutorService;
import java.util.function.BooleanSupplier;
import java.util.function.IntPredicate;
import java.util.function.Predicate;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.LoggingLevel;
import org.apache.camel.cluster.CamelClusterService;
import org.apache.camel.component.file.cluster.FileLockClusterService;
import org.apache.camel.spi.PropertiesComponent;
import org.apache.camel.spi.CamelLogger;
import org.apache.camel.spi.Registry;
import org.apache.camel.support.LoggingExceptionHandler;
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
        // a value that is not a placeholder expression but holds "{{" (a schema named so) is taken as it is
        SettingsLoader loader = new SettingsLoader(key -> properties.resolveProperty(key)
                .or(() -> properties.resolveProperty(key + "?nested=false")).orElse(null));
        Settings settings = loader.load();
        if (settings.source().host() == null) {
            // no source named and not started by java -jar (which starts the demo before Camel): Camel JBang or another
            // Camel Main runtime gets the same zero-config demo
            settings = startDemo(context, properties, settings, loader);
        }
        idlePlatformHttp(context, properties);
        InitialCopyMode initialCopyMode = loader.initialCopy();
        PgSourceConnections connections = new PgSourceConnections(settings.source());
        BatchStreams streams = new BatchStreams(settings.source(), connections, settings.badInput().maxValueBytes());
        boolean createPublication = !"false".equalsIgnoreCase(properties.resolveProperty("source.create_publication").orElse("true").strip());
        List<String> publications = publications(settings, createPublication);
        if (settings.source().replicationMethod() == ReplicationMethod.LOG_BASED) {
            // the copy of log replication holds what the publications publish: their row filters and column lists
            streams.publishedBy(publications);
        }
        // connected while Camel Main booted (java -jar), else now: a wrong host, password or database shows here
        SourcePrefetch.Source source = SourcePrefetch.take(connections);
        TypeRegistry types = source.types();
        // the tables as the prefetch found them while Camel booted, when it looked for these schemas and tables
        streams.discovered(source.tables(settings.source().schemas(), settings.source().tables()));
        // discovering now shows every setting error before any route starts; the batch query's first run takes what it found
        List<StreamTask> tables = streams.streamsAtStart();
        LOG.info("Source {}: {} table(s) selected in schema(s) {}", connections.target(), tables.size(), settings.source().schemas());

        Registry registry = context.getRegistry();
        RunOutcome outcome = RunOutcome.of(context, settings.sync().interval());
        // the batch-query route consumer's exception handler: the outcome has reported a failed run already (one line),
        // so the consumer logs it, with its stack trace, at DEBUG only
        registry.bind("pgsourceReportedFailure", new LoggingExceptionHandler(context, new CamelLogger(RunOutcome.class.getName(), LoggingLevel.DEBUG)));
        registry.bind("sourceSettings", settings.source());
        registry.bind("sourceConnections", connections);
        registry.bind("typeRegistry", types);
        registry.bind("typeMapping", new TypeMappingProcessor(types));
        // the copies' own lines and gauges (initial copy, copies while streaming, backfills)
        CopyProgress copyProgress = new CopyProgress(settings.copy().progressInterval(),
                () -> context.getRegistry().findSingleByType(MeterRegistry.class));
        ProgressLog progressLog = new ProgressLog(context, settings.source().replicationSlot(), settings.sync().progressInterval(),
                copyProgress::copying);
        registry.bind(ProgressLog.BEAN_NAME, progressLog);
        context.addService(progressLog); // its timer: the stream's line on time, and while idle
        // the status page (/observe/status on the management server): one snapshot every sync.status_interval of the
        // copies, what was applied, the slot lag and the errors reported; registered before the capture starts
        StatusBoard status = new StatusBoard(context, settings, tables.stream().map(t -> t.table().id().toString()).toList(),
                copyProgress, progressLog, outcome);
        context.addService(status);
        context.addStartupListener(status);
        // the routes refer to these for the part they play in the capture; Java knows them by part, not by id
        CaptureRoute.bind(context);
        // log replication reads pgoutput's binary form while every column type has an exact binary decoder (cheaper for
        // the server's walsender and for the decoding here), else the text form: the same values either way
        registry.bind("binaryTypes", (IntPredicate) types::decodesBinary);
        Destination destination = openDestination(context, settings, tables.stream().map(t -> t.table().id()).toList(), connections);
        PositionStore positions = destination.positions();
        if (settings.badInput().deadLetterUri() != null && !destination.rejectsChanges()) {
            LOG.warn("destination.dead_letter_uri is set but destination={} never rejects a change: it is used by destinations"
                    + " that may refuse one (postgres)", destination.name());
        }
        registry.bind("positionStore", positions);
        registry.bind("batchStreams", streams);
        batchWakeups(context, settings, streams, connections, tables);
        // the batch query and the initial copy read each table's next page on these threads while the current one is applied
        ExecutorService readers = context.getExecutorServiceManager().newCachedThreadPool(this, "pgsource-page-reader");
        registry.bind("batchPage", new BatchPageProcessor(connections, positions, readers));

        // log replication: the consumer connects with the source's settings and copies through InitialCopy
        registry.bind("sourceDataSource", connections.dataSource());
        // the selected tables, for the publication pgsource creates when missing (a value known only after discovery)
        properties.addOverrideProperty("pgsource.publication_tables", uriValue(publicationTables(settings, tables, createPublication)));
        properties.addOverrideProperty("pgsource.publication_name", uriValue(Publications.list(publications)));
        // the selection by the table a change belongs to (a partition's to its root), so a wider publication's other tables
        // never reach the destination, while a table created later in a selected schema does
        List<String> schemas = settings.source().schemas();
        List<TableId> selected = settings.source().tables();
        registry.bind("capturedTables", (Predicate<TableId>) id -> schemas.contains(id.schema())
                && (selected.isEmpty() || selected.contains(id)));
        // table destinations commit small transactions waiting in line together (one commit, one stored position); event
        // destinations keep one exchange per transaction, as each line names its transaction
        properties.addOverrideProperty("pgsource.combine_transactions",
                Boolean.toString(destination.transactional()));
        // a large streamed transaction applied while in progress, into a destination transaction held open until its commit
        properties.addOverrideProperty("pgsource.apply_in_progress", Boolean.toString(destination.appliesInProgress()));
        String slot = settings.source().replicationSlot();
        HaSettings ha = settings.sync().ha();
        // with sync.ha the route consumes through master:<view>:pgoutput:..., active on the leader only
        properties.addOverrideProperty("pgsource.ha_master", ha.enabled() ? "master:" + LeaderOnlyStreaming.namespace(slot) + ":" : "");
        properties.addOverrideProperty("pgsource.ha_enabled", Boolean.toString(ha.enabled()));
        if (ha.mode() == HaSettings.Mode.FILE) {
            context.addService(fileLockClusterService(ha));
        } else if (ha.mode() == HaSettings.Mode.CLUSTER) {
            // Camel Main 4.17 binds camel.beans.* before this runs but adds cluster services to the context only after the
            // routes are created, too late for master: (No cluster service found): add the configured one now
            context.addService(configuredClusterService(registry));
        }
        BooleanSupplier leading = ha.enabled() ? () -> LeaderOnlyStreaming.isLeader(context, slot) : () -> true;
        // copies of single tables while the others stream: tables created or published while streaming, schema changes
        // only a copy follows exactly (the postgres and jsonl destinations say which)
        TableCopies tableCopies = new TableCopies(slot, connections, streams, positions, destination::copyReason, leading, readers);
        tableCopies.setCamelContext(context);
        // how every copy inside a snapshot reads: the initial copy's and those of single tables while streaming
        SnapshotCopy snapshotCopy = new SnapshotCopy(connections, readers, copyProgress, settings.copy().snapshotWorkers());
        tableCopies.snapshotCopy(snapshotCopy);
        registry.bind(TableCopies.BEAN_NAME, tableCopies);
        // tables re-copied in primary-key chunks between WAL watermarks while the others stream (pgsource backfill)
        String user = settings.source().username();
        String password = settings.source().password();
        Backfills backfills = new Backfills(connections, streams, positions, types, settings.copy().backfillChunkSize(),
                (tasks, reason) -> {
                    Map<TableId, String> reasons = new LinkedHashMap<>();
                    tasks.forEach(t -> reasons.put(t.table().id(), reason));
                    tableCopies.copy(tasks, reasons);
                }, () -> BackfillRequest.key(user, password));
        backfills.setCamelContext(context);
        backfills.copyProgress(copyProgress);
        registry.bind(Backfills.BEAN_NAME, backfills);
        // chunked copies need pgoutput's logical decoding messages (the watermarks), which PostgreSQL 14 brought
        boolean messages = source.serverMajor() >= 14;
        tableCopies.backfills(backfills, messages);
        InitialCopy initialCopy = new InitialCopy(connections, streams, positions, leading, readers, tableCopies, outcome, ha.enabled());
        initialCopy.setCamelContext(context);
        initialCopy.snapshotCopy(snapshotCopy);
        initialCopy.tablesAhead(destination::prepareCopy);
        if (initialCopyMode == InitialCopyMode.CHUNKED && settings.source().replicationMethod() == ReplicationMethod.LOG_BASED) {
            if (messages) {
                initialCopy.chunked(backfills);
            } else {
                LOG.info("source.initial_copy=chunked needs PostgreSQL 14 or newer (its pgoutput carries the chunks' watermarks);"
                        + " this source is older: the initial copy is made inside the new slot's exported snapshot");
            }
        }
        // a table taken out of the publication lost changes: once published again, the next start copies it again
        outcome.onSlotLost(lost -> {
            if (lost.reason() == SlotLostException.Reason.UNPUBLISHED) {
                tableCopies.lost(lost.tables());
            }
        });
        registry.bind("initialCopy", initialCopy);
        boolean createSlot = !"false".equalsIgnoreCase(properties.resolveProperty("source.create_slot").orElse("true").strip());
        LogReplicationStart logStart = new LogReplicationStart(slot, createSlot, settings.sync().resnapshot(), connections, streams,
                positions, outcome, tableCopies, initialCopy);
        logStart.backfills(backfills);
        logStart.destination(destination, tables.stream().map(t -> t.table().id()).toList());
        LeaderOnlyStreaming leaderOnly = ha.enabled() ? new LeaderOnlyStreaming(slot, logStart, refreshing(positions, tableCopies, backfills),
                connections) : null;
        context.addStartupListener(new CaptureStarter(settings.source().replicationMethod(), logStart, leaderOnly));
    }

    /**
     * The batch query's wake-ups (routes/batch-query.camel.yaml): the timer, and with source.notify the source's NOTIFY,
     * for which the triggers are installed when missing and pgevent gets its data source.
     */
    private static void batchWakeups(CamelContext context, Settings settings, BatchStreams streams, PgSourceConnections connections,
                                     List<StreamTask> tables) throws SQLException {
        PropertiesComponent properties = context.getPropertiesComponent();
        boolean batch = settings.source().replicationMethod() != ReplicationMethod.LOG_BASED;
        boolean notify = batch && settings.source().notifications().enabled() && !settings.sync().once();
        BatchWakeups wakeups = new BatchWakeups();
        context.getRegistry().bind("batchWakeups", wakeups);
        if (batch) {
            streams.wokenBy(wakeups);
        }
        // bound in any case: the batch-notify route is created (not started) without source.notify too, and connects only
        // with it; without it pgjdbc-ng's data source is made only if something connects
        if (notify) {
            var notifyDataSource = NotifyDataSource.of(settings.source());
            context.getRegistry().bind("pgsourceNotifyDataSource", notifyDataSource);
            try (Connection c = connections.open()) {
                NotifyTriggers.install(c, tables.stream().map(t -> t.table().id()).toList(), settings.source().notifications().channel());
            }
            NotifyDataSource.check(notifyDataSource, settings.source());
        } else {
            context.getRegistry().bind("pgsourceNotifyDataSource", NotifyDataSource.lazy(settings.source()));
        }
        properties.addOverrideProperty("pgsource.batch_query", Boolean.toString(batch));
        properties.addOverrideProperty("pgsource.batch_notify", Boolean.toString(notify));
        // the end of a sync.once run stops Camel, whose shutdown waits for the batch-query consumer's idle wait to end:
        // 50 ms of every such run's end at 50 ms, none to speak of at 5 ms; the consumer of a sync.once run is idle
        // only before its one run and after it, so the shorter wait costs nothing
        properties.addOverrideProperty(BATCH_POLL_TIMEOUT, settings.sync().once() ? "5" : "50");
    }

    /** The batch-query route's seda consumer's {@code pollTimeout} (ms). */
    static final String BATCH_POLL_TIMEOUT = "pgsource.batch_poll_timeout";

    /**
     * The positions, whose refresh (a new leader of sync.ha) also makes the table copies read them again, and the
     * backfills resume from them.
     */
    private static PositionStore refreshing(PositionStore positions, TableCopies tableCopies, Backfills backfills) {
        return new PositionStore() {
            @Override
            public java.util.Optional<String> load(String stream) {
                return positions.load(stream);
            }

            @Override
            public void save(String stream, String position) {
                positions.save(stream, position);
            }

            @Override
            public java.util.Optional<String> current(String stream) throws Exception {
                return positions.current(stream);
            }

            @Override
            public void saveAll(java.util.Map<String, String> all) {
                positions.saveAll(all);
            }

            @Override
            public void saveAllAfterData(java.util.Map<String, String> all) {
                positions.saveAllAfterData(all);
            }

            @Override
            public void flush() {
                positions.flush();
            }

            @Override
            public void preload(java.util.Collection<String> streams) throws Exception {
                positions.preload(streams);
            }

            @Override
            public void refresh() {
                positions.refresh();
                tableCopies.refresh();
                backfills.refresh();
            }
        };
    }

    /**
     * sync.ha=file: Camel's file-lock cluster service. The leader holds a lock on a file in the shared directory and
     * writes a heartbeat next to it every interval; a standby tries the lock once the heartbeat stopped for
     * missed_heartbeats intervals.
     */
    private static FileLockClusterService fileLockClusterService(HaSettings ha) {
        Path root = ha.root().toAbsolutePath();
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new ConfigurationException("sync.ha.root=" + ha.root() + " cannot be created (" + e.getMessage()
                    + "): use a directory every instance can write, on a filesystem they share");
        }
        if (!Files.isWritable(root)) {
            throw new ConfigurationException("sync.ha.root=" + ha.root() + " is not writable: the leader writes its lock file there");
        }
        FileLockClusterService cluster = new FileLockClusterService();
        cluster.setId(instanceId());
        cluster.setRoot(root.toString());
        cluster.setAcquireLockInterval(ha.interval().toMillis(), TimeUnit.MILLISECONDS);
        cluster.setAcquireLockDelay(ha.interval().toMillis(), TimeUnit.MILLISECONDS);
        cluster.setHeartbeatTimeoutMultiplier(ha.missedHeartbeats());
        return cluster;
    }

    /** sync.ha=cluster: the one CamelClusterService bean configured in Camel (camel.beans.*: Kubernetes, ZooKeeper, ...). */
    private static CamelClusterService configuredClusterService(Registry registry) {
        Set<CamelClusterService> found = registry.findByType(CamelClusterService.class);
        if (found.size() != 1) {
            throw new ConfigurationException("sync.ha=cluster needs exactly one CamelClusterService bean, found " + found.size()
                    + ": configure one with camel.beans, e.g. camel.beans.cluster=#class:org.apache.camel.component.kubernetes.cluster."
                    + "KubernetesClusterService (with camel-kubernetes on the classpath), or use sync.ha=file with sync.ha.root");
        }
        CamelClusterService service = found.iterator().next();
        if (service.getId() == null) {
            service.setId(instanceId());
        }
        return service;
    }

    /** pid@host: names this instance in the logs of high availability. */
    private static String instanceId() {
        return ManagementFactory.getRuntimeMXBean().getName();
    }

    /**
     * The publications log replication streams: {@code source.publication_name} (one or a list). When pgsource may
     * create publications and one is named, a second one goes with it for the tables without a key or replica identity,
     * which publishes only inserts and truncates: PostgreSQL rejects UPDATE and DELETE on such a table while a
     * publication that publishes them includes it, and pgsource must not make the application's writes fail. It is
     * created only when such a table needs it.
     */
    static List<String> publications(Settings settings, boolean createPublication) {
        List<String> names = new ArrayList<>(Publications.names(settings.source().publicationName()));
        if (createPublication && names.size() == 1) {
            names.add(Publications.keylessCompanion(names.get(0)));
        }
        return names;
    }

    /**
     * The selected tables, for the publication pgsource creates. Camel resolves {@code {{...}}} in every endpoint option
     * value, so a table whose name holds one cannot be named there: then pgsource cannot create the publication, and
     * with {@code source.create_publication=false} the checks cover the whole existing publication.
     */
    static String publicationTables(Settings settings, List<StreamTask> tables, boolean createPublication) {
        List<String> names = tables.stream().map(t -> t.table().id().quoted()).toList();
        List<String> braced = names.stream().filter(n -> n.contains("{{") || n.contains("}}")).toList();
        if (braced.isEmpty() || settings.source().replicationMethod() != ReplicationMethod.LOG_BASED) {
            return String.join(",", names);
        }
        if (createPublication) {
            throw new ConfigurationException("table " + braced.get(0) + " has {{ or }} in its name, which Camel"
                    + " reads as a property placeholder in the publicationTables option, so pgsource cannot create the publication"
                    + " for it. Create it yourself (CREATE PUBLICATION " + TableId.quoteIdent(Publications.names(settings.source().publicationName()).get(0))
                    + " FOR TABLE " + String.join(", ", names) + ";) and set source.create_publication=false");
        }
        return "";
    }

    /**
     * A value as an endpoint URI parameter, kept exactly: Camel's RAW syntax, so {@code &}, {@code %}, {@code +} and
     * {@code #} in a name stay what they are. (The routes read it with {@code ?nested=false}, so {@code {{...}}} inside
     * a name is not taken for a property placeholder.) A raw value ends at its closing bracket followed by {@code &} or
     * the end, so the bracket kind the value does not hold is chosen.
     */
    static String uriValue(String value) {
        return value.contains(")") && !value.contains("}") ? "RAW{" + value + "}" : "RAW(" + value + ")";
    }

    /**
     * Opens the configured destination (the registered one {@code destination} names, {@link Destinations}) and binds the
     * step its route file calls ({@value DestinationStep#BEAN_NAME}), which stops it with Camel.
     */
    private static Destination openDestination(CamelContext context, Settings settings, List<TableId> captured,
            PgSourceConnections connections) throws Exception {
        Destination destination = Destinations.create(settings.destination().kind());
        // a table whose copy is complete stores this bookmark (a benchmark aid of the discard destination reports it)
        String copied = new Bookmark(ReplicationMethod.FULL_TABLE, List.of(), List.of(), true).serialize();
        destination.open(new DestinationContext(context, settings, captured, connections, copied));
        DestinationStep step = new DestinationStep(destination);
        context.addService(step, true, true);
        context.getRegistry().bind(DestinationStep.BEAN_NAME, step);
        return destination;
    }

    /**
     * The embedded demo database as {@code java -jar} starts it (see {@link PgSourceMain}), for a runtime that starts
     * Camel itself: its settings override the source's, its trickle of changes runs as a route, and it stops with the
     * context.
     */
    private static Settings startDemo(CamelContext context, PropertiesComponent properties, Settings settings,
            SettingsLoader loader) throws Exception {
        java.util.Properties configured = new java.util.Properties();
        properties.resolveProperty("demo.directory").ifPresent(v -> configured.setProperty("demo.directory", v));
        Destinations.create(settings.destination().kind()).checkSettings(settings, true);
        DemoSource demo = DemoSource.start(DemoSource.directory(configured, settings));
        // a runtime that stops Camel from a JVM shutdown hook (Camel JBang) runs the server's hook at the same time:
        // the server waits for the context's stop (the notifier below closes it), up to the shutdown timeout and more
        demo.closeAtJvmExitAfter(java.time.Duration.ofSeconds(
                context.getShutdownStrategy().getTimeUnit().toSeconds(context.getShutdownStrategy().getTimeout()) + 15));
        // closed once the context stopped, after the routes that read it (as java -jar closes it after Camel's run)
        context.getManagementStrategy().addEventNotifier(new org.apache.camel.support.SimpleEventNotifierSupport() {
            @Override
            public boolean isEnabled(org.apache.camel.spi.CamelEvent event) {
                return event instanceof org.apache.camel.spi.CamelEvent.CamelContextStoppedEvent;
            }

            @Override
            public void notify(org.apache.camel.spi.CamelEvent event) {
                demo.close();
            }
        });
        demo.overrides(settings).forEach((k, v) -> properties.addOverrideProperty((String) k, (String) v));
        Settings demoSettings = loader.load();
        LOG.info("Demo source: {}. To sync your own database set source.host, source.database, source.username and "
                + "source.password in application.properties (or SOURCE_HOST, ... in the environment).", demo.describe());
        if (!demoSettings.sync().once()) {
            context.addRoutes(new DemoTrickleRoute(new PgSourceConnections(demoSettings.source())));
        }
        return demoSettings;
    }

    /**
     * camel-micrometer-prometheus (camel.metrics.enabled) looks the platform-http component up when it starts, to serve
     * /observe/metrics on the management server. Camel JBang makes that component by starting an HTTP server on port
     * 8080 of its own, which looks the component up again while it is being made: "Circular dependency detected, the
     * component platform-http is already being created" (Camel 4.17). With neither the management server nor
     * camel.server enabled nothing is served over HTTP, so an idle component answers the lookup, in every runtime.
     */
    private static void idlePlatformHttp(CamelContext context, PropertiesComponent properties) {
        boolean served = java.util.stream.Stream.of("camel.management.enabled", "camel.server.enabled")
                .anyMatch(key -> "true".equalsIgnoreCase(properties.resolveProperty(key).orElse("false").strip()));
        // without metrics (java -jar turns them off when nothing serves them) nothing looks the component up
        boolean metrics = "true".equalsIgnoreCase(properties.resolveProperty("camel.metrics.enabled").orElse("false").strip());
        if (!served && metrics && context.hasComponent("platform-http") == null) {
            context.addComponent("platform-http", new org.apache.camel.component.platform.http.PlatformHttpComponent());
        }
    }
}
