package io.pgsource.bench;

import io.pgsource.embedded.EmbeddedPostgres;
import io.pgsource.testsupport.DestinationSessions;
import io.pgsource.testsupport.MixedWorkload;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.SourceFaults;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TcpProxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The fault soak (run by {@code bench/soak.sh [minutes]}): pgsource streams LOG_BASED into PostgreSQL for N minutes
 * while the {@link MixedWorkload} writes and faults hit it every 10 to 40 s, every kind once per round in a random
 * order: pgsource killed (SIGKILL) at a random moment, inside a destination COMMIT (that completes, or whose session is
 * ended so it is lost), or between the parts of a 20,000-row transaction;
 * the source server restarted fast or immediately (a crash); the walsender terminated; the network path to the source
 * cut for 3 to 15 s. After each, pgsource (restarted if it was killed) must apply past the WAL written after the fault
 * within 3 minutes. The first fault is a kill during the initial copy. At the end the writer stops, pgsource catches
 * up, and every table must equal the source, EXCEPT ALL both ways. A summary lists the faults by kind, with how many
 * recovered and the longest recovery, the writer's transactions and rows, and the result; exit code 0 when equal.
 *
 * <p>Source and destination are two embedded PostgreSQL 18 servers (fsync off, as in the tests; an immediate stop is
 * still a crash of the server), the source reached through a loopback {@link TcpProxy}. Environment: {@code SOAK_SEED}
 * (default: the clock), {@code SOAK_SCALE} (seed rows of the biggest table, default 50,000). Logs of every run go to
 * {@code target/soak/<time>/}.
 */
public final class Soak {
    private static final Duration RECOVERY = Duration.ofMinutes(3);

    /** The faults, and what each does. */
    enum Fault {
        KILL_MID_STREAM("SIGKILL of pgsource at a random moment"),
        KILL_IN_COMMIT("SIGKILL of pgsource inside a destination COMMIT (it completes)"),
        KILL_IN_COMMIT_LOST("SIGKILL of pgsource inside a destination COMMIT (session ended: lost)"),
        KILL_BETWEEN_PARTS("SIGKILL of pgsource between the parts of a 20,000-row transaction"),
        SOURCE_RESTART_FAST("source PostgreSQL restarted (fast)"),
        SOURCE_RESTART_IMMEDIATE("source PostgreSQL restarted (immediate: a crash)"),
        WALSENDER_TERMINATED("walsender terminated (pg_terminate_backend)"),
        NETWORK_CUT("network path to the source cut for 3-15 s");

        final String text;

        Fault(String text) {
            this.text = text;
        }
    }

    private static final class Tally {
        int count;
        int recovered;
        double longestSeconds;
    }

    private final Map<Fault, Tally> tallies = new EnumMap<>(Fault.class);
    private final long seed;
    private final Random random;
    private int copyKills;

    private Soak(long seed) {
        this.seed = seed;
        this.random = new Random(seed);
    }

    public static void main(String[] args) throws Exception {
        double minutes = args.length > 0 ? Double.parseDouble(args[0]) : 10;
        long seed = System.getenv("SOAK_SEED") != null ? Long.parseLong(System.getenv("SOAK_SEED")) : System.nanoTime();
        int scale = System.getenv("SOAK_SCALE") != null ? Integer.parseInt(System.getenv("SOAK_SCALE")) : 50_000;
        System.exit(new Soak(seed).run(Duration.ofSeconds(Math.round(minutes * 60)), scale));
    }

