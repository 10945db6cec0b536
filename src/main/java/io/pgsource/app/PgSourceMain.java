package io.pgsource.app;

import io.pgsource.backfill.BackfillCommand;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import io.pgsource.sink.Destinations;
import io.pgsource.verify.VerifyCommand;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.camel.main.Main;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * {@code java -jar pgsource.jar}: reads the configuration, starts the embedded demo source when
 * {@code source.host} is unset, binds the processors and runs the routes with Camel Main.
 * Exit codes ({@link RunOutcome#exitCode()}): 0 done, or stopped by SIGINT or SIGTERM; 1 the sync failed; 2 the
 * configuration, the source or the destination is unusable.
 */
public final class PgSourceMain {
    private static final Logger LOG = LoggerFactory.getLogger(PgSourceMain.class);
    /** The run a stop signal ends; null while none runs. */
    private static final AtomicReference<RunOutcome> RUNNING = new AtomicReference<>();
    /** The first stop signal received (SIGINT, SIGTERM), or null. */
    private static final AtomicReference<String> SIGNALLED = new AtomicReference<>();

    private PgSourceMain() {
    }

    public static void main(String[] args) {
        // the application's console logging: set up here, not by the jar's presence on a class path
        ConsoleLogging.install();
        if (args.length > 0 && "check".equals(args[0])) {
            // a dry run: nothing is created, no Camel
            System.exit(CheckCommand.run(List.of(args).subList(1, args.length), System.getenv(), System.getProperties(),
                    System.out, System.err));
        }
        if (args.length > 0 && "discover".equals(args[0])) {
            // reads the source and writes nothing: no Camel, no signal handlers
            System.exit(DiscoverCommand.run(List.of(args).subList(1, args.length), System.getenv(), System.getProperties(),
                    System.out, System.err));
        }
        if (args.length > 0 && "status".equals(args[0])) {
            // asks the running instance's management server: no Camel, no signal handlers
            System.exit(StatusCommand.run(List.of(args).subList(1, args.length), System.getenv(), System.getProperties(),
                    System.out, System.err));
        }
        if (args.length > 0 && "backfill".equals(args[0])) {
            // a request to the running instance, not a run: no Camel, no signal handlers
            System.exit(BackfillCommand.run(List.of(args).subList(1, args.length), System.getenv(), System.getProperties(),
                    System.out, System.err));
        }
        if (args.length > 0 && ("verify".equals(args[0]) || "repair".equals(args[0]))) {
            // a comparison of the source with the destination, not a run
            VerifyCommand.quiet();
            System.exit(VerifyCommand.run("repair".equals(args[0]), List.of(args).subList(1, args.length), System.getenv(),
                    System.getProperties(), System.out, System.err));
        }
        for (String name : List.of("INT", "TERM")) {
            Signal.handle(new Signal(name), s -> stopOn("SIG" + s.getName(), s.getNumber(), DIRECT));
        }
        if (System.getProperty(Launcher.CHILD_PROPERTY) != null) {
            // run by the jar's launcher, which passes on the signals sent to it
            Launcher.followLauncher(PgSourceMain::passedOn);
        }
        int code = run(System.getenv(), System.getProperties());
        if (code == 0) {
            Launcher.preloadForArchive(); // only in a child JVM that writes the archive, which it keeps only after exit code 0
        }
        System.exit(code);
    }

    /** Stop signals seen, by the way they came: sent to this process, or passed on by the launcher. */
    private static final AtomicBoolean DIRECT = new AtomicBoolean();
    private static final AtomicBoolean PASSED = new AtomicBoolean();

    /** A signal the launcher received and passed on. */
    private static void passedOn(String signal) {
        switch (signal) {
            case "INT" -> stopOn("SIGINT", 2, PASSED);
            case "TERM" -> stopOn("SIGTERM", 15, PASSED);
            // what the JVM does on a SIGHUP of its own: its shutdown (Camel Main stops in its hook)
            case "HUP" -> System.exit(128 + 1);
            default -> LOG.debug("unknown request from the launcher: {}", signal);
        }
    }

    /**
     * SIGINT (Ctrl-C) and SIGTERM (docker stop, systemctl stop, Kubernetes) stop the run cleanly instead of starting the
     * JVM's shutdown, so the exit code says how the run ended (0 for a stop, not the JVM's 130 or 143). A second one exits
     * at once. Under the launcher a Ctrl-C reaches this JVM twice, directly and passed on: a second signal counts only
     * when it came the same way.
     */
    private static void stopOn(String name, int number, AtomicBoolean way) {
        if (way.getAndSet(true)) {
            LOG.warn("{} again: exiting now, without waiting for the clean shutdown", name);
            System.exit(128 + number);
        }
        if (!SIGNALLED.compareAndSet(null, name)) {
            // the stop under way, reported the other way too
            return;
        }
        LOG.info("{}: stopping cleanly (send it again to exit at once)", name);
        RunOutcome outcome = RUNNING.get();
        if (outcome != null) {
            outcome.stopRequested(name);
        }
    }

    /**
     * Stops the run in progress cleanly, as a signal does (its exit code is 0, or 1 for an unfinished sync.once run),
     * for a caller that runs pgsource in its own JVM; false when none is running.
     */
    static boolean stopRunning(String by) {
        RunOutcome outcome = RUNNING.get();
        if (outcome == null) {
            return false;
        }
        outcome.stopRequested(by);
        return true;
    }

    static final String METRICS = "camel.metrics.enabled";
    static final String HEALTH = "camel.health.enabled";

    /**
     * Camel's metrics and health checks are read only over HTTP ({@code /observe/metrics}, {@code /observe/health} and
     * the status page beside them): without a server to serve them ({@link #served}), making them is start-up time for
     * nobody (the metrics: Micrometer's registry, a timer on every route; the health checks: their registry and the
     * lookup of each check, 7-11 ms of the main thread's CPU in profiles of a sync.once run), so they are turned off.
     */
    static void unserved(Properties props, Map<String, String> env) {
        if (!served(props, env)) {
            props.setProperty(METRICS, "false");
            props.setProperty(HEALTH, "false");
        }
    }

    /**
     * Whether an HTTP server serves what Camel's metrics hold: the management server ({@code camel.management.enabled},
     * which serves /observe/metrics) or Camel's embedded server ({@code camel.server.enabled}): as the effective
     * configuration has it ({@link EffectiveProperties}: files, environment, system properties), else as the environment
     * has it for Camel ({@code CAMEL_SERVER_ENABLED}, a key no file lists).
     */
    static boolean served(Properties props, Map<String, String> env) {
        for (String key : List.of("camel.management.enabled", "camel.server.enabled")) {
            String value = props.getProperty(key);
            if (value == null) {
                value = env.get(EffectiveProperties.envName(key));
            }
            if (value != null && "true".equalsIgnoreCase(value.strip())) {
                return true;
            }
        }
        return false;
    }

    /** Runs until stopped (or, with sync.once, until the sync ended) and returns the exit code. */
    public static int run(Map<String, String> env, Properties systemProperties) {
        Properties props;
        Settings settings;
        try {
            props = EffectiveProperties.load(env, systemProperties);
            settings = new SettingsLoader(props::getProperty).load();
            Destinations.create(settings.destination().kind()).checkSettings(settings, settings.source().host() == null);
        } catch (ConfigurationException e) {
            LOG.error("{}", e.getMessage());
            return 2;
        }
        DemoSource demo = null;
        try {
            if (settings.source().host() == null) {
                demo = DemoSource.start(DemoSource.directory(props, settings));
                props.putAll(demo.overrides(settings));
                settings = new SettingsLoader(props::getProperty).load();
                LOG.info("Demo source: {}. To sync your own database set source.host, source.database, source.username and "
                        + "source.password in application.properties (or SOURCE_HOST, ... in the environment).", demo.describe());
            }
            if (SIGNALLED.get() != null) {
                // as for a run stopped later: a sync.once run did not finish
                RunOutcome stopped = new RunOutcome(settings.sync().once(), true, settings.sync().interval(), () -> { });
                stopped.stopRequested(SIGNALLED.get());
                int code = stopped.exitCode();
                LOG.info("pgsource stopped by {} before it started (exit code {})", SIGNALLED.get(), code);
                return code;
            }
            // the source's first connection and the discovery of its tables while Camel Main is made and boots (about 1 s
            // of class loading on one core of two): started as soon as the settings are final, before Camel Main is made
            // (under load the configuration class sometimes waited for it)
            SourcePrefetch.start(new PgSourceConnections(settings.source()), settings.source().schemas(), settings.source().tables());
            unserved(props, env);
            return runCamel(props, settings, demo);
        } catch (Exception e) {
            // the configuration, the source or the destination cannot be used: nothing ran
            LOG.error("{}", RunOutcome.message(e));
            LOG.debug("stack trace", e);
            return 2;
        } finally {
            if (demo != null) {
                demo.close();
            }
        }
    }

    private static int runCamel(Properties props, Settings settings, DemoSource demo) throws Exception {
        Main main = new Main();
        // the defaults bundled in the jar (EffectiveProperties merged them into the overrides too), kept off the class
        // path's root, where Camel Main would load them into any application that has the jar
        main.setPropertyPlaceholderLocations("classpath:" + EffectiveProperties.BUNDLED + ";optional=true");
        boolean once = settings.sync().once();
        props.setProperty("sync.interval", Long.toString(settings.sync().interval().toMillis()));
        props.setProperty("sync.repeat_count", once ? "1" : "0");
        main.setOverrideProperties(props);
        main.configure().withRoutesIncludePattern(routesPattern(settings.destination().kind()));
        // the end of the run (sync.once done, a failure no retry fixes) ends the application; its exit code comes from it
        RunOutcome outcome = new RunOutcome(once, true, settings.sync().interval(), main::completed);
        main.bind(RunOutcome.BEAN_NAME, outcome);
        RUNNING.set(outcome);
        if (SIGNALLED.get() != null) {
            outcome.stopRequested(SIGNALLED.get());
        }
        if (demo != null && !once) {
            main.configure().addRoutesBuilder(new DemoTrickleRoute(new PgSourceConnections(settings.source())));
        }
        LOG.info("Syncing {} ({}) from {}:{}/{} into destination '{}'{}{}", settings.source().schemas(), settings.source().replicationMethod(),
                settings.source().host(), settings.source().port(), settings.source().database(), settings.destination().kind(),
                where(settings.destination()),
                settings.source().replicationMethod() == ReplicationMethod.LOG_BASED
                        ? (once ? ": copy if needed, then stream until caught up" : ": copy if needed, then stream every change")
                        : once ? " once" : " every " + interval(settings.sync().interval()));
        try {
            main.run();
        } finally {
            RUNNING.set(null);
        }
        if (outcome.stoppedUnfinished()) {
            LOG.error("Stopped before the sync finished");
        }
        int code = outcome.exitCode(main.getExitCode());
        String output = output(settings.destination());
        if (output != null) {
            LOG.info("{}{}{}", output, outcome.error() == null ? ": the next run continues from them" : "",
                    demo == null ? "" : "; the demo database stays in " + demo.directory());
        }
        if (outcome.stoppedBy() != null) {
            LOG.info("pgsource stopped by {} after a clean shutdown{} (exit code {})", outcome.stoppedBy(),
                    once ? ", before the sync finished: the next run continues where this one stopped" : "", code);
        } else {
            LOG.info("pgsource stopped (exit code {})", code);
        }
        if (outcome.error() != null) {
            // last, after Camel's shutdown: what a user reads first is why, and how to fix it
            LOG.error("{}", outcome.error());
        }
        return code;
    }

    /** Where the output went, for the last lines of a run; null when the destination says nothing. */
    static String output(DestinationSettings destination) {
        return Destinations.create(destination.kind()).output(destination);
    }

    /** What the destination's output is told apart by (its directory, its URL), for the first line of a run. */
    private static String where(DestinationSettings destination) {
        String identity = Destinations.create(destination.kind()).outputIdentity(destination);
        return identity.isEmpty() ? "" : " (" + identity + ")";
    }

    /** The routes users edit: ./routes when run from the project, else the copies inside the jar. */
    static String routesPattern(String destination) {
        String dest = "destinations/" + destination + ".camel.yaml";
        if (Files.isDirectory(Path.of("routes"))) {
            return "file:routes/*.camel.yaml,file:routes/" + dest;
        }
        // the jar's routes by name: a wildcard makes Camel list every jar of the class path for a routes/ folder
        // (about 0.1-0.3 s of a short run's start-up); the jar holds exactly these
        StringBuilder pattern = new StringBuilder();
        for (String route : JAR_ROUTES) {
            pattern.append("classpath:routes/").append(route).append(',');
        }
        return pattern.append("classpath:routes/").append(dest).toString();
    }

    /** The routes/*.camel.yaml files the jar holds (the pom copies ./routes into it). */
    static final List<String> JAR_ROUTES = List.of("batch-query.camel.yaml", "log-replication.camel.yaml", "pipeline.camel.yaml");

    /** sync.interval as given: {@code 30s}, {@code 500ms} (not {@code 0s}) */
    private static String interval(java.time.Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
}
