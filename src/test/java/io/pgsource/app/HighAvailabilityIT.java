package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Two packaged pgsource instances on one slot and one shared lock directory ({@code sync.ha=file}, or {@code cluster}
 * with the cluster service configured in Camel), while a writer inserts, updates and deletes rows of three tables:
 * exactly one streams, the other stands by without touching the slot. The leader is killed with SIGKILL mid-stream; the
 * standby must take over within {@link #TAKEOVER_BOUND}, and in the end the destination must hold exactly the source's
 * rows. The measured takeover times are logged.
 */
class HighAvailabilityIT {
    private static final Logger LOG = LoggerFactory.getLogger(HighAvailabilityIT.class);
    /** Generous for two busy cores: detection takes about 6 s (1 s heartbeat, 5 missed), then the consumer starts. */
    private static final Duration TAKEOVER_BOUND = Duration.ofSeconds(30);
    private static final String LEADS = "This instance leads";
    private static final String STANDBY = "Standby:";
    private static final List<String> TABLES = List.of("accounts", "orders", "ticks");

    private final TestPostgres pg = TestPostgres.server();
    private final long seed = System.nanoTime();
    private final List<PgSourceProcess> children = new ArrayList<>();
    private final List<String> story = new ArrayList<>();
    private Writer writer;
    private String source;
    private String slot;

    @AfterEach
    void cleanUp() throws Exception {
        if (writer != null) {
            writer.stopAndJoin();
        }
        for (PgSourceProcess child : children) {
            if (child.alive()) {
                child.kill("by the test");
            }
        }
        try (Connection c = pg.connect(source); PreparedStatement ps = c.prepareStatement(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ? AND NOT active")) {
            ps.setString(1, slot);
            ps.execute();
        } catch (SQLException e) {
            // only tidiness: the server is the test JVM's and goes away with it
        }
    }

    @Test
    void intoPostgresTheStandbyTakesOverTwiceAndTheDestinationEndsEqualToTheSource(@TempDir Path work) throws Exception {
        setUpSource("ha_pg");
        String target = pg.createDatabase("ha_pg_dst");
        Map<String, String> env = SourceFixture.postgresDestination(pg, childEnv(work), target);
        LongSupplier appliedTick = () -> maxTick(target);

        writer.start();
        PgSourceProcess[] pair = startPair(work, env);
        PgSourceProcess leader = pair[0];
        PgSourceProcess standby = pair[1];
        awaitFollowing(appliedTick, Duration.ofSeconds(90));
        assertOneStreamsAndTheStandbyKeepsOff(leader, standby, Duration.ofSeconds(1));

        Duration first = killAndMeasureTakeover(leader, standby, appliedTick);

        // the killed instance comes back as the standby of the new leader, which is then killed too
        PgSourceProcess back = start(leader.name() + "-again", work, env);
        back.awaitLog(STANDBY, Duration.ofSeconds(60));
        story.add(back.name() + " stands by");
        assertThat(back.logged(LEADS)).as("the restarted instance leads while the other one lives%n%s", tail(back, 30)).isFalse();
        assertOneStreamsAndTheStandbyKeepsOff(standby, back, Duration.ofSeconds(1));
        Duration second = killAndMeasureTakeover(standby, back, appliedTick);

        writer.stopAndJoin();
        awaitEqual(() -> comparePostgres(target), Duration.ofSeconds(60));
        LOG.info("HA into postgres: takeovers after SIGKILL took {} ms and {} ms; {} writer transactions; {}", first.toMillis(),
                second.toMillis(), writer.transactions.get(), String.join(" -> ", story));
        back.stop(Duration.ofSeconds(30));
    }

    /**
     * The same with {@code sync.ha=cluster}: the cluster service is the one configured in Camel ({@code camel.beans.*}), as
     * a Kubernetes or ZooKeeper one would be; here Camel's file-lock service again, configured by hand.
     */
    @Test
    void intoJsonLinesWithAClusterServiceConfiguredInCamelTheStandbyTakesOverAndNoChangeIsLost(@TempDir Path work) throws Exception {
        setUpSource("ha_jsonl");
        Path output = work.resolve("shared-output");
        Map<String, String> env = childEnv(work);
        env.put("SYNC_HA", "cluster");
        env.remove("SYNC_HA_ROOT");
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", output.toString());
        for (String name : List.of("a", "b")) {
            Files.createDirectories(work.resolve(name));
            Files.writeString(work.resolve(name).resolve("application.properties"), """
                    camel.beans.cluster=#class:org.apache.camel.component.file.cluster.FileLockClusterService
                    camel.beans.cluster.root=%s
                    camel.beans.cluster.acquireLockInterval=1
                    camel.beans.cluster.acquireLockDelay=1
                    """.formatted(work.resolve("locks").toString().replace("\\", "/")));
        }
        LongSupplier appliedTick = () -> JsonLinesReplay.of(output).maxKey("ticks");

        writer.start();
        PgSourceProcess[] pair = startPair(work, env);
        awaitFollowing(appliedTick, Duration.ofSeconds(90));
        assertOneStreamsAndTheStandbyKeepsOff(pair[0], pair[1], Duration.ofSeconds(1));
        Duration takeover = killAndMeasureTakeover(pair[0], pair[1], appliedTick);

        writer.stopAndJoin();
        awaitEqual(() -> compareJsonLines(output), Duration.ofSeconds(60));
        LOG.info("HA into jsonl (sync.ha=cluster): takeover after SIGKILL took {} ms; {} writer transactions; {}", takeover.toMillis(),
                writer.transactions.get(), String.join(" -> ", story));
        pair[1].stop(Duration.ofSeconds(30));
    }

    private void setUpSource(String prefix) throws Exception {
        source = pg.createDatabase(prefix);
        slot = prefix + "_" + ProcessHandle.current().pid();
        SourceFixture.execute(pg, source, """
                CREATE TABLE accounts (id bigint PRIMARY KEY, balance int NOT NULL, note text);
                CREATE TABLE orders (id bigserial PRIMARY KEY, account bigint NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL);
                CREATE TABLE ticks (id bigint PRIMARY KEY, at_ms bigint NOT NULL);
                CREATE SEQUENCE account_ids START 100001;
                INSERT INTO accounts SELECT g, 0, 'seed ' || g FROM generate_series(1, 5000) g;
                INSERT INTO orders (account, amount, status) SELECT 1 + g % 5000, (g % 100000) / 100.0, 'new' FROM generate_series(1, 20000) g;
                """);
        writer = new Writer(source, new Random(seed));
    }

    private Map<String, String> childEnv(Path work) {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SYNC_HA", "file");
        env.put("SYNC_HA_ROOT", work.resolve("locks").toString());
        return env;
    }

    private PgSourceProcess start(String name, Path work, Map<String, String> env) throws Exception {
        // each instance has its own working directory: only the lock directory (and jsonl's output) is shared
        Path dir = Files.createDirectories(work.resolve(name));
        PgSourceProcess child = new PgSourceProcess(dir, env);
        child.start();
        children.add(child);
        story.add("start " + name);
        return child;
    }

    /** Starts two instances at once; returns {leader, standby}. */
    private PgSourceProcess[] startPair(Path work, Map<String, String> env) throws Exception {
        PgSourceProcess a = start("a", work, env);
        PgSourceProcess b = start("b", work, env);
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!a.logged(LEADS) && !b.logged(LEADS)) {
            if (System.nanoTime() > end || !a.alive() || !b.alive()) {
                fail("no instance took the lead within 60 s\n" + tail(a, 30) + tail(b, 30));
            }
            Thread.sleep(50);
        }
        PgSourceProcess leader = a.logged(LEADS) ? a : b;
        PgSourceProcess standby = leader == a ? b : a;
        standby.awaitLog(STANDBY, Duration.ofSeconds(60));
        story.add(leader.name() + " leads, " + standby.name() + " stands by");
        return new PgSourceProcess[] {leader, standby};
    }

    /** Waits until the destination applied a transaction the writer committed after this call. */
    private void awaitFollowing(LongSupplier appliedTick, Duration timeout) throws Exception {
        long committed = writer.lastTick.get();
        long end = System.nanoTime() + timeout.toNanos();
        while (appliedTick.getAsLong() <= committed) {
            if (System.nanoTime() > end) {
                fail("the destination did not follow the writer within " + timeout.toSeconds() + " s (tick " + committed
                        + " committed, " + appliedTick.getAsLong() + " applied)\n" + context());
            }
            writer.assertHealthy();
            Thread.sleep(100);
        }
    }

    /**
     * For a while: the slot is streamed by exactly one walsender, the slot's active one, and the standby never started a
     * consumer nor tried the slot.
     */
    private void assertOneStreamsAndTheStandbyKeepsOff(PgSourceProcess leader, PgSourceProcess standby, Duration during) throws Exception {
        long end = System.nanoTime() + during.toNanos();
        try (Connection c = pg.connect(source); PreparedStatement ps = c.prepareStatement("""
                SELECT s.active_pid, (SELECT count(*) FROM pg_stat_replication r WHERE r.application_name = ?)
                FROM pg_replication_slots s WHERE s.slot_name = ?""")) {
            ps.setString(1, "pgsource pgoutput " + slot);
            ps.setString(2, slot);
            do {
                try (ResultSet rs = ps.executeQuery()) {
                    assertThat(rs.next()).as("slot %s exists", slot).isTrue();
                    assertThat(rs.getObject(1)).as("the slot is active (streamed by the leader %s)%n%s", leader.name(), context()).isNotNull();
                    assertThat(rs.getLong(2)).as("replication connections of pgsource on the slot").isEqualTo(1);
                }
                Thread.sleep(200);
            } while (System.nanoTime() < end);
        }
        assertThat(standby.logText()).as("the standby's log%n%s", tail(standby, 30))
                .doesNotContain(LEADS).doesNotContain("Consumer started").doesNotContain("is in use by");
        assertThat(leader.logText()).as("the leader's log").contains("Consumer started: pgoutput://" + slot);
    }

    /**
     * SIGKILLs the leader while the writer runs and measures, from the kill: the standby taking the lock, the slot
     * streamed again, and the destination applying a transaction committed after the kill (the takeover).
     */
    private Duration killAndMeasureTakeover(PgSourceProcess leader, PgSourceProcess standby, LongSupplier appliedTick) throws Exception {
        Thread.sleep(500 + new Random(seed).nextInt(1_500));
        Integer oldPid = activePid();
        long killed = System.nanoTime();
        leader.kill("by the test");
        story.add("SIGKILL " + leader.name() + " (streaming as PID " + oldPid + ")");
        long leads = 0;
        long streams = 0;
        long applied = 0;
        long appliedBefore = Long.MAX_VALUE;
        long end = killed + TAKEOVER_BOUND.toNanos();
        while (applied == 0 && System.nanoTime() < end) {
            long now = System.nanoTime();
            if (leads == 0 && standby.logged(LEADS)) {
                leads = now;
            }
            Integer pid = activePid();
            if (streams == 0 && pid != null && !pid.equals(oldPid)) {
                streams = now;
                // what the destination holds once the new leader streams: the killed leader's last commits, sent before
                // the kill and completed by the server after it, are in it (they made the takeover look 13 ms long)
                appliedBefore = appliedTick.getAsLong();
            } else if (streams != 0 && appliedTick.getAsLong() > appliedBefore) {
                applied = now;
            }
            writer.assertHealthy();
            Thread.sleep(50);
        }
        assertThat(applied).as("%s took over within %s s of the SIGKILL (lock taken after %s ms, slot streamed after %s ms)%n%s",
                standby.name(), TAKEOVER_BOUND.toSeconds(), millis(killed, leads), millis(killed, streams), context()).isNotZero();
        Duration takeover = Duration.ofNanos(applied - killed);
        story.add(standby.name() + " took over: lock " + millis(killed, leads) + " ms, slot " + millis(killed, streams)
                + " ms, destination " + takeover.toMillis() + " ms after the kill");
        return takeover;
    }

    private static String millis(long from, long at) {
        return at == 0 ? "-" : Long.toString((at - from) / 1_000_000);
    }

    private Integer activePid() throws SQLException {
        try (Connection c = pg.connect(source);
             PreparedStatement ps = c.prepareStatement("SELECT active_pid FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? (Integer) rs.getObject(1) : null;
            }
        }
    }

    private long maxTick(String db) {
        try (Connection c = pg.connect(db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT coalesce(max(id), 0) FROM public.ticks")) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            return 0; // not created yet: the initial copy has not reached it
        }
    }

    private interface Comparison {
        /** null when equal, else what differs. */
        String difference() throws Exception;
    }

    private void awaitEqual(Comparison comparison, Duration timeout) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        String difference = comparison.difference();
        while (difference != null && System.nanoTime() < end) {
            Thread.sleep(500);
            difference = comparison.difference();
        }
        if (difference != null) {
            fail("the destination did not end equal to the source within " + timeout.toSeconds() + " s: " + difference + "\n" + context());
        }
    }

    /** Every table row for row, both ways (stricter than EXCEPT: numeric scale counts). */
    private String comparePostgres(String target) throws SQLException {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            for (String table : TABLES) {
                List<String> columns = TableCompare.columns(s, "public", table);
                String q = SourceFixture.qualified("public", table);
                List<String> expected = SourceFixture.rows(s, q, columns);
                List<String> actual = SourceFixture.rows(d, q, columns);
                if (!expected.equals(actual)) {
                    return table + ": " + expected.size() + " source rows, " + actual.size() + " destination rows";
                }
            }
        }
        return null;
    }

    /** The state the jsonl events replay to, table by table, against the source's rows as JSON. */
    private String compareJsonLines(Path output) throws Exception {
        JsonLinesReplay replay = JsonLinesReplay.of(output);
        try (Connection c = pg.connect(source); Statement s = c.createStatement()) {
            for (String table : TABLES) {
                Map<String, JsonNode> expected = new TreeMap<>();
                try (ResultSet rs = s.executeQuery("SELECT id::text, row_to_json(t)::text FROM public." + table + " t")) {
                    while (rs.next()) {
                        expected.put(rs.getString(1), JsonLinesReplay.JSON.readTree(rs.getString(2)));
                    }
                }
                Map<String, JsonNode> actual = replay.rows(table);
                if (!expected.equals(actual)) {
                    long missing = expected.keySet().stream().filter(k -> !actual.containsKey(k)).count();
                    long extra = actual.keySet().stream().filter(k -> !expected.containsKey(k)).count();
                    return table + ": " + expected.size() + " source rows, " + actual.size() + " replayed from the events (" + missing
                            + " missing, " + extra + " extra, the rest differ in values)";
                }
            }
        }
        return null;
    }

    private static String tail(PgSourceProcess child, int lines) {
        return "---- " + child.name() + " (tail) ----\n" + PgSourceProcess.tail(child.log(), lines);
    }

    private String context() {
        StringBuilder out = new StringBuilder("seed " + seed + "; " + String.join(" -> ", story) + "\n");
        children.forEach(c -> out.append(tail(c, 25)));
        return out.toString();
    }

    /**
     * The rows the events of {@code <dir>/public.<table>.jsonl} leave when applied in order: at-least-once delivery
     * repeats whole transactions in order, which changes nothing here.
     */
    private static final class JsonLinesReplay {
        static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
        private final Path dir;

        private JsonLinesReplay(Path dir) {
            this.dir = dir;
        }

        static JsonLinesReplay of(Path dir) {
            return new JsonLinesReplay(dir);
        }

        Map<String, JsonNode> rows(String table) throws Exception {
            Map<String, JsonNode> rows = new HashMap<>();
            Path file = dir.resolve("public." + table + ".jsonl");
            if (!Files.exists(file)) {
                return rows;
            }
            for (String line : Files.readAllLines(file)) {
                if (line.isEmpty()) {
                    continue;
                }
                JsonNode event = JSON.readTree(line);
                switch (event.get("op").asText()) {
                    case "r", "c" -> rows.put(event.get("after").get("id").asText(), event.get("after"));
                    case "u" -> {
                        // a primary-key change carries the old key in before
                        if (event.get("before").isObject()) {
                            rows.remove(event.get("before").get("id").asText());
                        }
                        rows.put(event.get("after").get("id").asText(), event.get("after"));
                    }
                    case "d" -> rows.remove(event.get("before").get("id").asText());
                    case "t" -> rows.clear();
                    default -> throw new AssertionError("unknown op in " + line);
                }
            }
            return rows;
        }

        long maxKey(String table) {
            try {
                return rows(table).keySet().stream().mapToLong(Long::parseLong).max().orElse(0);
            } catch (Exception e) {
                return 0; // a line being written right now: read again later
            }
        }
    }

    /**
     * A simple mixed workload: small transactions that insert, update and delete accounts and orders, each also
     * inserting the next row of {@code ticks}, so the destination's highest tick tells which transaction it applied.
     */
    private final class Writer implements Runnable {
        private final String db;
        private final Random rnd;
        private final Thread thread = new Thread(this, "ha-writer");
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final AtomicLong lastTick = new AtomicLong();
        private final AtomicLong transactions = new AtomicLong();

        Writer(String db, Random rnd) {
            this.db = db;
            this.rnd = rnd;
        }

        void start() {
            thread.start();
        }

        void stopAndJoin() throws InterruptedException {
            stop.set(true);
            thread.join(30_000);
            assertThat(thread.isAlive()).as("writer stopped").isFalse();
            assertHealthy();
        }

        void assertHealthy() {
            if (failure.get() != null) {
                throw new AssertionError("the writer failed (seed " + seed + ")", failure.get());
            }
        }

        @Override
        public void run() {
            try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
                c.setAutoCommit(false);
                long tick = 0;
                while (!stop.get()) {
                    s.execute(change());
                    s.execute("INSERT INTO ticks VALUES (" + ++tick + ", " + System.currentTimeMillis() + ")");
                    c.commit();
                    lastTick.set(tick);
                    transactions.incrementAndGet();
                    Thread.sleep(5 + rnd.nextInt(20));
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        }

        private String change() {
            int n = 1 + rnd.nextInt(rnd.nextInt(10) == 0 ? 300 : 20);
            long account = 1 + rnd.nextInt(5_500);
            long order = 1 + rnd.nextInt(25_000);
            return switch (rnd.nextInt(7)) {
                case 0 -> "INSERT INTO accounts SELECT nextval('account_ids'), g, 'new' FROM generate_series(1, " + n + ") g";
                case 1 -> "UPDATE accounts SET balance = balance + 1, note = 'upd ' || txid_current() WHERE id IN "
                        + "(SELECT id FROM accounts WHERE id >= " + account + " ORDER BY id LIMIT " + n + ")";
                case 2 -> "DELETE FROM accounts WHERE id IN (SELECT id FROM accounts WHERE id >= " + account + " ORDER BY id LIMIT "
                        + Math.min(n, 5) + ")";
                case 3 -> "INSERT INTO orders (account, amount, status) SELECT " + account + ", round((random() * 1000)::numeric, 2), 'new' "
                        + "FROM generate_series(1, " + n + ") g";
                case 4 -> "UPDATE orders SET status = 'paid', amount = amount + 0.01 WHERE id IN "
                        + "(SELECT id FROM orders WHERE id >= " + order + " ORDER BY id LIMIT " + n + ")";
                case 5 -> "DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE id >= " + order + " ORDER BY id LIMIT "
                        + Math.min(n, 10) + ")";
                // a primary-key change: the old key must go, the new one appear
                default -> "UPDATE orders SET id = nextval('orders_id_seq') WHERE id = (SELECT min(id) FROM orders WHERE id >= " + order + ")";
            };
        }
    }
}
