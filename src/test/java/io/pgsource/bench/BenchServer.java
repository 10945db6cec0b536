package io.pgsource.bench;

import io.pgsource.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.stream.Stream;
import org.postgresql.Driver;

/**
 * The PostgreSQL server the benchmark runs against: an embedded PostgreSQL 18 (fsync on, track_commit_timestamp on
 * for the latency item), or the superuser URL in {@code BENCH_JDBC_URL}.
 */
final class BenchServer implements AutoCloseable {
    final String host;
    final int port;
    final String user;
    final String password;
    private final EmbeddedPostgres embedded;

    private BenchServer(String host, int port, String user, String password, EmbeddedPostgres embedded) {
        this.host = host;
        this.port = port;
        this.user = user;
        this.password = password;
        this.embedded = embedded;
    }

    static BenchServer start(String url) {
        if (url == null || url.isBlank()) {
            EmbeddedPostgres pg = EmbeddedPostgres.builder()
                    .setting("track_commit_timestamp", "on")
                    // the 1M-row loads write about 600 MB of WAL: no checkpoint in the middle of a measured run
                    .setting("max_wal_size", "4GB")
                    .start();
            return new BenchServer(pg.host(), pg.port(), pg.superuser(), pg.password(), pg);
        }
        Properties p = Driver.parseURL(url, new Properties());
        if (p == null) {
            throw new IllegalArgumentException("BENCH_JDBC_URL is not a pgjdbc URL: jdbc:postgresql://host:port/postgres?user=...&password=...");
        }
        return new BenchServer(p.getProperty("PGHOST", "localhost").split(",")[0],
                Integer.parseInt(p.getProperty("PGPORT", "5432").split(",")[0]), p.getProperty("user", "postgres"),
                p.getProperty("password", ""), null);
    }

    boolean embedded() {
        return embedded != null;
    }

    String jdbcUrl(String database) {
        return "jdbc:postgresql://" + host + ":" + port + "/" + URLEncoder.encode(database, StandardCharsets.UTF_8);
    }

    Connection connect(String database) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        return DriverManager.getConnection(jdbcUrl(database), p);
    }

    /** Runs statements in autocommit mode. */
    void execute(String database, String... statements) throws SQLException {
        try (Connection c = connect(database); Statement s = c.createStatement()) {
            for (String sql : statements) {
                s.execute(sql);
            }
        }
    }

    String queryString(String database, String sql) throws SQLException {
        try (Connection c = connect(database); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    long queryLong(String database, String sql) throws SQLException {
        String v = queryString(database, sql);
        return v == null ? -1 : Long.parseLong(v);
    }

    /**
     * The CPU time the whole server has used so far, in seconds: the postmaster and its live processes, plus what the
     * postmaster's exited children used (Linux, embedded server only; -1 otherwise). The difference over a run is the
     * server's share of it (backends, walsenders, checkpointer, WAL writer).
     */
    double cpuSeconds() {
        if (embedded == null) {
            return -1;
        }
        try {
            // a backend whose client just left counts only once the postmaster reaped it
            Thread.sleep(300);
            String postmaster = Files.readAllLines(embedded.dataDirectory().resolve("postmaster.pid")).get(0).strip();
            long ticks = 0;
            String[] own = stat(Path.of("/proc", postmaster, "stat"));
            ticks += Long.parseLong(own[11]) + Long.parseLong(own[12]) + Long.parseLong(own[13]) + Long.parseLong(own[14]);
            try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
                for (Path proc : procs.filter(d -> d.getFileName().toString().matches("\\d+")).toList()) {
                    String[] f = stat(proc.resolve("stat"));
                    if (f != null && f[1].equals(postmaster)) {
                        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
                    }
                }
            }
            return ticks / 100.0;
        } catch (IOException | RuntimeException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** The fields of /proc/<pid>/stat after the command name (state first, then ppid, ...), or null when it is gone. */
    private static String[] stat(Path file) {
        try {
            String text = Files.readString(file);
            return text.substring(text.lastIndexOf(')') + 2).split(" ");
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public void close() {
        if (embedded != null) {
            embedded.close();
        }
    }
}
