package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgsource.testsupport.DestinationSessions;
import io.pgsource.testsupport.FieldWorkload;
import io.pgsource.testsupport.OltpWorkload;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Real clients' loads streamed by the packaged jar (LOG_BASED, the publication pgsource creates, nothing set up by
 * hand) into the postgres destination, with pgsource killed by SIGKILL in the middle of the load and started again,
 * then compared exactly (EXCEPT ALL both ways) table by table: pgbench's TPC-B load (4 clients; its
 * {@code pgbench_history} has no key), and the shape of sysbench's {@code oltp_read_write} from a Java client
 * ({@link OltpWorkload}).
 */
class RealClientsIT {
    private static final Logger LOG = LoggerFactory.getLogger(RealClientsIT.class);
    private static final Duration START = Duration.ofSeconds(120);
    private static final List<String> PGBENCH_TABLES = List.of("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history");
    private static final int LOAD_SECONDS = 12;

    private final TestPostgres pg = TestPostgres.server();
    private final long seed = System.nanoTime();
    private final Random random = new Random(seed);

    @Test
    void pgbenchTpcBStreamsThroughAKillExactly() throws Exception {
        Optional<Path> pgbench = pgbench();
        assumeTrue(pgbench.isPresent(), "no pgbench on the PATH or in /usr/lib/postgresql/*/bin: install PostgreSQL's client tools"
                + " (e.g. apt-get install postgresql-client) to run this test");
        String source = pg.createDatabase("pgbench_src");
        String target = pg.createDatabase("pgbench_dst");
        Path work = workDirectory("pgbench");
        assertThat(run(pgbench.get(), work.resolve("pgbench-init.log"), source, "-i", "-s", "2", "-q").waitFor())
                .as("pgbench -i\n%s", PgSourceProcess.tail(work.resolve("pgbench-init.log"), 20)).isZero();

        streamThroughAKill(source, target, work, "pgbench", ownPublication("pgbench"), Map.of("public", PGBENCH_TABLES), () -> {
            Path log = work.resolve("pgbench-run.log");
            Process load = run(pgbench.get(), log, source, "-c", "4", "-j", "2", "-T", Integer.toString(LOAD_SECONDS));
            return timeout -> {
                assertThat(load.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)).as("pgbench ended").isTrue();
                assertThat(load.exitValue()).as("pgbench's exit code\n%s", PgSourceProcess.tail(log, 20)).isZero();
                return "pgbench: " + Files.readAllLines(log).stream()
                        .filter(l -> l.startsWith("number of transactions actually processed") || l.startsWith("tps"))
                        .collect(Collectors.joining(", "));
            };
        });
    }

    @Test
    void anOltpReadWriteMixStreamsThroughAKillExactly() throws Exception {
        String source = pg.createDatabase("oltp_src");
        String target = pg.createDatabase("oltp_dst");
        Path work = workDirectory("oltp");
        OltpWorkload oltp = new OltpWorkload(() -> pg.connect(source), 4, 10_000, 4, seed);
        oltp.prepare();

        streamThroughAKill(source, target, work, "oltp", ownPublication("oltp"), Map.of("public", oltp.tableNames()), () -> {
            oltp.start();
            long started = System.nanoTime();
            return timeout -> {
                Thread.sleep(Math.max(0, LOAD_SECONDS * 1000L - (System.nanoTime() - started) / 1_000_000));
                oltp.stopAndJoin(timeout);
                assertThat(oltp.transactions()).as("committed OLTP transactions").isGreaterThan(100);
                return oltp.toString();
            };
        });
    }

    /**
     * Mage's setup exactly as its documentation gives it, made by hand before pgsource first runs:
     * {@code SELECT pg_create_logical_replication_slot('mage_slot', 'pgoutput'); CREATE PUBLICATION mage_pub FOR ALL TABLES;}
     * on a database that already holds pgbench's tables and an application's ({@link FieldWorkload}: a two-level
     * partitioned table with a partition created mid-stream, a keyless log table, a generated column, and tables other
     * consumers' publications filter by row and by column). pgbench and the application write at once; pgsource is
     * killed once; every table must equal the source, all rows and columns (mage_pub filters nothing). Then, on
     * PostgreSQL 15+, a second pgsource on the filtering publications must hold exactly what they publish.
     */
    @Test
    void magesSetupOnAnOrdinaryDatabaseUnderPgbenchStreamsThroughAKillExactly() throws Exception {
        Optional<Path> pgbench = pgbench();
        assumeTrue(pgbench.isPresent(), "no pgbench on the PATH or in /usr/lib/postgresql/*/bin: install PostgreSQL's client tools"
                + " (e.g. apt-get install postgresql-client) to run this test");
        String source = pg.createDatabase("mage_src");
        String target = pg.createDatabase("mage_dst");
        Path work = workDirectory("mage");
        assertThat(run(pgbench.get(), work.resolve("pgbench-init.log"), source, "-i", "-s", "1", "-q").waitFor())
                .as("pgbench -i\n%s", PgSourceProcess.tail(work.resolve("pgbench-init.log"), 20)).isZero();
        FieldWorkload app = new FieldWorkload(() -> pg.connect(source), seed);
        app.prepare();
        boolean filters = pg.majorVersion() >= 15;
        if (filters) {
            app.createFilteredPublications();
        }
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('mage_slot', 'pgoutput')");
        SourceFixture.execute(pg, source, "CREATE PUBLICATION mage_pub FOR ALL TABLES");
        Map<String, String> mage = Map.of("SOURCE_REPLICATION_SLOT", "mage_slot", "SOURCE_PUBLICATION_NAME", "mage_pub",
                "SOURCE_SCHEMA", "public,app");

        streamThroughAKill(source, target, work, "mage", mage, Map.of("public", PGBENCH_TABLES, "app", FieldWorkload.TABLES), () -> {
            Path log = work.resolve("pgbench-run.log");
            Process load = run(pgbench.get(), log, source, "-c", "4", "-j", "2", "-T", Integer.toString(LOAD_SECONDS));
            app.start();
            return timeout -> {
                assertThat(load.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)).as("pgbench ended").isTrue();
                assertThat(load.exitValue()).as("pgbench's exit code\n%s", PgSourceProcess.tail(log, 20)).isZero();
                app.stopAndJoin(timeout);
                assertThat(app.transactions()).as("the application's transactions").isGreaterThan(150);
                return "pgbench: " + Files.readAllLines(log).stream()
                        .filter(l -> l.startsWith("number of transactions actually processed")).collect(Collectors.joining(", "))
                        + "; " + app;
            };
        });
        if (filters) {
            filteredPublicationsHoldExactlyWhatTheyPublish(source, work);
        }
    }

    /** A second pgsource on the other consumers' publications: the row filter's rows and the column list's columns only. */
    private void filteredPublicationsHoldExactlyWhatTheyPublish(String source, Path work) throws Exception {
        String target = pg.createDatabase("filtered_dst");
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "app"), target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", "filtered_slot");
        env.put("SOURCE_PUBLICATION_NAME", "eu_orders_pub,customer_names_pub");
        env.put("SOURCE_TABLES", "app.orders,app.customers");
        try (PgSourceProcess pgsource = new PgSourceProcess(Files.createDirectories(work.resolve("filtered")), env)) {
            assertThat(pgsource.runOnce(Duration.ofSeconds(180))).as("the copy's exit code\n%s", pgsource.context()).isZero();
            SourceFixture.execute(pg, source, "UPDATE app.orders SET region = 'us' WHERE id IN (SELECT id FROM app.orders WHERE region = 'eu' LIMIT 5)");
            SourceFixture.execute(pg, source, "UPDATE app.orders SET region = 'eu' WHERE id IN (SELECT id FROM app.orders WHERE region = 'apac' LIMIT 5)");
            SourceFixture.execute(pg, source, "UPDATE app.customers SET secret = 'changed', name = name || '!' WHERE id <= 10");
            assertThat(pgsource.runOnce(Duration.ofSeconds(180))).as("the stream's exit code\n%s", pgsource.context()).isZero();
            SourceFixture.execute(pg, source, "CREATE SCHEMA expected");
            SourceFixture.execute(pg, source, "CREATE TABLE expected.orders AS SELECT * FROM app.orders WHERE region = 'eu'");
            SourceFixture.execute(pg, source, "CREATE TABLE expected.customers AS SELECT id, name, email FROM app.customers");
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                TableCompare.assertEqual(s, "expected", d, "app", List.of("orders", "customers"), pgsource.context());
            }
            pgsource.deleteWorkDirectory();
        } finally {
            dropSlot(source, "filtered_slot");
        }
    }

    /** Starts a load and returns how to wait for its end (returning a summary of it). */
    @FunctionalInterface
    private interface Load {
        Ending start() throws Exception;
    }

    @FunctionalInterface
    private interface Ending {
        String await(Duration timeout) throws Exception;
    }

    /**
     * pgsource copies the tables and streams; the load starts; once the destination holds streamed changes pgsource is
     * killed, the load goes on without it for a moment, pgsource starts again; after the load a sync.once run applies
     * everything committed, and every table must equal the source.
     */
    private void streamThroughAKill(String source, String target, Path work, String name, Map<String, String> capture,
                                    Map<String, List<String>> tables, Load load) throws Exception {
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), target);
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.putAll(capture);
        String slot = env.get("SOURCE_REPLICATION_SLOT");
        DestinationSessions destination = new DestinationSessions(() -> pg.connect(target));
        try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);
            String copied = destination.storedPosition(slot);
            Ending ending = load.start();
            pgsource.note(name + " load started");

            pgsource.await("streamed transactions committed at the destination", Duration.ofSeconds(60), () -> {
                String stored = destination.storedPosition(slot);
                return stored != null && !stored.equals(copied);
            });
            Thread.sleep(random.nextInt(2_000));
            pgsource.kill("mid-load");
            Thread.sleep(500 + random.nextInt(2_000));
            pgsource.start();
            pgsource.awaitLog("Streaming slot", START);

            String summary = ending.await(Duration.ofSeconds(LOAD_SECONDS + 60));
            pgsource.note(name + " load ended: " + summary);
            pgsource.stop(Duration.ofSeconds(60));
            assertThat(pgsource.runOnce(Duration.ofSeconds(180))).as("the sync.once run's exit code\n%s", pgsource.context()).isZero();
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                List<TableCompare.Difference> differences = new ArrayList<>();
                for (Map.Entry<String, List<String>> schema : new TreeMap<>(tables).entrySet()) {
                    differences.addAll(TableCompare.differences(s, schema.getKey(), d, schema.getKey(), schema.getValue()));
                }
                assertThat(differences).as("tables that differ; seed %d; %s", seed, pgsource.context()).isEmpty();
            }
            LOG.info("{} through a SIGKILL passed: {}; {}", name, summary, pgsource.story());
            pgsource.deleteWorkDirectory();
        } finally {
            dropSlot(source, slot);
        }
    }

    /** The publication and slot pgsource creates itself (the README's defaults, named apart per run). */
    private static Map<String, String> ownPublication(String name) {
        String slot = name + "_" + ProcessHandle.current().pid();
        return Map.of("SOURCE_REPLICATION_SLOT", slot, "SOURCE_PUBLICATION_NAME", slot + "_pub");
    }

    /** pgbench from the PATH, else from the newest /usr/lib/postgresql/N/bin. */
    static Optional<Path> pgbench() throws IOException {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, "pgbench");
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        Path installs = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(installs)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(installs)) {
            return versions.map(v -> v.resolve("bin").resolve("pgbench")).filter(Files::isExecutable)
                    .max(Comparator.comparing(p -> versionOf(p.getParent().getParent().getFileName().toString())));
        }
    }

    private static int versionOf(String directory) {
        try {
            return Integer.parseInt(directory);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** pgbench against a database of the test server; its password in the environment, its output into a log file. */
    private Process run(Path pgbench, Path log, String database, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(pgbench.toString(), "-h", pg.host(), "-p", Integer.toString(pg.port()), "-U", pg.user()));
        command.addAll(List.of(args));
        command.add(database);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("PGPASSWORD", pg.password());
        return pb.start();
    }

    /** Under target/, so the runs' logs stay for a look after a failure. */
    private Path workDirectory(String name) throws IOException {
        return Files.createDirectories(Path.of("target", "it-work", name + "-" + seed).toAbsolutePath());
    }

    private void dropSlot(String source, String slot) {
        try (Connection c = pg.connect(source); var ps = c.prepareStatement(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ? AND NOT active")) {
            ps.setString(1, slot);
            ps.execute();
        } catch (SQLException e) {
            // only tidiness: the server is the test JVM's and goes away with it
        }
    }
}
