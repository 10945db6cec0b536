package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.state.Positions;
import io.pgsource.testsupport.MixedWorkload;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TcpProxy;
import io.pgsource.testsupport.TestPostgres;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination unreachable for a minute while the packaged jar streams the mixed workload LOG_BASED into
 * PostgreSQL (its connections go through a proxy that is cut): pgsource stays up and backs off, the slot is never
 * acknowledged past what the destination applied, the growing lag shows at WARN in the log and in the metrics
 * ({@code pgsource_slot_lag_bytes}, {@code pgsource_last_applied_commit_age_seconds} at {@code /observe/metrics}); once
 * the destination is back pgsource catches up by itself, the lag drops, and the destination equals the source.
 *
 * <p>"Never acknowledged past what was applied" exactly: a second slot on the same publication (the test's observer)
 * lists every published transaction's commit LSN; at every sample taken during the outage, no transaction whose commit
 * lies at or after the destination's stored position (not applied) lies below the slot's confirmed_flush_lsn (which
 * would make the server skip it).
 */
class DestinationOutageIT {
    private static final Logger LOG = LoggerFactory.getLogger(DestinationOutageIT.class);
    private static final Duration OUTAGE = Duration.ofSeconds(60);
    private static final Pattern LAG_LINE = Pattern.compile("is [^ ]+ [^ ]+ \\((\\d+) bytes\\) of WAL behind the server|is (\\d+) bytes of WAL behind");

    private final TestPostgres pg = TestPostgres.server();

    /** What was seen at one moment of the outage. */
    private record Sample(long stored, long confirmed, double lagBytes, double commitAge) {
    }

    @Test
    void aMinuteWithoutTheDestinationLosesNothingAcknowledgesNothingUnappliedAndShowsTheLag(@TempDir Path work) throws Exception {
        String source = pg.createDatabase("outage_src");
        String target = pg.createDatabase("outage_dst");
        String slot = "outage_" + ProcessHandle.current().pid();
        String observer = slot + "_observer";
        String pub = slot + "_pub";
        MixedWorkload workload = MixedWorkload.builder(() -> pg.connect(source)).scale(3_000).maxTransactionRows(1_000)
                .maxPauseMillis(60).build();
        workload.create();
        List<String> tables = workload.tables().stream().map(MixedWorkload.Table::name).toList();
        String qualified = String.join(",", tables.stream().map(t -> "public." + t).toList());
        // the publication pgsource would create, made first so the observer slot can decode through it from the start
        execute(source, "CREATE PUBLICATION " + pub + " FOR TABLE " + qualified,
                "SELECT pg_create_logical_replication_slot('" + observer + "', 'pgoutput')");
        int metricsPort = freePort();

        try (TcpProxy proxy = TcpProxy.start(pg.host(), pg.port());
             PgSourceProcess pgsource = new PgSourceProcess(work, env(source, target, slot, pub, qualified, proxy, metricsPort))) {
            pgsource.start();
            pgsource.awaitLog("Initial copy finished", Duration.ofSeconds(60));
            workload.start();
            Thread.sleep(3_000);

            proxy.cut();
            pgsource.note("destination cut");
            long cutEnds = System.nanoTime() + OUTAGE.toNanos();
            List<Sample> samples = new ArrayList<>();
            Thread.sleep(2_000); // the batch in flight at the cut has failed
            while (System.nanoTime() < cutEnds) {
                assertThat(pgsource.alive()).as("pgsource stays up without its destination\n%s", pgsource.context()).isTrue();
                long stored = storedPosition(target, slot);
                long confirmed = confirmedFlush(source, slot);
                Map<String, Double> metrics = metrics(metricsPort);
                samples.add(new Sample(stored, confirmed, metrics.get("pgsource_slot_lag_bytes"),
                        metrics.get("pgsource_last_applied_commit_age_seconds")));
                Thread.sleep(2_000);
            }
            long cutEnd = currentLsn(source);
            proxy.restore();
            pgsource.note("destination back");
            Thread.sleep(3_000);
            workload.stopAndJoin(Duration.ofSeconds(60));
            long writerStopped = System.nanoTime();

            long end = currentLsn(source);
            long catchUpStarted = System.nanoTime();
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (confirmedFlush(source, slot) < end) {
                assertThat(System.nanoTime()).as("pgsource caught up by itself\n%s", pgsource.context()).isLessThan(deadline);
                Thread.sleep(250);
            }
            long catchUpMillis = (System.nanoTime() - catchUpStarted) / 1_000_000;
            Thread.sleep(2_500); // a slot check after the catch-up
            Map<String, Double> after = metrics(metricsPort);
            String log = pgsource.logText();
            LOG.info("Outage samples (stored, confirmed, lag bytes, commit age): {}; after: {}; caught up {} ms after the writer stopped; {}",
                    samples, after, catchUpMillis, workload.stats());
            assertThat(pgsource.stop(Duration.ofSeconds(30))).as("stopped by SIGTERM").isIn(0, 143);

            // nothing lost
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                TableCompare.assertEqual(s, "public", d, "public", tables, "seed " + workload.seed() + "; " + workload.stats() + "\n"
                        + pgsource.context());
            }

            // nothing acknowledged that the destination did not hold
            assertThat(samples.stream().map(Sample::stored).distinct()).as("nothing applied while cut").hasSize(1);
            List<Long> commits = publishedCommits(source, observer, pub, cutEnd);
            assertThat(commits).as("the observer saw the workload's transactions").hasSizeGreaterThan(10);
            for (Sample sample : samples) {
                assertThat(commits).as("commits the slot skips (below confirmed_flush_lsn %s) that the destination (at %s) lacks",
                                Positions.lsn(sample.confirmed()), Positions.lsn(sample.stored()))
                        .noneMatch(lsn -> lsn >= sample.stored() && lsn < sample.confirmed());
            }
            assertThat(commits).as("some transactions were waiting during the outage").anyMatch(lsn -> lsn >= samples.get(0).stored());

            // the lag: logged at WARN, growing; in the metrics, growing, then back down
            List<Long> logged = new ArrayList<>();
            for (String line : log.lines().filter(l -> l.contains("WARN") && l.contains("of WAL behind the server")).toList()) {
                Matcher m = LAG_LINE.matcher(line);
                if (m.find()) {
                    logged.add(Long.parseLong(m.group(1) != null ? m.group(1) : m.group(2)));
                }
            }
            assertThat(logged).as("WARN lines with the lag while cut").hasSizeGreaterThan(20);
            assertThat(logged.get(logged.size() - 1)).as("the logged lag grew").isGreaterThan(logged.get(0) + 1_000_000);
            assertThat(log).contains("last applied commit").contains("Waiting for: the route failed")
                    .contains("reconnecting in 4000 ms").contains("reconnecting in 8000 ms").doesNotContain("reconnecting in 16000 ms")
                    .contains("streaming again");
            Sample first = samples.get(0);
            Sample last = samples.get(samples.size() - 1);
            assertThat(last.lagBytes()).as("pgsource_slot_lag_bytes grew during the outage").isGreaterThan(first.lagBytes() + 1_000_000);
            assertThat(last.commitAge()).as("pgsource_last_applied_commit_age_seconds grew during the outage")
                    .isGreaterThan(OUTAGE.toSeconds() - 10);
            assertThat(after.get("pgsource_slot_lag_bytes")).as("the lag after catching up").isLessThan(last.lagBytes() / 10);
            double sinceWriterStopped = (System.nanoTime() - writerStopped) / 1e9;
            assertThat(after.get("pgsource_last_applied_commit_age_seconds")).as("after catching up: the age of the writer's last commit")
                    .isLessThan(sinceWriterStopped + 1);
        } finally {
            execute(source, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ('" + observer
                    + "', '" + slot + "') AND NOT active");
        }
    }

    private Map<String, String> env(String source, String target, String slot, String pub, String tables, TcpProxy proxy,
            int metricsPort) {
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), target);
        env.remove("SYNC_ONCE");
        env.put("DESTINATION_URL", "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", tables);
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", pub);
        env.put("SOURCE_SLOT_CHECK_INTERVAL", "1s");
        env.put("SOURCE_MAX_RECONNECT_DELAY", "8s"); // the default 30 s would add up to half a minute to the catch-up
        env.put("CAMEL_MANAGEMENT_ENABLED", "true");
        env.put("CAMEL_MANAGEMENT_PORT", Integer.toString(metricsPort));
        return env;
    }

    /** The gauges pgsource adds, scraped like Prometheus does. */
    private static Map<String, Double> metrics(int port) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/metrics")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        Map<String, Double> out = new java.util.HashMap<>();
        for (String line : response.body().lines().toList()) {
            for (String name : List.of("pgsource_slot_lag_bytes", "pgsource_last_applied_commit_age_seconds")) {
                if (line.startsWith(name + "{")) {
                    out.put(name, Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)));
                }
            }
        }
        assertThat(out).as("pgsource's gauges in\n%s", response.body()).hasSize(2);
        return out;
    }

    /** The commit LSN of every published transaction the observer slot decodes below {@code upTo}, from its Begin messages. */
    private List<Long> publishedCommits(String db, String observer, String pub, long upTo) throws SQLException {
        List<Long> commits = new ArrayList<>();
        try (Connection c = pg.connect(db); PreparedStatement ps = c.prepareStatement("SELECT data FROM pg_logical_slot_peek_binary_changes("
                + "?, ?::pg_lsn, NULL, 'proto_version', '1', 'publication_names', ?) WHERE get_byte(data, 0) = 66")) {
            ps.setString(1, observer);
            ps.setString(2, Positions.lsn(upTo));
            ps.setString(3, pub);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    // Begin: 'B', the commit's LSN (Int64), commit time (Int64), xid (Int32)
                    commits.add(ByteBuffer.wrap(rs.getBytes(1), 1, 8).getLong());
                }
            }
        }
        return commits;
    }

    private long storedPosition(String target, String slot) throws SQLException {
        try (Connection c = pg.connect(target);
             PreparedStatement ps = c.prepareStatement("SELECT position FROM \"_pgsource\".\"positions\" WHERE stream = ?")) {
            ps.setString(1, "slot:" + slot);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).as("a position stored for the slot").isTrue();
                return Positions.parseLsn(rs.getString(1));
            }
        }
    }

    private long confirmedFlush(String source, String slot) throws SQLException {
        try (Connection c = pg.connect(source);
             PreparedStatement ps = c.prepareStatement("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).as("the slot exists").isTrue();
                return LogSequenceNumber.valueOf(rs.getString(1)).asLong();
            }
        }
    }

    private long currentLsn(String db) throws SQLException {
        try (Connection c = pg.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn()::text")) {
            rs.next();
            return LogSequenceNumber.valueOf(rs.getString(1)).asLong();
        }
    }

    private void execute(String db, String... statements) throws SQLException {
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            for (String sql : statements) {
                s.execute(sql);
            }
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
