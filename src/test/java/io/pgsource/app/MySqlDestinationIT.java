package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.MixedWorkload;
import io.pgsource.testsupport.MySqlCompare;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TcpProxy;
import io.pgsource.testsupport.TestMariaDb;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The packaged jar streaming the {@link MixedWorkload}'s twelve tables LOG_BASED into MariaDB ({@code destination=mysql},
 * skipped when no server listens on 127.0.0.1:3306, see {@link TestMariaDb}): killed with SIGKILL mid-stream and
 * restarted; then the destination is "restarted" — the shared MariaDB service cannot be, so its connections go through a
 * {@link TcpProxy} that is cut (every connection reset, new ones refused) for some seconds and restored, while pgsource
 * keeps running; a last {@code sync.once} run. At the end every table equals the source, row for row, by
 * {@link MySqlCompare} (which says how each type is normalised), and no row of the keyless table is doubled.
 */
class MySqlDestinationIT {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlDestinationIT.class);
    private static final Duration START = Duration.ofSeconds(90);

    @Test
    void killedMidStreamAndCutFromTheDestinationItEndsEqualToTheSource() throws Exception {
        TestMariaDb mysql = TestMariaDb.server();
        TestPostgres pg = TestPostgres.server();
        long seed = System.nanoTime();
        Random random = new Random(seed);
        String source = pg.createDatabase("mysql_crash_src");
        String target = mysql.createDatabase("pgsource_crash_it");
        String slot = "mysql_crash_" + ProcessHandle.current().pid();
        MixedWorkload workload = MixedWorkload.builder(() -> pg.connect(source)).scale(1_500).maxTransactionRows(1_500)
                .maxPauseMillis(40).seed(seed).build();
        workload.create();
        Path work = Files.createTempDirectory("pgsource-mysql-it");
        try (TcpProxy proxy = TcpProxy.start(mysql.host, mysql.port)) {
            Map<String, String> env = SourceFixture.env(pg, source, "public");
            env.remove("SYNC_ONCE");
            env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
            env.put("SOURCE_TABLES", String.join(",", workload.qualifiedNames()));
            env.put("SOURCE_REPLICATION_SLOT", slot);
            env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
            env.put("SOURCE_MAX_BATCH_SIZE", "500"); // big transactions arrive in parts
            env.put("SOURCE_MAX_RECONNECT_DELAY", "2s");
            env.put("DESTINATION", "mysql");
            env.put("DESTINATION_URL", mysql.url(proxy.host(), proxy.port(), target));
            env.put("DESTINATION_USERNAME", mysql.user);
            if (!mysql.password.isEmpty()) {
                env.put("DESTINATION_PASSWORD", mysql.password);
            }
            try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
                pgsource.start();
                pgsource.awaitLog("Streaming slot", START);
                workload.start();
                Thread.sleep(1_500 + random.nextInt(2_000));
                pgsource.kill("mid-stream");

                pgsource.start();
                pgsource.awaitLog("Streaming slot", START);
                Thread.sleep(1_000 + random.nextInt(1_000));
                long before = proxy.accepted();
                proxy.cut();
                pgsource.note("destination cut");
                Thread.sleep(4_000);
                assertThat(pgsource.alive()).as("pgsource stays up without its destination\n%s", pgsource.context()).isTrue();
                proxy.restore();
                pgsource.note("destination back");
                Thread.sleep(2_000);
                workload.stopAndJoin(Duration.ofSeconds(60));
                pgsource.await("a new destination connection", Duration.ofSeconds(30), () -> proxy.accepted() > before);
                assertThat(pgsource.stop(Duration.ofSeconds(30))).as("stopped by SIGTERM\n%s", pgsource.context()).isIn(0, 143);
                assertThat(pgsource.runOnce(Duration.ofSeconds(120))).as("the sync.once run's exit code\n%s", pgsource.context()).isZero();

                List<String> differences = new ArrayList<>();
                try (Connection s = pg.connect(source); Connection d = mysql.connect(target)) {
                    for (MixedWorkload.Table t : workload.tables()) {
                        String difference = MySqlCompare.difference(s, "public", d, t.name());
                        if (!difference.isEmpty()) {
                            differences.add(difference);
                        }
                    }
                    LOG.info("seed {}; {}; destination rows: {}", seed, workload.stats(), rowCounts(d, workload));
                }
                assertThat(differences).as("seed %s; %s\n%s", seed, workload.stats(), pgsource.context()).isEmpty();
                assertThat(workload.stats().transactions()).as("the workload ran").isGreaterThan(20);
                assertThat(Files.readString(pgsource.logs().get(1))).as("the run the destination was cut from")
                        .contains("cannot connect to the destination").contains("nothing acknowledged");
            }
        } finally {
            try (Connection c = pg.connect(source); Statement s = c.createStatement()) {
                s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "' AND NOT active");
            }
            mysql.dropDatabase(target);
        }
    }

    private static String rowCounts(Connection d, MixedWorkload workload) throws Exception {
        StringBuilder sb = new StringBuilder();
        try (Statement s = d.createStatement()) {
            for (MixedWorkload.Table t : workload.tables()) {
                try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM `" + t.name() + "`")) {
                    rs.next();
                    sb.append(t.name()).append('=').append(rs.getLong(1)).append(' ');
                }
            }
        }
        return sb.toString().strip();
    }
}
