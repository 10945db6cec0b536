package io.pgsource.embedded;

import com.sun.security.auth.module.UnixSystem;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs PostgreSQL's programs (initdb, pg_ctl) as the right operating-system user: the JVM's own user, or, when the
 * JVM runs as root (which PostgreSQL refuses), an unprivileged user through {@code setpriv} or {@code runuser}.
 * Children get a neutral environment (LC_ALL=C, no PG* variables) and write their output to a log file.
 */
final class ProcessRunner {
    /** Environment variable naming the unprivileged user when the JVM runs as root. */
    static final String USER_ENV = "PGSOURCE_EMBEDDED_USER";
    static final String DEFAULT_USER = "nobody";

    private final List<String> prefix;
    private final String userName;
    private final Integer uid;
    private final Integer gid;

    private ProcessRunner(List<String> prefix, String userName, Integer uid, Integer gid) {
        this.prefix = prefix;
        this.userName = userName;
        this.uid = uid;
        this.gid = gid;
    }

    /** The JVM's effective user id. */
    static long currentUid() {
        return new UnixSystem().getUid();
    }

    static boolean jvmIsRoot() {
        return currentUid() == 0;
    }

    /**
     * The runner for this JVM. {@code requestedUser} (or {@link #USER_ENV}, or {@code nobody}) only matters when the
     * JVM runs as root.
     */
    static ProcessRunner forThisJvm(String requestedUser) {
        if (!jvmIsRoot()) {
            return new ProcessRunner(List.of(), System.getProperty("user.name"), null, null);
        }
        String user = requestedUser;
        if (user == null || user.isBlank()) {
            String fromEnv = System.getenv(USER_ENV);
            user = fromEnv == null || fromEnv.isBlank() ? DEFAULT_USER : fromEnv.trim();
        }
        int uid = idOf("-u", user);
        int gid = idOf("-g", user);
        if (uid == 0) {
            throw new IllegalStateException("PostgreSQL refuses to run as root, and user '" + user + "' is root; set "
                    + USER_ENV + " to an unprivileged user");
        }
        Path setpriv = findProgram("setpriv");
        if (setpriv != null) {
            return new ProcessRunner(List.of(setpriv.toString(), "--reuid=" + uid, "--regid=" + gid, "--clear-groups"), user, uid, gid);
        }
        Path runuser = findProgram("runuser");
        if (runuser != null) {
            return new ProcessRunner(List.of(runuser.toString(), "-u", user, "--"), user, uid, gid);
        }
        throw new IllegalStateException("PostgreSQL refuses to run as root and neither setpriv nor runuser (util-linux) is"
                + " installed to switch to an unprivileged user: install util-linux, run the JVM as a normal user, or set"
                + " source.host to use an existing PostgreSQL server");
    }

    /** The operating-system user the programs run as. */
    String userName() {
        return userName;
    }

    boolean switchesUser() {
        return uid != null;
    }

    /** Makes a file or directory we created owned by the user the programs run as. */
    void handOver(Path path) throws IOException {
        if (switchesUser()) {
            Files.setAttribute(path, "unix:uid", uid);
            Files.setAttribute(path, "unix:gid", gid);
        }
    }

    /**
     * Runs a command to completion with its output appended to {@code log}; returns the exit code. A command still
     * running after {@code timeout} is killed and reported with the log's tail.
     */
    int run(List<String> command, Path log, Duration timeout) throws IOException {
        List<String> full = new ArrayList<>(prefix);
        full.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(full)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Map<String, String> env = pb.environment();
        // the cluster must not depend on the caller's locale or on PG* defaults such as PGDATA or PGPORT
        env.keySet().removeIf(k -> k.startsWith("LC_") || k.startsWith("LANG") || k.startsWith("PG"));
        env.put("LC_ALL", "C");
        Process process = pb.start();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException(Path.of(command.get(0)).getFileName() + " did not finish within "
                        + timeout.toSeconds() + " s; its output (" + log + "):\n" + tail(log, 30));
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + Path.of(command.get(0)).getFileName(), e);
        }
    }

    /** The last lines of a log file, for error messages (empty when there is none). */
    static String tail(Path log, int lines) {
        try {
            if (!Files.exists(log)) {
                return "";
            }
            List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    private static int idOf(String flag, String user) {
        Path id = findProgram("id");
        if (id == null) {
            throw new IllegalStateException("cannot look up user '" + user + "': no 'id' program on the PATH");
        }
        try {
            Process p = new ProcessBuilder(id.toString(), flag, user).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.waitFor() != 0) {
                throw new IllegalStateException("cannot run the embedded PostgreSQL as user '" + user + "' (" + out + "); set "
                        + USER_ENV + " to an existing unprivileged user");
            }
            return Integer.parseInt(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look up user '" + user + "'", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while looking up user '" + user + "'", e);
        }
    }

    /** A program from the PATH or the usual system directories (sbin is often not on root's PATH in containers). */
    private static Path findProgram(String name) {
        List<String> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(File.pathSeparator)));
        }
        dirs.addAll(List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin"));
        for (String dir : dirs) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}
