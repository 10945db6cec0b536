package io.pgsource.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmark (run by {@code bench/run.sh [rows]}): pgsource next to the physical limits, in one run on one machine
 * and one server, on a generated table of realistic rows. Prints one table with rows/s, MB/s, peak RSS, the ratio to
 * the limit, the target and whether it is met, plus a description of the machine.
 *
 * <ol>
 * <li>snapshot, source side: FULL_TABLE into {@code discard}, next to {@code psql COPY ... TO STDOUT > /dev/null};</li>
 * <li>snapshot end to end: FULL_TABLE into {@code postgres} (another database on the same server), next to
 * {@code psql COPY ... TO STDOUT | psql COPY ... FROM STDIN} between the same databases;</li>
 * <li>CDC, source side: LOG_BASED draining N inserted rows (1,000-row transactions; one transaction) into
 * {@code discard}, next to {@code pg_recvlogical} on a copy of the same slot;</li>
 * <li>CDC end to end: the same WAL (a third copy of the slot) into {@code postgres};</li>
 * <li>latency: commit at the source to commit at the destination (both from {@code track_commit_timestamp}) while a
 * writer commits 100 transactions of 10 rows per second;</li>
 * <li>memory: the peak RSS of every pgsource run (its process tree: the launcher and pgsource's JVM).</li>
 * <li>CDC into Kafka (not by default: {@code BENCH_ITEMS=3,7}): the same WAL (a fourth copy of the slot) into
 * {@code kafka}, until a read_committed consumer has every row; the broker is {@code BENCH_KAFKA} (bootstrap servers)
 * or the tests' single-node broker in a child JVM.</li>
 * </ol>
 *
 * <p>Whole-process seconds run from the start of pgsource's JVM to its exit (1, 2) or to the last change applied (3, 4,
 * 7). In-process seconds: pgsource's time in 1 and 2 is the batch run as pgsource logs it ("Batch run finished in N ms": discovery, every
 * page read, mapped and committed); in 3 and 4 it is from the moment the slot becomes active (the bench polls
 * {@code pg_replication_slots}) to the last change applied (the discard sink's last batch; the last row visible in the
 * destination). The limits run twice (both runs are printed) and the faster run counts.
 *
 * <p>Environment: {@code BENCH_ROWS} (or the first argument; default 1000000), {@code BENCH_ITEMS} (default
 * {@code 1,2,3,4,5}), {@code BENCH_CDC_WORKLOADS} ({@code many,one}: the 1,000-row transactions, the one transaction),
 * {@code BENCH_LATENCY_SECONDS} (60), {@code BENCH_JDBC_URL} (a superuser pgjdbc URL; default an
 * embedded PostgreSQL 18), {@code BENCH_JAVA_OPTS} (the child JVM's options; by default none: {@code java -jar
 * target/pgsource.jar} as the README runs it, the launcher included), {@code BENCH_JFR=1} (a JFR recording of every
 * pgsource run; as a JVM option it makes the launcher step aside).
 */
public final class Bench {
    static final String SRC = "pgsource_bench";
    static final String DST = "pgsource_bench_dst";
    static final String PUB = "bench_pub";
    static final String TABLE = "public.orders";
    static final Path OUT = Path.of("target", "bench");
    static final String DDL = "CREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, "
            + "amount numeric(12,2) NOT NULL, note text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, "
            + "attrs jsonb, paid boolean NOT NULL)";
    static final String INSERT = "INSERT INTO public.orders SELECT g, (g * 7) % 100000, "
            + "(ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 100.0, left(repeat(md5(g::text), 4), 100), "
            + "now() - g * interval '1 second', now(), jsonb_build_object('k', g % 10, 'tag', 'x'), g % 2 = 0 "
            + "FROM generate_series(?::bigint, ?::bigint) g";
    private static final Pattern BATCH_RUN = Pattern.compile("Batch run finished in (\\d+) ms");
    private static final Pattern DISCARDED = Pattern.compile("\\[discard changes=(\\d+) batches=(\\d+) firstMs=(\\d+) lastMs=(\\d+)]");

    private final BenchServer server;
    private final PhysicalLimits limits;
    private final int rows;
    private final Set<Integer> items;
    private final int latencySeconds;
    private final List<Line> table = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final List<Long> peaks = new ArrayList<>();
    private boolean allPassedMemory = true;

    private Bench(BenchServer server, int rows, Set<Integer> items, int latencySeconds) {
        this.server = server;
        this.limits = new PhysicalLimits(server, OUT);
        this.rows = rows;
        this.items = items;
        this.latencySeconds = latencySeconds;
    }

