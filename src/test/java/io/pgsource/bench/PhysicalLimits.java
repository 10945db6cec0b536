package io.pgsource.bench;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.postgresql.PGConnection;

/**
 * The physical limits pgsource is measured against, with PostgreSQL's own client tools: {@code psql} COPY out to
 * /dev/null, the {@code psql | psql} COPY pipe, and {@code pg_recvlogical}. The tools are taken from the PATH, else
 * from {@code /usr/lib/postgresql/<newest>/bin} (Debian, Ubuntu) or {@code /usr/local/pgsql/bin}. Without psql the
 * COPY limits are measured with pgjdbc's CopyManager instead (and labelled so); without pg_recvlogical the CDC limit
 * is missing and the CDC ratios are not computed.
 */
final class PhysicalLimits {
    private final BenchServer server;
    private final Path out;
    final String psql;
    final String recvlogical;

    PhysicalLimits(BenchServer server, Path out) {
        this.server = server;
        this.out = out;
        this.psql = find("psql");
        this.recvlogical = find("pg_recvlogical");
    }

    /** The tool's path, or null when it is nowhere to be found. */
    static String find(String tool) {
        List<Path> dirs = new ArrayList<>();
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!d.isBlank()) {
                dirs.add(Path.of(d));
            }
        }
        Path debian = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(debian)) {
            try (Stream<Path> versions = Files.list(debian)) {
                versions.filter(v -> v.getFileName().toString().matches("\\d+"))
                        .sorted(Comparator.comparingInt((Path v) -> Integer.parseInt(v.getFileName().toString())).reversed())
                        .forEach(v -> dirs.add(v.resolve("bin")));
            } catch (IOException ignored) {
                // no Debian layout
            }
        }
        dirs.add(Path.of("/usr/local/pgsql/bin"));
        return dirs.stream().map(d -> d.resolve(tool)).filter(Files::isExecutable).map(Path::toString).findFirst().orElse(null);
    }

    /** What the COPY lines run: psql, or the fallback. */
    String copyTool() {
        return psql != null ? "psql" : "pgjdbc CopyManager (no psql found)";
    }

    /** The size in bytes of {@code COPY table TO STDOUT} (text format), read once (which also warms the caches). */
    long copyBytes(String database, String table) throws Exception {
        try (Connection c = server.connect(database)) {
            CountingSink sink = new CountingSink();
            c.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY " + table + " TO STDOUT", sink);
            return sink.bytes;
        }
    }

    /** Seconds of {@code psql -c "COPY table TO STDOUT" > /dev/null}. */
    double copyToDevNull(String database, String table) throws Exception {
        String sql = "COPY " + table + " TO STDOUT";
        long t0 = System.nanoTime();
        if (psql != null) {
            ProcessBuilder pb = new ProcessBuilder(psqlCommand(database, sql)).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(out.resolve("psql.err").toFile());
            pb.environment().put("PGPASSWORD", server.password);
            check(pb.start().waitFor(), "psql COPY TO STDOUT");
        } else {
            try (Connection c = server.connect(database)) {
                c.unwrap(PGConnection.class).getCopyAPI().copyOut(sql, OutputStream.nullOutputStream());
            }
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Seconds of {@code psql -c "COPY src TO STDOUT" | psql -c "COPY dst FROM STDIN"} between two databases. */
    double copyPipe(String fromDb, String fromTable, String toDb, String toTable) throws Exception {
        String outSql = "COPY " + fromTable + " TO STDOUT";
        String inSql = "COPY " + toTable + " FROM STDIN";
        long t0 = System.nanoTime();
        if (psql != null) {
            ProcessBuilder a = new ProcessBuilder(psqlCommand(fromDb, outSql)).redirectError(out.resolve("psql-out.err").toFile());
            ProcessBuilder b = new ProcessBuilder(psqlCommand(toDb, inSql)).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(out.resolve("psql-in.err").toFile());
            a.environment().put("PGPASSWORD", server.password);
            b.environment().put("PGPASSWORD", server.password);
            List<Process> pipeline = ProcessBuilder.startPipeline(List.of(a, b));
            for (Process p : pipeline) {
                check(p.waitFor(), "psql COPY pipe");
            }
        } else {
            try (Connection from = server.connect(fromDb); Connection to = server.connect(toDb)) {
                PipedInputStream in = new PipedInputStream(1 << 16);
                PipedOutputStream pipe = new PipedOutputStream(in);
                CompletableFuture<Long> reader = CompletableFuture.supplyAsync(() -> {
                    try (pipe) {
                        return from.unwrap(PGConnection.class).getCopyAPI().copyOut(outSql, pipe);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                to.unwrap(PGConnection.class).getCopyAPI().copyIn(inSql, in);
                reader.join();
            }
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Seconds of {@code pg_recvlogical} draining the slot up to {@code endLsn} into /dev/null; null without the tool.
     *
     * @param binary ask for binary tuples, as pgsource does where every column type decodes from them
     */
    Double recvlogical(String database, String slot, String publication, long endLsn, boolean binary) throws Exception {
        if (recvlogical == null) {
            return null;
        }
        String end = String.format("%X/%X", endLsn >>> 32, endLsn & 0xffffffffL);
        List<String> cmd = new ArrayList<>(List.of(recvlogical, "-h", server.host, "-p", Integer.toString(server.port), "-U", server.user,
                "-d", database, "--slot", slot, "--start", "-o", "proto_version=4", "-o", "publication_names=" + publication,
                // the options pgsource uses: big transactions are streamed as they are decoded, not spilled to disk first
                "-o", "streaming=on", "-f", "/dev/null", "--endpos", end, "--no-loop"));
        if (binary) {
            cmd.addAll(List.of("-o", "binary=true"));
        }
        Path log = out.resolve(slot + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("PGPASSWORD", server.password);
        long t0 = System.nanoTime();
        int exit = pb.start().waitFor();
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (exit != 0) {
            throw new IllegalStateException("pg_recvlogical exited " + exit + ": " + Files.readString(log));
        }
        return seconds;
    }

    private List<String> psqlCommand(String database, String sql) {
        return Arrays.asList(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", server.host, "-p", Integer.toString(server.port),
                "-U", server.user, "-d", database, "-c", sql);
    }

    private static void check(int exit, String what) {
        if (exit != 0) {
            throw new IllegalStateException(what + " exited " + exit + " (see target/bench/psql*.err)");
        }
    }

    private static final class CountingSink extends OutputStream {
        long bytes;

        @Override
        public void write(int b) {
            bytes++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            bytes += len;
        }
    }
}
