package io.pgsource.app;

import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.StreamTask;
import io.pgsource.catalog.CatalogException;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import io.pgsource.pgoutput.PgOutputConfiguration;
import io.pgsource.pgoutput.PrerequisiteException;
import io.pgsource.pgoutput.SetupDryRun;
import io.pgsource.sink.Destination;
import io.pgsource.sink.Destinations;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * {@code java -jar pgsource.jar check}: every prerequisite of a run, source and destination, as a dry run that leaves
 * nothing behind. The configuration is read as a run reads it; the source is connected and the selected tables found;
 * log replication's checks run as a start runs them, the publications a
 * start would create or extend being created inside a transaction that is rolled back (so a missing privilege shows with
 * its fix) and the slot only looked at (the tables' checks include the role's SELECT on each, as a start's do); the batch query's replication keys are checked; the destination is connected
 * and asked whether it may create what a start creates. Prints one line per check ({@code ok} or {@code FAIL} with the
 * fix) and exits 0 when a run can start, 2 when not.
 */
public final class CheckCommand {
    private CheckCommand() {
    }

    /** Runs the command; returns the exit code: 0 every check passed, 2 one failed. */
    public static int run(List<String> args, Map<String, String> env, Properties system, PrintStream out, PrintStream err) {
        if (!args.isEmpty()) {
            err.println("check takes no arguments (" + String.join(" ", args) + "): it checks the configuration a run would use");
            return 2;
        }
        Settings settings;
        Destination destination;
        try {
            Properties props = EffectiveProperties.load(env, system);
            settings = new SettingsLoader(props::getProperty).load();
            if (settings.source().host() == null) {
                throw new ConfigurationException("source.host is empty, so a run starts the embedded demo database, which needs "
                        + "no check: set source.host, source.database, source.username and source.password to check your own");
            }
            destination = Destinations.create(settings.destination().kind());
            destination.checkSettings(settings, false);
            boolean createPublication = !"false".equalsIgnoreCase(props.getProperty("source.create_publication", "true").strip());
            boolean createSlot = !"false".equalsIgnoreCase(props.getProperty("source.create_slot", "true").strip());
            return new Checks(settings, destination, createPublication, createSlot, out).run();
        } catch (ConfigurationException | IllegalArgumentException e) {
            out.println("FAIL configuration: " + e.getMessage());
            return 2;
        }
    }

    /** One run of the checks. */
    private static final class Checks {
        private final Settings settings;
        private final Destination destination;
        private final boolean createPublication;
        private final boolean createSlot;
        private final PrintStream out;
        private boolean failed;

        Checks(Settings settings, Destination destination, boolean createPublication, boolean createSlot, PrintStream out) {
            this.settings = settings;
            this.destination = destination;
            this.createPublication = createPublication;
            this.createSlot = createSlot;
            this.out = out;
        }

        int run() {
            out.println("ok   configuration: source.replication_method=" + settings.source().replicationMethod() + ", destination="
                    + destination.name());
            source();
            try {
                String what = destination.check(settings);
                out.println(what == null ? "ok   destination " + destination.name() + ": nothing to check before a run"
                        : "ok   destination " + destination.name() + ": " + what);
            } catch (Exception e) {
                fail("destination " + destination.name(), e.getMessage());
            }
            out.println(failed ? "A run would stop: fix the lines marked FAIL, then check again"
                    : "Every check passed: a run can start");
            return failed ? 2 : 0;
        }

        private void source() {
            PgSourceConnections connections = new PgSourceConnections(settings.source());
            try (Connection c = connections.open()) {
                out.println("ok   source: connected to " + connections.target());
            } catch (ConfigurationException e) {
                fail("source", e.getMessage());
                return;
            } catch (SQLException e) {
                fail("source", e.getMessage());
                return;
            }
            List<StreamTask> tables;
            try {
                BatchStreams streams = new BatchStreams(settings.source(), connections, settings.badInput().maxValueBytes());
                List<String> publications = PgSourceConfiguration.publications(settings, createPublication);
                if (settings.source().replicationMethod() == ReplicationMethod.LOG_BASED) {
                    streams.publishedBy(publications);
                }
                tables = streams.streams();
                out.println("ok   tables: " + tables.size() + " selected by source.schema=" + String.join(",", settings.source().schemas())
                        + (settings.source().tables().isEmpty() ? "" : " and source.tables"));
                if (settings.source().replicationMethod() == ReplicationMethod.LOG_BASED) {
                    logReplication(connections, tables, publications);
                }
            } catch (ConfigurationException | CatalogException | IllegalArgumentException e) {
                tablesFailed(e.getMessage());
            } catch (SQLException e) {
                tablesFailed(e.getMessage());
            }
        }

        private void tablesFailed(String message) {
            fail("tables", message);
            if (settings.source().replicationMethod() == ReplicationMethod.LOG_BASED) {
                out.println("--   log replication: checked once the tables pass (the publications depend on them)");
            }
        }

        /** Log replication's start-up checks, as a dry run. */
        private void logReplication(PgSourceConnections connections, List<StreamTask> tables, List<String> publications) {
            PgOutputConfiguration options = new PgOutputConfiguration();
            options.setSlot(settings.source().replicationSlot());
            options.setPublication(io.pgsource.catalog.Publications.list(publications));
            options.setCreatePublication(createPublication);
            options.setCreateSlot(createSlot);
            options.setPublicationTables(PgSourceConfiguration.publicationTables(settings, tables, createPublication));
            try (Connection c = connections.open()) {
                SetupDryRun.Result result = SetupDryRun.run(options, c);
                out.println("ok   log replication: wal_level=logical, the role may replicate, slot "
                        + settings.source().replicationSlot() + (result.slotExists() ? " exists" : " is created by the first run"
                        + " (which copies every table)"));
                if (result.wouldRun().isEmpty()) {
                    out.println("ok   publications: " + String.join(", ", publications) + " publish every selected table");
                } else {
                    out.println("ok   publications: a start runs (tried here and rolled back): " + String.join("; ", result.wouldRun()));
                }
            } catch (PrerequisiteException e) {
                fail("log replication", e.getMessage());
            } catch (SQLException e) {
                fail("log replication", e.getMessage());
            }
        }

        private void fail(String what, String message) {
            failed = true;
            out.println("FAIL " + what + ": " + message);
        }
    }
}
