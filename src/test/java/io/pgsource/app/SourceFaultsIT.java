package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.embedded.EmbeddedPostgres;
import io.pgsource.testsupport.DestinationSessions;
import io.pgsource.testsupport.MixedWorkload;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.SourceFaults;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TcpProxy;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pgsource process streams LOG_BASED into PostgreSQL while the {@link MixedWorkload} writes and the source fails
 * under it, mid-stream: the source server restarted in fast mode and in immediate mode (a crash, recovered from the
 * WAL), the walsender terminated ({@code pg_terminate_backend}, once while a 20,000-row transaction was half applied),
 * the network path cut for 10 s and restored. After each, pgsource must reconnect by itself (the process stays up and
 * logs it) and apply again; at the end the destination equals the source, EXCEPT ALL both ways.
 *
 * <p>The source is an embedded server of this test's own, reached through a {@link TcpProxy} on loopback, so its
 * restarts touch no other test; the destination is the test JVM's shared server.
 */
class SourceFaultsIT {
    private static final Logger LOG = LoggerFactory.getLogger(SourceFaultsIT.class);
    private static final Duration RECOVERY = Duration.ofSeconds(90);
    private static final String RECONNECTING = "reconnecting in";
    private static final String STREAMING = "Streaming slot";

    private final TestPostgres pg = TestPostgres.server();
    private final long seed = System.nanoTime();

    @Test
    void restartsTerminatedWalsendersAndACutNetworkLoseNothing() throws Exception {
        Path work = Files.createDirectories(Path.of("target", "it-work", "source-faults-" + seed).toAbsolutePath());
        String target = pg.createDatabase("faults_dst");
        String slot = "faults_" + ProcessHandle.current().pid();
        try (EmbeddedPostgres source = EmbeddedPostgres.builder().testMode(true).start();
             TcpProxy proxy = TcpProxy.start(source.host(), source.port())) {
            String db = source.createDatabase("faults_src");
            MixedWorkload workload = MixedWorkload.builder(() -> DriverManager.getConnection(source.jdbcUrl(db), source.superuser(), source.password()))
                    .scale(20_000).maxPauseMillis(100).seed(seed).build();
            workload.create();
            SourceFaults faults = new SourceFaults(source, proxy, db, slot);
            DestinationSessions destination = new DestinationSessions(() -> pg.connect(target));
            try (PgSourceProcess pgsource = new PgSourceProcess(work, env(source, proxy, db, slot, target, workload))) {
                pgsource.start();
                workload.start();
                pgsource.awaitLog("Initial copy finished", Duration.ofSeconds(120));
                pgsource.awaitLog(STREAMING, Duration.ofSeconds(60));
                Thread.sleep(2_000);

                fault(pgsource, faults, "PostgreSQL restarted (fast)", () -> faults.restart(EmbeddedPostgres.StopMode.FAST));
                fault(pgsource, faults, "PostgreSQL restarted (immediate: a crash)", () -> faults.restart(EmbeddedPostgres.StopMode.IMMEDIATE));
                fault(pgsource, faults, "walsender terminated", () -> pgsource.note("walsender " + faults.terminateWalsender() + " terminated"));
                fault(pgsource, faults, "network cut for 10 s", () -> faults.cutNetwork(Duration.ofSeconds(10)));
                fault(pgsource, faults, "walsender terminated inside a 20,000-row transaction", () -> {
                    bigTransaction(faults, workload);
                    pgsource.await("a partly applied transaction", Duration.ofSeconds(90), () -> String.valueOf(destination.storedPosition(slot)).contains("#"));
                    pgsource.note("destination holds " + destination.storedPosition(slot));
                    faults.terminateWalsender();
                });

                workload.stopAndJoin(Duration.ofSeconds(60));
                faults.awaitConfirmed(faults.currentLsn(), RECOVERY, pgsource);
                assertThat(pgsource.alive()).as("one pgsource process all along\n%s", pgsource.context()).isTrue();
                assertThat(pgsource.runs()).isEqualTo(1);
                // a JVM ended by SIGTERM exits 143 even after a clean stop; the log says it stopped cleanly
                assertThat(pgsource.stop(Duration.ofSeconds(60))).as("exit code after SIGTERM").isIn(0, 143);
                assertThat(pgsource.logText()).contains("Apache Camel (Main) 4.17.0 shutdown");

                assertThat(workload.stats().interruptions()).as("the writer saw the restarts too").isPositive();
                try (Connection s = faults.connect(); Connection d = pg.connect(target)) {
                    TableCompare.assertEqual(s, "public", d, "public", workload.tables().stream().map(MixedWorkload.Table::name).toList(),
                            "seed " + seed + "; " + pgsource.context());
                }
                LOG.info("Source faults passed: {}; {}; {} reconnects", workload.stats(), pgsource.story(), pgsource.count(RECONNECTING));
                pgsource.deleteWorkDirectory();
            } finally {
                workload.stop();
            }
        }
    }

    @FunctionalInterface
    private interface Action {
        void run() throws Exception;
    }

    /**
     * Runs a fault mid-stream, then requires pgsource to have noticed it (a reconnect in its log), to stream again, and to
     * apply past the WAL position after the fault, without its process ending.
     */
    private static void fault(PgSourceProcess pgsource, SourceFaults faults, String name, Action action) throws Exception {
        int reconnects = pgsource.count(RECONNECTING);
        int sessions = pgsource.count(STREAMING);
        pgsource.note(name);
        action.run();
        pgsource.awaitLog(RECONNECTING, reconnects + 1, RECOVERY);
        pgsource.awaitLog(STREAMING, sessions + 1, RECOVERY);
        long after = faults.currentLsn();
        faults.awaitConfirmed(after, RECOVERY, pgsource);
        pgsource.note("applying again (" + (pgsource.count(RECONNECTING) - reconnects) + " reconnect attempt(s))");
        Thread.sleep(1_000); // some more changes before the next fault
    }

    private Map<String, String> env(EmbeddedPostgres source, TcpProxy proxy, String db, String slot, String target, MixedWorkload workload) {
        Map<String, String> env = PgSourceProcess.logReplicationEnv(proxy.host(), proxy.port(), db, source.superuser(), source.password(),
                workload.qualifiedNames(), slot);
        env.put("SOURCE_BATCH_FETCH_LIMIT", "1000");
        env.put("SOURCE_MAX_BATCH_SIZE", "1000");
        return SourceFixture.postgresDestination(pg, env, target);
    }

    /** 20,000 accounts changed in one transaction (20 parts), the writer held meanwhile. */
    private static void bigTransaction(SourceFaults faults, MixedWorkload workload) throws Exception {
        workload.pause(Duration.ofSeconds(60));
        try (Connection c = faults.connect(); Statement s = c.createStatement()) {
            s.execute("UPDATE accounts SET note = 'big ' || txid_current(), balance = balance + 1 "
                    + "WHERE id IN (SELECT id FROM accounts ORDER BY id LIMIT 20000)");
        } finally {
            workload.resume();
        }
    }


}
