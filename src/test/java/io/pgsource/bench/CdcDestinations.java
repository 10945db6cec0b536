package io.pgsource.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * CDC throughput into each destination (run by {@code bench/cdc-destinations.sh [rows]}): one source table, N rows
 * inserted in 1,000-row transactions while a logical slot records them; then the same WAL (a copy of the slot each) is
 * read by {@code pg_recvlogical} into /dev/null and streamed by pgsource, as the user runs it ({@code java -jar
 * target/pgsource.jar}, configured by environment variables, {@code sync.once}), into postgres, mysql, kafka and
 * endpoint (NATS JetStream). A destination's time is the whole process, from the JVM's start to its exit; the row count
 * at the destination is checked after. Prints one table: path, seconds, rows/s, ratio (pg_recvlogical's seconds over
 * the path's). A service that is not there gives a "skipped" line.
 *
 * <p>Each destination first gets a complete copy of the (still empty) table, as a user's first run leaves it, so the
 * measured run only streams. Environment: {@code BENCH_ROWS} (or the first argument; default 1000000),
 * {@code BENCH_JDBC_URL} (a superuser pgjdbc URL; default an embedded PostgreSQL), {@code BENCH_MYSQL} (host:port of
 * MySQL/MariaDB, default 127.0.0.1:3306, user {@code BENCH_MYSQL_USER} (root), password {@code BENCH_MYSQL_PASSWORD}
 * (empty)), {@code BENCH_KAFKA} (bootstrap servers; default the tests' single-node KRaft broker in a child JVM),
 * {@code BENCH_NATS} (host:port with JetStream, default 127.0.0.1:4222), {@code BENCH_PATHS} (default
 * {@code postgres,mysql,kafka,nats}), {@code BENCH_JAVA_OPTS} (the pgsource JVM's options).
 */
public final class CdcDestinations {
    private static final String SRC = Bench.SRC;
    private static final String DST = Bench.DST;
    private static final Path OUT = Bench.OUT;

    /** One destination of the bench. */
    private interface Target {
        /** postgres, mysql, kafka or nats: its slot's suffix and the name in BENCH_PATHS. */
        String key();

        /** Its name in the table. */
        default String name() {
            return key();
        }

        /** Why it is skipped, or null when its service is there. */
        String absent();

        /** Prepares the destination and gives the child its settings. */
        void env(PgSourceChild child) throws Exception;

        /** The rows (changes) the destination holds after the run. */
        long count() throws Exception;

        default void close() throws Exception {
        }
    }

    private final BenchServer server;
    private final int rows;
    private final List<String> lines = new ArrayList<>();

    private CdcDestinations(BenchServer server, int rows) {
        this.server = server;
        this.rows = rows;
    }

    public static void main(String[] args) throws Exception {
        int rows = Integer.parseInt((args.length > 0 ? args[0] : setting("BENCH_ROWS", "1000000")).replace("_", "").replace(",", ""));
        Files.createDirectories(OUT);
        if (!Files.exists(Path.of("target", "pgsource.jar"))) {
            throw new IllegalStateException("target/pgsource.jar is missing: build first (bench/cdc-destinations.sh does)");
        }
        try (BenchServer server = BenchServer.start(System.getenv("BENCH_JDBC_URL"))) {
            new CdcDestinations(server, rows).run();
        }
        System.exit(0); // the Kafka broker's child JVM and client threads
    }

    private void run() throws Exception {
        server.execute("postgres", "DROP DATABASE IF EXISTS " + SRC + " WITH (FORCE)", "DROP DATABASE IF EXISTS " + DST + " WITH (FORCE)",
                "CREATE DATABASE " + SRC, "CREATE DATABASE " + DST);
        server.execute(SRC, Bench.DDL, "CREATE PUBLICATION " + Bench.PUB + " FOR TABLE " + Bench.TABLE);
        List<Target> targets = new ArrayList<>();
        for (String path : setting("BENCH_PATHS", "postgres,mysql,kafka,nats").split(",")) {
            targets.add(switch (path.strip()) {
                case "postgres" -> new Postgres();
                case "mysql" -> new MySql();
                case "kafka" -> new Kafka();
                case "nats" -> new Nats();
                default -> throw new IllegalArgumentException("BENCH_PATHS: " + path + " is not one of postgres, mysql, kafka, nats");
            });
        }
        // each destination holds a complete copy of the empty table, as after a user's first run
        List<Target> ready = new ArrayList<>();
        for (Target t : targets) {
            String absent = t.absent();
            if (absent != null) {
                lines.add(String.format(Locale.ROOT, "%-30s %s", t.name(), "skipped (" + absent + ")"));
                continue;
            }
            PgSourceChild seed = new PgSourceChild(OUT, "cdc-seed-" + t.key());
            sourceEnv(seed, "FULL_TABLE");
            t.env(seed);
            PgSourceChild.Result r = seed.start().await(300);
            if (r.exit() != 0) {
                lines.add(String.format(Locale.ROOT, "%-30s %s", t.name(), "skipped (its first copy failed, see " + r.log() + ")"));
                continue;
            }
            ready.add(t);
        }

        String origin = "cdc_bench";
        long endLsn;
        double walMb;
        try (Connection c = server.connect(SRC); Statement s = c.createStatement()) {
            s.execute("SELECT pg_create_logical_replication_slot('" + origin + "', 'pgoutput')");
            long startLsn = Bench.lsn(s, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
            long t0 = System.nanoTime();
            try (PreparedStatement ps = c.prepareStatement(Bench.INSERT)) {
                for (long lo = 1; lo <= rows; lo += 1000) {
                    ps.setLong(1, lo);
                    ps.setLong(2, Math.min(rows, lo + 999));
                    ps.executeUpdate();
                }
            }
            double load = (System.nanoTime() - t0) / 1e9;
            endLsn = Bench.lsn(s, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
            walMb = (endLsn - startLsn) / 1e6;
            for (String copy : List.of("recv", "postgres", "mysql", "kafka", "nats")) {
                s.execute("SELECT pg_copy_logical_replication_slot('" + origin + "', '" + origin + "_" + copy + "')");
            }
            s.execute("SELECT pg_drop_replication_slot('" + origin + "')");
            s.execute("CHECKPOINT");
            System.out.printf(Locale.ROOT, "%n== %,d rows inserted in 1,000-row transactions in %.1f s, WAL %.1f MB; load average %s%n", rows,
                    load, walMb, Bench.loadAverage());
        }

        PhysicalLimits limits = new PhysicalLimits(server, OUT);
        Double recv = null;
        if (limits.recvlogical == null) {
            lines.add(0, String.format(Locale.ROOT, "%-30s %s", "pg_recvlogical", "skipped (not found: install the PostgreSQL client tools)"));
        } else {
            boolean binary = server.queryLong("postgres", "SHOW server_version_num") >= 140000;
            recv = limits.recvlogical(SRC, origin + "_recv", Bench.PUB, endLsn, binary);
            lines.add(0, line("pg_recvlogical > /dev/null", recv, recv, ""));
        }
        for (Target t : ready) {
            String slot = origin + "_" + t.key();
            PgSourceChild child = new PgSourceChild(OUT, "cdc-" + t.key());
            sourceEnv(child, "LOG_BASED").env("SOURCE_REPLICATION_SLOT", slot);
            t.env(child);
            PgSourceChild.Result r = child.start().await(1800);
            long count = t.count();
            String note = r.exit() != 0 ? "exit " + r.exit() + ", see " + r.log()
                    : count != rows ? String.format(Locale.ROOT, "!! %,d rows at the destination, expected %,d", count, rows) : "";
            lines.add(line("pgsource -> " + t.name(), r.seconds(), recv, note + (note.isEmpty() ? "" : "; ") + "peak RSS " + r.rss()));
            t.close();
        }
        server.execute(SRC, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'cdc_bench%'");

        System.out.println();
        System.out.println("=".repeat(110));
        System.out.printf(Locale.ROOT, "CDC throughput: %,d rows in 1,000-row transactions (WAL %.1f MB); server %s%s%n", rows, walMb,
                server.queryString("postgres", "SHOW server_version"), server.embedded() ? " (embedded)" : "");
        System.out.printf(Locale.ROOT, "pgsource: java %s -jar target/pgsource.jar; seconds: the whole process, JVM start included%n",
                String.join(" ", PgSourceChild.javaOptions()));
        System.out.printf(Locale.ROOT, "machine: %d cores; load average at the end: %s%n%n", Runtime.getRuntime().availableProcessors(),
                Bench.loadAverage());
        System.out.printf(Locale.ROOT, "%-30s %8s %10s %7s  %s%n", "path", "seconds", "rows/s", "ratio", "(ratio: pg_recvlogical's seconds / the path's)");
        lines.forEach(System.out::println);
    }

    private String line(String path, double seconds, Double recv, String note) {
        return String.format(Locale.ROOT, "%-30s %8.1f %,10d %7s  %s", path, seconds, Math.round(rows / seconds),
                recv == null ? "-" : String.format(Locale.ROOT, "%.2f", recv / seconds), note);
    }

    private PgSourceChild sourceEnv(PgSourceChild child, String method) {
        return child.env("SOURCE_HOST", server.host).env("SOURCE_PORT", Integer.toString(server.port)).env("SOURCE_DATABASE", SRC)
                .env("SOURCE_USERNAME", server.user).env("SOURCE_PASSWORD", server.password).env("SOURCE_SCHEMA", "public")
                .env("SOURCE_TABLES", Bench.TABLE).env("SOURCE_PUBLICATION_NAME", Bench.PUB).env("SOURCE_CREATE_SLOT", "false")
                .env("SOURCE_CREATE_PUBLICATION", "false").env("SOURCE_REPLICATION_METHOD", method).env("SYNC_ONCE", "true");
    }

    private static boolean listening(String host, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String setting(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v.strip();
    }

    // ---------------------------------------------------------------- the destinations

    /** Another database on the source's server. */
    private final class Postgres implements Target {
        public String key() {
            return "postgres";
        }

        public String absent() {
            return null;
        }

        public void env(PgSourceChild child) {
            child.env("DESTINATION", "postgres").env("DESTINATION_URL", server.jdbcUrl(DST)).env("DESTINATION_USERNAME", server.user)
                    .env("DESTINATION_PASSWORD", server.password);
        }

        public long count() throws SQLException {
            return server.queryLong(DST, "SELECT count(*) FROM " + Bench.TABLE);
        }
    }

    /** MySQL or MariaDB at BENCH_MYSQL, database pgsource_bench (dropped and created). */
    private static final class MySql implements Target {
        final String hostPort = setting("BENCH_MYSQL", "127.0.0.1:3306");
        final String user = setting("BENCH_MYSQL_USER", "root");
        final String password = System.getenv().getOrDefault("BENCH_MYSQL_PASSWORD", "");
        boolean created;

        public String key() {
            return "mysql";
        }

        public String absent() {
            String[] hp = hostPort.split(":");
            return listening(hp[0], Integer.parseInt(hp[1])) ? null : "no MySQL/MariaDB on " + hostPort;
        }

        private String url(String db) {
            return "jdbc:mariadb://" + hostPort + "/" + db;
        }

        public void env(PgSourceChild child) throws SQLException {
            if (!created) {
                try (Connection c = DriverManager.getConnection(url(""), user, password); Statement s = c.createStatement()) {
                    s.execute("DROP DATABASE IF EXISTS pgsource_bench");
                    s.execute("CREATE DATABASE pgsource_bench");
                }
                created = true;
            }
            child.env("DESTINATION", "mysql").env("DESTINATION_URL", url("pgsource_bench")).env("DESTINATION_USERNAME", user);
            if (!password.isEmpty()) {
                child.env("DESTINATION_PASSWORD", password);
            }
        }

        public long count() throws SQLException {
            try (Connection c = DriverManager.getConnection(url("pgsource_bench"), user, password); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM orders")) {
                rs.next();
                return rs.getLong(1);
            }
        }

        public void close() throws SQLException {
            try (Connection c = DriverManager.getConnection(url(""), user, password); Statement s = c.createStatement()) {
                s.execute("DROP DATABASE IF EXISTS pgsource_bench");
            }
        }
    }

    /** BENCH_KAFKA, else the tests' single-node KRaft broker in a child JVM; fresh topics. */
    private static final class Kafka implements Target {
        final String prefix = "cdcbench-" + System.currentTimeMillis();
        String bootstrap;

        public String key() {
            return "kafka";
        }

        public String absent() {
            String given = System.getenv("BENCH_KAFKA");
            if (given != null && !given.isBlank()) {
                String[] hp = given.split(",")[0].strip().split(":");
                bootstrap = given.strip();
                return listening(hp[0], Integer.parseInt(hp[1])) ? null : "no Kafka on " + given;
            }
            try {
                bootstrap = io.pgsource.testsupport.KafkaBroker.get().bootstrapServers();
                return null;
            } catch (RuntimeException | LinkageError e) { // JUnit's assumption, or kafka_2.13 not on the class path
                return "no Kafka broker: " + e.getMessage();
            }
        }

        public void env(PgSourceChild child) {
            child.env("DESTINATION", "kafka").env("DESTINATION_KAFKA_BROKERS", bootstrap).env("DESTINATION_KAFKA_TOPIC_PREFIX", prefix)
                    .env("DESTINATION_KAFKA_TRANSACTIONAL_ID", "pgsource-" + prefix);
        }

        /** The table's records a read_committed consumer sees (a copy's truncate has no key and is not counted). */
        public long count() {
            Map<String, Object> config = Map.of("bootstrap.servers", bootstrap, "isolation.level", "read_committed",
                    "enable.auto.commit", false, "max.partition.fetch.bytes", 8 << 20, "fetch.max.bytes", 64 << 20);
            long seen = 0;
            try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]>(config,
                    new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
                    new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
                var partitions = consumer.partitionsFor(prefix + "." + Bench.TABLE).stream()
                        .map(p -> new org.apache.kafka.common.TopicPartition(p.topic(), p.partition())).toList();
                consumer.assign(partitions);
                consumer.seekToBeginning(partitions);
                long idle = 0;
                while (idle < 40) {
                    int n = 0;
                    for (var record : consumer.poll(java.time.Duration.ofMillis(50))) {
                        n += record.key() != null ? 1 : 0;
                    }
                    seen += n;
                    idle = n > 0 ? 0 : idle + 1;
                }
            }
            return seen;
        }
    }

    /** NATS JetStream at BENCH_NATS through destination=endpoint; a file stream of its own, deleted after. */
    private static final class Nats implements Target {
        final String hostPort = setting("BENCH_NATS", "127.0.0.1:4222");
        final String prefix = "cdcbench" + System.currentTimeMillis();
        final Path directory = OUT.resolve("endpoint-" + prefix);
        io.nats.client.Connection nats;
        long before;

        public String key() {
            return "nats";
        }

        public String name() {
            return "endpoint (NATS)";
        }

        public String absent() {
            String[] hp = hostPort.split(":");
            return listening(hp[0], Integer.parseInt(hp[1])) ? null : "no NATS on " + hostPort;
        }

        public void env(PgSourceChild child) throws Exception {
            if (nats == null) {
                nats = io.nats.client.Nats.connect("nats://" + hostPort);
                nats.jetStreamManagement().addStream(io.nats.client.api.StreamConfiguration.builder().name(prefix.toUpperCase(Locale.ROOT))
                        .subjects(prefix + ".>").storageType(io.nats.client.api.StorageType.File).build());
            }
            before = messages();
            child.env("DESTINATION", "endpoint").env("DESTINATION_DIRECTORY", directory.toString())
                    .env("DESTINATION_URI", "nats:" + prefix + ".${schema}.${table}?servers=" + hostPort + "&jetstreamEnabled=true");
        }

        private long messages() throws Exception {
            return nats.jetStreamManagement().getStreamInfo(prefix.toUpperCase(Locale.ROOT)).getStreamState().getMsgCount();
        }

        /** The messages the run added to the stream (a repeat after a failed send would count twice). */
        public long count() throws Exception {
            return messages() - before;
        }

        public void close() throws Exception {
            nats.jetStreamManagement().deleteStream(prefix.toUpperCase(Locale.ROOT));
            nats.close();
        }
    }
}