    private int run(Duration length, int scale) throws Exception {
        Path work = Files.createDirectories(Path.of("target", "soak",
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))).toAbsolutePath());
        String slot = "soak";
        long started = System.nanoTime();
        say("soak for %s, seed %d (repeat with SOAK_SEED=%d), scale %d, logs in %s", length, seed, seed, scale, work);
        try (EmbeddedPostgres source = EmbeddedPostgres.builder().testMode(true).start();
             EmbeddedPostgres target = EmbeddedPostgres.builder().testMode(true).start();
             TcpProxy proxy = TcpProxy.start(source.host(), source.port())) {
            String db = source.createDatabase("soak_src");
            String dst = target.createDatabase("soak_dst");
            MixedWorkload workload = MixedWorkload.builder(() -> DriverManager.getConnection(source.jdbcUrl(db), source.superuser(), source.password()))
                    .scale(scale).seed(seed).build();
            workload.create();
            SourceFaults faults = new SourceFaults(source, proxy, db, slot);
            DestinationSessions destination = new DestinationSessions(
                    () -> DriverManager.getConnection(target.jdbcUrl(dst), target.superuser(), target.password()));
            Map<String, String> env = env(source, proxy, db, target, dst, workload, slot);
            try (PgSourceProcess pgsource = new PgSourceProcess(work, env)) {
                pgsource.start();
                workload.start();
                // the first fault: a kill during the initial copy
                pgsource.awaitLog("copying", RECOVERY);
                pgsource.await("the first copied page", RECOVERY, destination::positionsTableExists);
                Thread.sleep(random.nextInt(2_000));
                if (!pgsource.logText().contains("Initial copy finished")) {
                    copyKills++;
                }
                pgsource.kill("during the initial copy");
                pgsource.start();
                pgsource.awaitLog("Streaming slot", RECOVERY);
                destination.install();

                long end = started + length.toNanos();
                List<Fault> deck = new java.util.ArrayList<>();
                while (System.nanoTime() < end) {
                    Thread.sleep(10_000 + random.nextInt(30_000));
                    if (System.nanoTime() >= end) {
                        break;
                    }
                    if (workload.failure() != null) {
                        throw new AssertionError("the workload writer failed", workload.failure());
                    }
                    if (deck.isEmpty()) {
                        // every kind once per round, in a random order: a 10-minute soak tries each about twice
                        deck.addAll(List.of(Fault.values()));
                        java.util.Collections.shuffle(deck, random);
                    }
                    inject(deck.remove(0), pgsource, faults, destination, workload, slot);
                }

                say("writer stops; waiting for pgsource to catch up");
                workload.stopAndJoin(Duration.ofMinutes(2));
                faults.awaitConfirmed(faults.currentLsn(), RECOVERY, pgsource);
                pgsource.stop(Duration.ofSeconds(60));

                List<TableCompare.Difference> diffs;
                try (Connection s = faults.connect();
                     Connection d = DriverManager.getConnection(target.jdbcUrl(dst), target.superuser(), target.password())) {
                    diffs = TableCompare.differences(s, "public", d, "public", workload.tables().stream().map(MixedWorkload.Table::name).toList());
                    summary(workload, pgsource, diffs, started, counts(s, workload));
                }
                if (!diffs.isEmpty()) {
                    diffs.forEach(x -> say("%s", x));
                    say("%s", pgsource.context());
                    return 1;
                }
                return 0;
            } catch (Throwable e) {
                say("SOAK FAILED after %.1f min: %s", (System.nanoTime() - started) / 60e9, e);
                e.printStackTrace(System.out);
                return 1;
            } finally {
                workload.stop();
            }
        }
    }

    private void inject(Fault fault, PgSourceProcess pgsource, SourceFaults faults, DestinationSessions destination, MixedWorkload workload,
                        String slot) throws Exception {
        Tally tally = tallies.computeIfAbsent(fault, f -> new Tally());
        tally.count++;
        pgsource.note(fault.text);
        switch (fault) {
            case KILL_MID_STREAM -> pgsource.kill("at a random moment");
            case KILL_IN_COMMIT, KILL_IN_COMMIT_LOST -> {
                destination.arm(Duration.ofSeconds(2));
                try {
                    DestinationSessions.Committing c = destination.awaitCommitting(Duration.ofSeconds(60));
                    if (c == null) {
                        throw new AssertionError("no destination COMMIT seen within 60 s\n" + pgsource.context());
                    }
                    pgsource.kill("inside a destination COMMIT");
                    if (fault == Fault.KILL_IN_COMMIT_LOST && !destination.terminate(c.pid())) {
                        throw new AssertionError("the committing destination session was gone before it could be ended");
                    }
                } finally {
                    destination.disarm();
                }
            }
            case KILL_BETWEEN_PARTS -> {
                workload.pause(Duration.ofSeconds(60));
                try (Connection c = faults.connect(); Statement s = c.createStatement()) {
                    s.execute("UPDATE accounts SET note = 'big ' || txid_current(), balance = balance + 1 "
                            + "WHERE id IN (SELECT id FROM accounts ORDER BY id LIMIT 20000)");
                } finally {
                    workload.resume();
                }
                pgsource.await("a partly applied transaction", RECOVERY, () -> String.valueOf(destination.storedPosition(slot)).contains("#"));
                pgsource.kill("between parts (" + destination.storedPosition(slot) + " stored)");
            }
            case SOURCE_RESTART_FAST -> faults.restart(EmbeddedPostgres.StopMode.FAST);
            case SOURCE_RESTART_IMMEDIATE -> faults.restart(EmbeddedPostgres.StopMode.IMMEDIATE);
            case WALSENDER_TERMINATED -> {
                if (faults.walsenderPid() == null) {
                    pgsource.awaitLog("Streaming slot", RECOVERY);
                    pgsource.await("an active walsender", RECOVERY, () -> faults.walsenderPid() != null);
                }
                faults.terminateWalsender();
            }
            case NETWORK_CUT -> faults.cutNetwork(Duration.ofSeconds(3 + random.nextInt(13)));
        }
        long faultEnded = System.nanoTime();
        if (!pgsource.alive()) {
            pgsource.start();
        }
        faults.awaitConfirmed(faults.currentLsn(), RECOVERY, pgsource);
        double seconds = (System.nanoTime() - faultEnded) / 1e9;
        tally.recovered++;
        tally.longestSeconds = Math.max(tally.longestSeconds, seconds);
        pgsource.note(String.format(Locale.ROOT, "applying again after %.1f s", seconds));
        say("%-72s applying again after %5.1f s (pgsource run %d; writer: %s)", fault.text, seconds, pgsource.runs(), workload.stats());
    }

    private void summary(MixedWorkload workload, PgSourceProcess pgsource, List<TableCompare.Difference> diffs, long started,
                         Map<String, Long> rows) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%n==== soak summary (seed %d, %.1f min) ====%n", seed, (System.nanoTime() - started) / 60e9));
        out.append(String.format(Locale.ROOT, "%-72s %5s %9s %12s%n", "fault", "count", "recovered", "longest (s)"));
        out.append(String.format(Locale.ROOT, "%-72s %5d %9s %12s%n", "SIGKILL of pgsource during the initial copy", 1, copyKills == 1 ? "1" : "1*", "-"));
        int total = 1;
        for (Fault f : Fault.values()) {
            Tally t = tallies.getOrDefault(f, new Tally());
            total += t.count;
            out.append(String.format(Locale.ROOT, "%-72s %5d %9d %12.1f%n", f.text, t.count, t.recovered, t.longestSeconds));
        }
        out.append(String.format(Locale.ROOT, "faults: %d; pgsource runs: %d%n", total, pgsource.runs()));
        out.append("writer: ").append(workload.stats()).append('\n');
        out.append("source rows at the end: ").append(rows).append('\n');
        out.append(diffs.isEmpty() ? "RESULT: every table equals the source (EXCEPT ALL both ways, 12 tables)"
                : "RESULT: " + diffs.size() + " table(s) differ").append('\n');
        if (copyKills == 0) {
            out.append("(* the initial copy had finished when the first kill came)\n");
        }
        System.out.print(out);
    }

    private static Map<String, Long> counts(Connection c, MixedWorkload workload) throws Exception {
        Map<String, Long> counts = new java.util.LinkedHashMap<>();
        try (Statement s = c.createStatement()) {
            for (MixedWorkload.Table t : workload.tables()) {
                try (var rs = s.executeQuery("SELECT count(*) FROM public." + t.name())) {
                    rs.next();
                    counts.put(t.name(), rs.getLong(1));
                }
            }
        }
        return counts;
    }

    private static Map<String, String> env(EmbeddedPostgres source, TcpProxy proxy, String db, EmbeddedPostgres target, String dst,
                                           MixedWorkload workload, String slot) {
        Map<String, String> env = PgSourceProcess.logReplicationEnv(proxy.host(), proxy.port(), db, source.superuser(), source.password(),
                workload.qualifiedNames(), slot);
        env.put("SOURCE_BATCH_FETCH_LIMIT", "5000");
        env.put("SOURCE_MAX_BATCH_SIZE", "2000");
        env.put("DESTINATION", "postgres");
        env.put("DESTINATION_URL", target.jdbcUrl(dst));
        env.put("DESTINATION_USERNAME", target.superuser());
        env.put("DESTINATION_PASSWORD", target.password());
        return env;
    }

    private static void say(String format, Object... args) {
        System.out.println(String.format(Locale.ROOT, "[soak %s] ", LocalDateTime.now().format(DateTimeFormatter.ofPattern("HH:mm:ss")))
                + String.format(Locale.ROOT, format, args));
    }
}