    public static void main(String[] args) throws Exception {
        int rows = Integer.parseInt((args.length > 0 ? args[0] : env("BENCH_ROWS", "1000000")).replace("_", "").replace(",", ""));
        Set<Integer> items = new LinkedHashSet<>();
        for (String i : env("BENCH_ITEMS", "1,2,3,4,5").split(",")) {
            items.add(Integer.parseInt(i.strip()));
        }
        int latencySeconds = Integer.parseInt(env("BENCH_LATENCY_SECONDS", "60"));
        Files.createDirectories(OUT);
        if (!Files.exists(Path.of("target", "pgsource.jar"))) {
            throw new IllegalStateException("target/pgsource.jar is missing: build first (bench/run.sh does)");
        }
        try (BenchServer server = BenchServer.start(System.getenv("BENCH_JDBC_URL"))) {
            new Bench(server, rows, items, latencySeconds).run();
        }
    }

    private void run() throws Exception {
        server.execute("postgres", "DROP DATABASE IF EXISTS " + SRC + " WITH (FORCE)", "DROP DATABASE IF EXISTS " + DST + " WITH (FORCE)",
                "CREATE DATABASE " + SRC, "CREATE DATABASE " + DST);
        server.execute(SRC, DDL, "CREATE PUBLICATION " + PUB + " FOR TABLE " + TABLE);
        String machine = machine();
        System.out.println(machine);
        warmUp();
        if (items.contains(1) || items.contains(2)) {
            snapshot();
        }
        if (items.contains(3) || items.contains(4) || items.contains(7)) {
            String workloads = env("BENCH_CDC_WORKLOADS", "many,one");
            if (workloads.contains("many")) {
                cdc("1,000-row txns", 1000, "w1");
            }
            if (workloads.contains("one")) {
                cdc("one txn", rows, "w2");
            }
        }
        if (items.contains(5)) {
            latency();
        }
        long peak = peaks.isEmpty() ? -1 : peaks.stream().mapToLong(Long::longValue).max().getAsLong();
        String mem = String.format(Locale.ROOT, "6 memory: peak RSS of every pgsource run above (launcher and pgsource's JVM together): max %s "
                        + "(target: <= 300 MB, every run complete): %s",
                peak < 0 ? "-" : peak / 1024 + " MB", allPassedMemory && peak >= 0 && peak <= 300 * 1024 ? "PASS" : "FAIL");
        System.out.println();
        System.out.println("=".repeat(150));
        System.out.println(machine);
        System.out.printf(Locale.ROOT, "rows %,d; pgsource: %s; limits by %s%n", rows, PgSourceChild.describeJava(), limits.copyTool());
        System.out.println();
        System.out.println("| item | path | limit s | pgsource whole-process s | ratio | in-process s | ratio | pgsource CPU s / server CPU s "
                + "| peak RSS | target | |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
        for (Line l : table) {
            System.out.println(l.format());
        }
        System.out.println();
        notes.forEach(System.out::println);
        System.out.println(mem);
        System.out.printf(Locale.ROOT, "load average at the end: %s%n", loadAverage());
        System.out.println("(limit: the PostgreSQL client tool's own process, the faster of two runs; whole-process: from starting pgsource's JVM "
                + "(JVM start, Camel start, connecting included) to its exit (1-2) or to the last row in the destination (3-4, 7); in-process: "
                + "pgsource's own work (1-2: \"Batch run finished in\"; 3-4, 7: from the slot becoming active to the last row); ratio: limit s / "
                + "pgsource s; CPU: user+system seconds of pgsource's process tree, start-up included, and of the server (embedded only) over the "
                + "same run; peak RSS: the process tree's summed RSS; target: the whole-process ratio, pgsource CPU <= half the server's, peak RSS <= 300 MB)");
    }

    /**
     * One run of pgsource on the empty table before anything is measured: the jar's launcher writes its class-data-sharing
     * archive at the end of the first run after a build (a second or two more, once), which every user's later run uses.
     */
    private void warmUp() throws Exception {
        PgSourceChild child = new PgSourceChild(OUT, "warm-up");
        sourceEnv(child, "FULL_TABLE").env("DESTINATION", "discard");
        PgSourceChild.Result r = child.start().await(300);
        System.out.printf(Locale.ROOT, "warm-up run (writes the launcher's class-data-sharing archive when there is none): %.2f s, exit %d%n",
                r.seconds(), r.exit());
    }

    // ---------------------------------------------------------------- 1 and 2: snapshot

    private void snapshot() throws Exception {
        long t0 = System.nanoTime();
        server.execute(SRC, "TRUNCATE " + TABLE);
        try (Connection c = server.connect(SRC); PreparedStatement ps = c.prepareStatement(INSERT)) {
            ps.setLong(1, 1);
            ps.setLong(2, rows);
            ps.executeUpdate();
        }
        server.execute(SRC, "VACUUM (FREEZE, ANALYZE) " + TABLE, "CHECKPOINT");
        long bytes = limits.copyBytes(SRC, TABLE);
        double mb = bytes / 1e6;
        System.out.printf(Locale.ROOT, "%n== snapshot: %,d rows loaded in %.1f s; COPY text %.1f MB; table %s; load average %s%n", rows,
                (System.nanoTime() - t0) / 1e9, mb, server.queryString(SRC, "SELECT pg_size_pretty(pg_table_size('" + TABLE + "'))"),
                loadAverage());

        if (items.contains(1)) {
            Measured limit = best("1 COPY TO STDOUT > /dev/null", () -> limits.copyToDevNull(SRC, TABLE));
            PgSourceChild child = new PgSourceChild(OUT, "full-table-discard");
            sourceEnv(child, "FULL_TABLE").env("DESTINATION", "discard");
            double cpu = server.cpuSeconds();
            PgSourceChild.Result r = child.start().await(600);
            double serverCpu = serverCpuSince(cpu);
            double seconds = batchRun(r);
            table.add(Line.pgsource("1", "FULL_TABLE -> discard vs `" + limits.copyTool() + " COPY TO STDOUT > /dev/null`", limit.seconds(),
                    r.seconds(), seconds, r, serverCpu, 0.8));
            record(r, discarded(r) == rows);
        }
        if (items.contains(2)) {
            Measured limit = best("2 COPY TO STDOUT | COPY FROM STDIN", () -> {
                server.execute(DST, "DROP TABLE IF EXISTS public.orders_pipe", DDL.replace("public.orders", "public.orders_pipe"));
                return limits.copyPipe(SRC, TABLE, DST, "public.orders_pipe");
            });
            server.execute(DST, "DROP TABLE IF EXISTS public.orders_pipe", "CHECKPOINT");
            resetDestination();
            PgSourceChild child = new PgSourceChild(OUT, "full-table-postgres");
            sourceEnv(child, "FULL_TABLE");
            destinationEnv(child);
            double cpu = server.cpuSeconds();
            PgSourceChild.Result r = child.start().await(900);
            double serverCpu = serverCpuSince(cpu);
            double seconds = batchRun(r);
            long copied = server.queryLong(DST, "SELECT count(*) FROM " + TABLE);
            table.add(Line.pgsource("2", "FULL_TABLE -> postgres vs `" + limits.copyTool() + " COPY TO STDOUT | COPY FROM STDIN`",
                    limit.seconds(), r.seconds(), seconds, r, serverCpu, rows >= 5_000_000 ? 0.9 : 0.8));
            record(r, copied == rows);
            if (copied != rows) {
                notes.add(String.format(Locale.ROOT, "!! item 2: the destination holds %,d rows, expected %,d", copied, rows));
            }
        }
    }

    private interface Timed {
        double seconds() throws Exception;
    }

    /** Seconds, and the server's CPU seconds over the same time (negative when unknown). */
    private record Measured(double seconds, double serverCpu) {
    }

    private Measured measure(Timed run) throws Exception {
        double cpu = server.cpuSeconds();
        double seconds = run.seconds();
        return new Measured(seconds, cpu < 0 ? -1 : server.cpuSeconds() - cpu);
    }

    /** The faster of two runs: the limit is the best this machine does. */
    private Measured best(String what, Timed run) throws Exception {
        Measured a = measure(run);
        Measured b = measure(run);
        notes.add(String.format(Locale.ROOT, "limit %s: %.2f s and %.2f s (server CPU %.1f s and %.1f s)", what, a.seconds(), b.seconds(),
                a.serverCpu(), b.serverCpu()));
        return a.seconds() <= b.seconds() ? a : b;
    }

    // ---------------------------------------------------------------- 3 and 4: CDC

    /** The destination database, emptied: no tables, no positions. */
    private void resetDestination() throws SQLException {
        server.execute(DST, "DROP SCHEMA IF EXISTS public CASCADE", "DROP SCHEMA IF EXISTS _pgsource CASCADE", "CREATE SCHEMA public");
    }

    private boolean destinationSeeded;

    /**
     * Gives the destination a complete copy of the (empty) source table, as a user's first run would, so LOG_BASED on an
     * existing slot streams at once: a FULL_TABLE run of the empty table stores the completed copy's bookmark.
     */
    private void seedDestination() throws Exception {
        if (destinationSeeded) {
            server.execute(DST, "TRUNCATE " + TABLE);
            return;
        }
        resetDestination();
        PgSourceChild child = new PgSourceChild(OUT, "seed");
        sourceEnv(child, "FULL_TABLE");
        destinationEnv(child);
        PgSourceChild.Result r = child.start().await(300);
        if (r.exit() != 0) {
            throw new IllegalStateException("seeding the destination failed, see " + r.log());
        }
        destinationSeeded = true;
    }

    private void cdc(String name, int txRows, String tag) throws Exception {
        String origin = "bench_" + tag;
        server.execute(SRC, "TRUNCATE " + TABLE); // before the slot exists: not part of what the consumers read
        if (items.contains(4)) {
            seedDestination();
        }
        KafkaRun kafka = items.contains(7) ? seedKafka(tag) : null;
        long startLsn;
        long endLsn;
        double load;
        try (Connection c = server.connect(SRC); Statement s = c.createStatement()) {
            s.execute("SELECT pg_create_logical_replication_slot('" + origin + "', 'pgoutput')");
            startLsn = lsn(s, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
            long t0 = System.nanoTime();
            try (PreparedStatement ps = c.prepareStatement(INSERT)) {
                for (long lo = 1; lo <= rows; lo += txRows) {
                    ps.setLong(1, lo);
                    ps.setLong(2, Math.min(rows, lo + txRows - 1));
                    ps.executeUpdate();
                }
            }
            load = (System.nanoTime() - t0) / 1e9;
            endLsn = lsn(s, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
            for (String copy : List.of("_recv", "_discard", "_postgres", "_kafka")) {
                s.execute("SELECT pg_copy_logical_replication_slot('" + origin + "', '" + origin + copy + "')");
            }
            s.execute("SELECT pg_drop_replication_slot('" + origin + "')");
            s.execute("CHECKPOINT");
        }
        double walMb = (endLsn - startLsn) / 1e6;
        System.out.printf(Locale.ROOT, "%n== CDC, %s: %,d rows loaded in %.1f s (%,d rows/s), WAL %.1f MB; load average %s%n", name, rows, load,
                Math.round(rows / load), walMb, loadAverage());

        Double limit = null;
        if (limits.recvlogical != null) {
            // pgsource reads binary tuples here (every column type of the table decodes exactly from them, PostgreSQL 14+):
            // the limit reads the same stream
            boolean binary = server.queryLong("postgres", "SHOW server_version_num") >= 140000;
            Measured m = measure(() -> limits.recvlogical(SRC, origin + "_recv", PUB, endLsn, binary));
            limit = m.seconds();
            notes.add(String.format(Locale.ROOT, "limit pg_recvlogical (%s): %.2f s (server CPU %.1f s)", name, m.seconds(), m.serverCpu()));
        }
        dropSlot(origin + "_recv");
        String what = " (" + name + ")";
        if (limit == null) {
            notes.add("pg_recvlogical not found (install the PostgreSQL client tools): items 3-4 have no limit to compare with");
        }
        if (items.contains(3)) {
            PgSourceChild child = new PgSourceChild(OUT, "log-discard-" + tag);
            sourceEnv(child, "LOG_BASED").env("DESTINATION", "discard").env("SOURCE_REPLICATION_SLOT", origin + "_discard")
                    .property("destination.discard.assume_copied", "true");
            SlotWatch watch = SlotWatch.start(server, origin + "_discard");
            double cpu = server.cpuSeconds();
            PgSourceChild.Result r = child.start().await(900);
            double serverCpu = serverCpuSince(cpu);
            Matcher m = DISCARDED.matcher(r.text());
            long lastMs = m.find() ? Long.parseLong(m.group(4)) : -1;
            double seconds = lastMs > 0 ? (lastMs - watch.activeSinceMillis()) / 1e3 : Double.NaN;
            double whole = lastMs > 0 ? (lastMs - child.startMillis()) / 1e3 : Double.NaN;
            table.add(Line.pgsource("3", "LOG_BASED -> discard" + what + " vs `pg_recvlogical`", limit == null ? Double.NaN : limit,
                    whole, seconds, r, serverCpu, 0.9));
            record(r, discarded(r) == rows);
            dropSlot(origin + "_discard");
        }
        if (items.contains(4)) {
            PgSourceChild child = new PgSourceChild(OUT, "log-postgres-" + tag);
            sourceEnv(child, "LOG_BASED").env("SOURCE_REPLICATION_SLOT", origin + "_postgres");
            destinationEnv(child);
            SlotWatch watch = SlotWatch.start(server, origin + "_postgres");
            double cpu = server.cpuSeconds();
            child.start();
            long lastVisible = awaitRow(child, rows);
            PgSourceChild.Result r = child.await(900);
            double serverCpu = serverCpuSince(cpu);
            double seconds = (lastVisible - watch.activeSinceMillis()) / 1e3;
            double whole = (lastVisible - child.startMillis()) / 1e3;
            long copied = server.queryLong(DST, "SELECT count(*) FROM " + TABLE);
            table.add(Line.pgsource("4", "LOG_BASED -> postgres" + what + " vs `pg_recvlogical`", limit == null ? Double.NaN : limit,
                    whole, seconds, r, serverCpu, 0.9));
            record(r, copied == rows);
            if (copied != rows) {
                notes.add(String.format(Locale.ROOT, "!! item 4%s: the destination holds %,d rows, expected %,d", what, copied, rows));
            }
            dropSlot(origin + "_postgres");
        }
        if (kafka != null) {
            cdcIntoKafka(kafka, origin + "_kafka", what, walMb, limit);
        }
        dropSlot(origin + "_discard");
        dropSlot(origin + "_postgres");
        dropSlot(origin + "_kafka");
    }

    // ---------------------------------------------------------------- 7: CDC into Kafka

    /** A kafka destination of one CDC workload: its topics' prefix and transactional id. */
    private record KafkaRun(String bootstrap, String prefix, String transactionalId) {
        PgSourceChild env(PgSourceChild child) {
            return child.env("DESTINATION", "kafka").env("DESTINATION_KAFKA_BROKERS", bootstrap).env("DESTINATION_KAFKA_TOPIC_PREFIX", prefix)
                    .env("DESTINATION_KAFKA_TRANSACTIONAL_ID", transactionalId);
        }
    }

    private String kafkaBootstrap;

    /** BENCH_KAFKA (bootstrap servers), else the tests' broker (a child JVM; needs kafka_2.13 on the classpath: run.sh adds it). */
    private String kafkaBootstrap() {
        if (kafkaBootstrap == null) {
            String given = System.getenv("BENCH_KAFKA");
            kafkaBootstrap = given != null && !given.isBlank() ? given.strip() : io.pgsource.testsupport.KafkaBroker.get().bootstrapServers();
        }
        return kafkaBootstrap;
    }

    /**
     * Fresh topics whose position topic holds a complete copy of the (empty) source table, as a user's first run would
     * leave it, so LOG_BASED on the existing slot streams at once.
     */
    private KafkaRun seedKafka(String tag) throws Exception {
        String prefix = "bench-" + tag + "-" + System.currentTimeMillis();
        KafkaRun run = new KafkaRun(kafkaBootstrap(), prefix, "pgsource-" + prefix);
        PgSourceChild child = new PgSourceChild(OUT, "kafka-seed-" + tag);
        run.env(sourceEnv(child, "FULL_TABLE"));
        PgSourceChild.Result r = child.start().await(300);
        if (r.exit() != 0) {
            throw new IllegalStateException("seeding the kafka destination failed, see " + r.log());
        }
        return run;
    }

    /** LOG_BASED into kafka: from the slot becoming active until a read_committed consumer has every row. */
    private void cdcIntoKafka(KafkaRun kafka, String slot, String what, double walMb, Double limit) throws Exception {
        PgSourceChild child = new PgSourceChild(OUT, "log-kafka-" + slot);
        kafka.env(sourceEnv(child, "LOG_BASED").env("SOURCE_REPLICATION_SLOT", slot));
        SlotWatch watch = SlotWatch.start(server, slot);
        double cpu = server.cpuSeconds();
        child.start();
        long[] seen = new long[1];
        long lastVisible = awaitKafkaRows(kafka, child, seen);
        PgSourceChild.Result r = child.await(900);
        double serverCpu = serverCpuSince(cpu);
        double seconds = (lastVisible - watch.activeSinceMillis()) / 1e3;
        double whole = (lastVisible - child.startMillis()) / 1e3;
        table.add(Line.pgsource("7", "LOG_BASED -> kafka" + what + " vs `pg_recvlogical`", limit == null ? Double.NaN : limit,
                whole, seconds, r, serverCpu, 0.0));
        record(r, seen[0] == rows);
        if (seen[0] != rows) {
            notes.add(String.format(Locale.ROOT, "!! item 7%s: a read_committed consumer saw %,d records, expected %,d", what, seen[0], rows));
        }
    }

    /** Consumes the table's topic with read_committed until it holds every row (or the run ended); returns when (epoch ms). */
    private long awaitKafkaRows(KafkaRun kafka, PgSourceChild child, long[] seen) throws Exception {
        String topic = kafka.prefix() + "." + TABLE;
        Map<String, Object> config = Map.of("bootstrap.servers", kafka.bootstrap(), "isolation.level", "read_committed",
                "enable.auto.commit", false, "max.partition.fetch.bytes", 8 << 20, "fetch.max.bytes", 64 << 20);
        try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]>(config,
                new org.apache.kafka.common.serialization.ByteArrayDeserializer(), new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            var partition = new org.apache.kafka.common.TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long idle = 0;
            while (seen[0] < rows) {
                int n = 0;
                for (var record : consumer.poll(java.time.Duration.ofMillis(50))) {
                    n += record.key() != null ? 1 : 0; // a copy's truncate has no key
                }
                seen[0] += n;
                idle = n > 0 ? 0 : idle + 1;
                if (!child.alive() && idle > 100) {
                    break;
                }
            }
        }
        return System.currentTimeMillis();
    }

    /** Polls the destination until the row with this id is visible (it comes with the last transaction); returns when (epoch ms). */
    private long awaitRow(PgSourceChild child, long id) throws Exception {
        try (Connection c = server.connect(DST); PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + TABLE + " WHERE id = ?")) {
            ps.setLong(1, id);
            while (child.alive()) {
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return System.currentTimeMillis();
                    }
                }
                Thread.sleep(10);
            }
        }
        return System.currentTimeMillis();
    }

    /** Notes when a slot becomes active (a consumer started streaming from it), polling every 10 ms. */
    private static final class SlotWatch {
        private final AtomicLong activeSince = new AtomicLong(-1);

        static SlotWatch start(BenchServer server, String slot) {
            SlotWatch w = new SlotWatch();
            Thread t = new Thread(() -> {
                try (Connection c = server.connect(SRC);
                     PreparedStatement ps = c.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
                    ps.setString(1, slot);
                    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
                    while (System.nanoTime() < deadline) {
                        try (ResultSet rs = ps.executeQuery()) {
                            if (rs.next() && rs.getBoolean(1)) {
                                w.activeSince.set(System.currentTimeMillis());
                                return;
                            }
                        }
                        Thread.sleep(10);
                    }
                } catch (Exception e) {
                    System.out.println("slot watch failed: " + e.getMessage());
                }
            }, "slot-watch-" + slot);
            t.setDaemon(true);
            t.start();
            return w;
        }

        long activeSinceMillis() {
            long v = activeSince.get();
            if (v < 0) {
                throw new IllegalStateException("the slot never became active");
            }
            return v;
        }
    }

    // ---------------------------------------------------------------- 5: latency

    private void latency() throws Exception {
        String commitTs = server.queryString(SRC, "SHOW track_commit_timestamp");
        if (!"on".equals(commitTs)) {
            notes.add("5 latency: skipped, the server has track_commit_timestamp=off (ALTER SYSTEM SET track_commit_timestamp = on, then restart)");
            return;
        }
        seedDestination();
        server.execute(SRC, "TRUNCATE " + TABLE);
        String slot = "bench_latency";
        server.execute(SRC, "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')");
        PgSourceChild child = new PgSourceChild(OUT, "latency");
        sourceEnv(child, "LOG_BASED").env("SOURCE_REPLICATION_SLOT", slot).env("SYNC_ONCE", "false");
        destinationEnv(child);
        int tx = latencySeconds * 100;
        long base = 1_000_000_000L;
        long[] commitMicros = new long[tx];
        long[] roundTrip = new long[tx];
        long late = 0;
        long walSyncs;
        PgSourceChild.Result r;
        child.start();
        try (Connection c = server.connect(SRC)) {
            awaitActive(c, slot, child);
            Thread.sleep(1000);
            System.out.printf(Locale.ROOT, "%n== latency: pgsource streaming into postgres; writer: 100 tx/s x 10 rows for %d s; load average %s%n",
                    latencySeconds, loadAverage());
            walSyncs = walSyncs(c);
            try (PreparedStatement ps = c.prepareStatement(INSERT)) {
                long t0 = System.nanoTime();
                for (int i = 0; i < tx; i++) {
                    long wait = t0 + i * 10_000_000L - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    } else if (wait < -10_000_000L) {
                        late++;
                    }
                    ps.setLong(1, base + i * 10L);
                    ps.setLong(2, base + i * 10L + 9);
                    long sent = System.nanoTime();
                    ps.executeUpdate();
                    commitMicros[i] = (System.nanoTime() - sent) / 1000;
                    roundTrip[i] = commitMicros[i];
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && child.alive()
                    && server.queryLong(DST, "SELECT count(*) FROM " + TABLE + " WHERE id >= " + base) < tx * 10L) {
                Thread.sleep(100);
            }
            walSyncs = walSyncs >= 0 ? walSyncs(c) - walSyncs : -1;
        } finally {
            r = child.stop();
            dropSlot(slot);
        }
        Arrays.sort(commitMicros);
        // one latency per source transaction: its first row's commit time at the source and at the destination
        String sql = "SELECT id, (extract(epoch from pg_xact_commit_timestamp(xmin)) * 1000000)::bigint FROM " + TABLE
                + " WHERE id >= " + base + " AND (id - " + base + ") % 10 = 0";
        Map<Long, Long> source = commitTimes(SRC, sql);
        Map<Long, Long> destination = commitTimes(DST, sql);
        long[] micros = source.entrySet().stream().filter(e -> destination.containsKey(e.getKey()))
                .mapToLong(e -> destination.get(e.getKey()) - e.getValue()).sorted().toArray();
        String line;
        boolean pass;
        if (micros.length == 0) {
            line = "no transaction reached the destination, see " + r.log();
            pass = false;
        } else {
            double p50 = pct(micros, 50);
            double p99 = pct(micros, 99);
            pass = p99 <= 5 && micros[micros.length - 1] / 1e3 <= 25 && micros.length == tx;
            line = String.format(Locale.ROOT, "p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms over %d of %d transactions",
                    p50, pct(micros, 95), p99, micros[micros.length - 1] / 1e3, micros.length, tx);
        }
        if (micros.length > 0) {
            notes.add("5: the slowest transactions (second of the run: latency, the writer's own round trip of it): "
                    + outliers(source, destination, base, roundTrip));
            // the first transaction after pgsource's start pays its warm-up (class loading, catalog lookups, the first
            // statements at the destination) and the ones behind it queue: the steady state apart, not instead
            long first = source.values().stream().mapToLong(Long::longValue).min().orElse(0);
            long[] steady = source.entrySet().stream().filter(e -> destination.containsKey(e.getKey()) && e.getValue() - first >= 5_000_000)
                    .mapToLong(e -> destination.get(e.getKey()) - e.getValue()).sorted().toArray();
            if (steady.length > 0) {
                notes.add(String.format(Locale.ROOT, "5: after the first 5 s of the writer: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms over %d"
                        + " transactions", pct(steady, 50), pct(steady, 95), pct(steady, 99), steady[steady.length - 1] / 1e3, steady.length));
            }
        }
        table.add(Line.text("5", "latency commit -> destination commit (postgres), 1,000 rows/s", line, r,
                "p99<=5 max<=25 ms", pass));
        notes.add(String.format(Locale.ROOT, "5: the writer's own INSERT+COMMIT round trip (with the source's WAL fsync): p50 %.1f ms, p99 %.1f ms; "
                + "%d of %d transactions started >10 ms late; the server's WAL fsyncs: %s", pct(commitMicros, 50), pct(commitMicros, 99), late, tx,
                walSyncs < 0 ? "unknown" : String.format(Locale.ROOT, "%d (%.2f per source transaction)", walSyncs, walSyncs / (double) tx)));
        if (r.peakRssKb() >= 0) {
            peaks.add(r.peakRssKb());
        }
    }

    /** The ten slowest transactions: when in the run (so warm-up shows as such), their latency and the writer's round trip. */
    private static String outliers(Map<Long, Long> source, Map<Long, Long> destination, long base, long[] roundTrip) {
        long first = source.values().stream().mapToLong(Long::longValue).min().orElse(0);
        return source.entrySet().stream().filter(e -> destination.containsKey(e.getKey()))
                .sorted((a, b) -> Long.compare(destination.get(b.getKey()) - b.getValue(), destination.get(a.getKey()) - a.getValue()))
                .limit(10).map(e -> {
                    int i = (int) ((e.getKey() - base) / 10);
                    return String.format(Locale.ROOT, "%.2f s: %.1f ms (writer %.1f ms)", (e.getValue() - first) / 1e6,
                            (destination.get(e.getKey()) - e.getValue()) / 1e3, i < roundTrip.length ? roundTrip[i] / 1e3 : -1.0);
                }).collect(java.util.stream.Collectors.joining(", "));
    }

    /** The server's WAL fsyncs so far (PostgreSQL 16+: pg_stat_io), -1 when it does not say. */
    private static long walSyncs(Connection c) {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT sum(fsyncs)::bigint FROM pg_stat_io WHERE object = 'wal'")) {
            return rs.next() && rs.getObject(1) != null ? rs.getLong(1) : -1;
        } catch (SQLException e) {
            return -1;
        }
    }

    private Map<Long, Long> commitTimes(String db, String sql) throws SQLException {
        Map<Long, Long> out = new HashMap<>();
        try (Connection c = server.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.put(rs.getLong(1), rs.getLong(2));
            }
        }
        return out;
    }

    private static void awaitActive(Connection c, String slot, PgSourceChild child) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try (PreparedStatement ps = c.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            while (System.nanoTime() < deadline) {
                if (!child.alive()) {
                    throw new IllegalStateException("pgsource exited before streaming, see " + child.log());
                }
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getBoolean(1)) {
                        return;
                    }
                }
                Thread.sleep(100);
            }
        }
        throw new IllegalStateException("pgsource did not start streaming from " + slot + " within 120 s");
    }

    /** Nearest-rank percentile, in milliseconds. */
    private static double pct(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)] / 1e3;
    }

    // ---------------------------------------------------------------- helpers

    private PgSourceChild sourceEnv(PgSourceChild child, String method) {
        return child.env("SOURCE_HOST", server.host).env("SOURCE_PORT", Integer.toString(server.port)).env("SOURCE_DATABASE", SRC)
                .env("SOURCE_USERNAME", server.user).env("SOURCE_PASSWORD", server.password).env("SOURCE_SCHEMA", "public")
                .env("SOURCE_TABLES", TABLE).env("SOURCE_PUBLICATION_NAME", PUB).env("SOURCE_CREATE_SLOT", "false")
                .env("SOURCE_CREATE_PUBLICATION", "false").env("SOURCE_REPLICATION_METHOD", method).env("SYNC_ONCE", "true");
    }

    private PgSourceChild destinationEnv(PgSourceChild child) {
        return child.env("DESTINATION", "postgres").env("DESTINATION_URL", server.jdbcUrl(DST)).env("DESTINATION_USERNAME", server.user)
                .env("DESTINATION_PASSWORD", server.password);
    }

    /** Counts the run's memory: every run must end well and stay under 512 MB. */
    private void record(PgSourceChild.Result r, boolean complete) {
        if (r.exit() != 0 || !complete) {
            allPassedMemory = false;
            notes.add("!! " + r.log() + ": exit " + r.exit() + (complete ? "" : ", incomplete"));
        }
        if (r.peakRssKb() >= 0) {
            peaks.add(r.peakRssKb());
        }
    }

    private double serverCpuSince(double before) {
        return before < 0 ? -1 : server.cpuSeconds() - before;
    }

    private static double batchRun(PgSourceChild.Result r) {
        Matcher m = BATCH_RUN.matcher(r.text());
        return m.find() ? Long.parseLong(m.group(1)) / 1e3 : Double.NaN;
    }

    private static long discarded(PgSourceChild.Result r) {
        Matcher m = DISCARDED.matcher(r.text());
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }


    private void dropSlot(String slot) throws SQLException {
        server.execute(SRC, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    }

    static long lsn(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private String machine() throws Exception {
        StringBuilder sb = new StringBuilder("machine: ");
        sb.append(Runtime.getRuntime().availableProcessors()).append(" cores");
        String cpu = procLine("/proc/cpuinfo", "model name");
        if (cpu != null) {
            sb.append(" (").append(cpu.replaceAll("\\s+", " ")).append(')');
        }
        String mem = procLine("/proc/meminfo", "MemTotal");
        if (mem != null) {
            sb.append(", RAM ").append(Long.parseLong(mem.replaceAll("\\D", "")) / 1024 / 1024).append(" GB");
        }
        sb.append(", ").append(System.getProperty("os.name")).append(' ').append(System.getProperty("os.version"));
        sb.append("\njava: ").append(System.getProperty("java.vm.name")).append(' ').append(System.getProperty("java.runtime.version"))
                .append(" (").append(System.getProperty("java.vendor")).append(')');
        sb.append("\nserver: ").append(server.queryString("postgres", "SELECT version()")).append(server.embedded() ? " (embedded)" : "");
        sb.append("\nserver settings:");
        for (String s : List.of("shared_buffers", "fsync", "synchronous_commit", "wal_level", "max_wal_size", "track_commit_timestamp")) {
            sb.append(' ').append(s).append('=').append(server.queryString("postgres", "SHOW " + s));
        }
        sb.append("\nclient tools: psql ").append(limits.psql == null ? "NOT FOUND" : limits.psql).append(", pg_recvlogical ")
                .append(limits.recvlogical == null ? "NOT FOUND" : limits.recvlogical);
        sb.append("\nload average: ").append(loadAverage()).append(" (bench JVM pid ").append(ManagementFactory.getRuntimeMXBean().getPid()).append(')');
        return sb.toString();
    }

    private static String procLine(String file, String key) {
        try {
            return Files.readAllLines(Path.of(file)).stream().filter(l -> l.startsWith(key)).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    /** One line of the result table (markdown). */
    private record Line(String item, String path, String cells) {
        static Line pgsource(String item, String path, double limit, double whole, double in, PgSourceChild.Result r, double serverCpu,
                             double target) {
            double wholeRatio = limit / whole;
            double inRatio = limit / in;
            List<String> failed = new ArrayList<>();
            if (r.exit() != 0) {
                failed.add("exit " + r.exit());
            }
            if (!(wholeRatio >= target)) {
                failed.add("ratio");
            }
            if (r.cpuSeconds() >= 0 && serverCpu > 0 && r.cpuSeconds() > serverCpu / 2) {
                failed.add("CPU");
            }
            if (r.peakRssKb() > 300 * 1024) {
                failed.add("RSS");
            }
            return new Line(item, path, String.join(" | ", sec(limit), sec(whole), ratio(wholeRatio), sec(in), ratio(inRatio),
                    cpu(r.cpuSeconds()) + " / " + cpu(serverCpu), r.rss(), target > 0 ? ">= " + target : "-",
                    target <= 0 ? "" : failed.isEmpty() ? "PASS" : "FAIL (" + String.join(", ", failed) + ")"));
        }

        private static String sec(double s) {
            return Double.isNaN(s) ? "-" : String.format(Locale.ROOT, "%.2f", s);
        }

        private static String ratio(double r) {
            return Double.isNaN(r) || Double.isInfinite(r) ? "-" : String.format(Locale.ROOT, "%.2f", r);
        }

        private static String cpu(double seconds) {
            return seconds < 0 ? "-" : String.format(Locale.ROOT, "%.1f", seconds);
        }

        static Line text(String item, String path, String text, PgSourceChild.Result r, String target, boolean pass) {
            return new Line(item, path, String.join(" | ", "-", "-", "-", text, "-", cpu(r.cpuSeconds()) + " / -", r.rss(), target,
                    pass ? "PASS" : "FAIL"));
        }

        String format() {
            return "| " + item + " | " + path + " | " + cells + " |";
        }
    }
}
