package io.pgsource.app;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * The jar's {@code Main-Class}. Java 17 cannot make a class-data-sharing archive by itself and a jar cannot pass JVM
 * options, yet such an archive halves the start ({@code sync.once} of a small table: about 1.5 s without, under 1 s
 * with it). So the plain {@code java -jar pgsource.jar} runs pgsource in a child JVM that uses the archive next to the
 * jar, or writes it at its end when there is none yet (the first run after a build, which takes a second or two more);
 * this JVM only passes signals on and ends with the child's exit code. The child also runs the serial garbage collector
 * (see {@link #plan}); memory sizes and system properties given before {@code -jar} ({@code java -Xmx256m -jar ...}) are
 * passed on to it ({@link #sizing}). Anything else runs pgsource right here, as
 * before: other JVM options on the command line (they are the user's choice, and {@code JAVA_TOOL_OPTIONS} or
 * {@code JDK_JAVA_OPTIONS} too), {@code PGSOURCE_CDS=off}, the commands ({@code backfill}, {@code discover}: an archive is made from a run), a JDK without its base
 * archive, a jar directory pgsource cannot write before an archive exists, or a child that does not start.
 *
 * <p>The child reads stop requests from this JVM on its standard input ({@link #CHILD_PROPERTY}): SIGINT and SIGTERM sent
 * to this process reach it as they would reach pgsource, and when this process ends without passing anything on (it
 * was killed by SIGKILL), the child ends at once too, as pgsource would have.
 */
public final class Launcher {
    /** Set in the child JVM: the archive it uses or writes. */
    static final String CHILD_PROPERTY = "pgsource.cds";
    /** {@code off}: run in this JVM. */
    static final String SWITCH_ENV = "PGSOURCE_CDS";
    /** The child's C2 thresholds: the JVM's defaults (5000, 600, 15000, 40000) times four (see {@link #plan}). */
    static final List<String> C2_LATER = List.of("-XX:Tier4InvocationThreshold=20000", "-XX:Tier4MinInvocationThreshold=2400",
            "-XX:Tier4CompileThreshold=60000", "-XX:Tier4BackEdgeThreshold=160000");
    /** The child's C1 call-count thresholds: the JVM's defaults (200, 100, 2000) times four (see {@link #plan}). */
    static final List<String> C1_LATER = List.of("-XX:Tier3InvocationThreshold=800", "-XX:Tier3MinInvocationThreshold=400",
            "-XX:Tier3CompileThreshold=8000");
    /** The archives' names: {@code pgsource-cds-<key>.jsa} next to the jar. */
    static final String ARCHIVE_PREFIX = "pgsource-cds-";
    /** Set in a child JVM that writes the archive: it loads the classes of {@link #STREAMING_CLASSES} before it exits. */
    static final String PRELOAD_PROPERTY = "pgsource.cds.preload";
    /**
     * The classes a streaming run ({@code LOG_BASED} into {@code postgres}) loads, from {@code -XX:DumpLoadedClassList}
     * (see performance.md for the command that makes it again); names of classes that no longer exist are skipped.
     */
    static final String STREAMING_CLASSES = "cds-streaming-classes.txt";
    /** The options {@link #sizing} accepts, by prefix. */
    private static final List<String> SIZING = List.of("-Xmx", "-Xms", "-Xmn", "-Xss", "-D", "-XX:MaxRAMPercentage=",
            "-XX:InitialRAMPercentage=", "-XX:MinRAMPercentage=", "-XX:MaxRAM=", "-XX:MaxMetaspaceSize=", "-XX:MaxDirectMemorySize=",
            "-XX:ReservedCodeCacheSize=", "-XX:NewSize=", "-XX:MaxNewSize=", "-XX:NewRatio=", "-XX:SurvivorRatio=");

    private Launcher() {
    }

    public static void main(String[] args) {
        Plan plan = plan(args);
        if (plan == null) {
            PgSourceMain.main(args);
            return;
        }
        Process child;
        try {
            child = new ProcessBuilder(plan.command()).redirectInput(ProcessBuilder.Redirect.PIPE)
                    .redirectOutput(ProcessBuilder.Redirect.INHERIT).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException | RuntimeException e) {
            PgSourceMain.main(args);
            return;
        }
        OutputStream requests = child.getOutputStream();
        // an inner class, not a lambda: every first of a kind costs this short-lived JVM start-up time (see #plan)
        SignalHandler passOn = new SignalHandler() {
            @Override
            public void handle(Signal s) {
                pass(requests, s.getName());
            }
        };
        for (String name : List.of("INT", "TERM", "HUP")) {
            try {
                Signal.handle(new Signal(name), passOn);
            } catch (IllegalArgumentException e) {
                // a signal this JVM may not handle: the child gets it as it would without the launcher, or not at all
            }
        }
        int code;
        while (true) {
            try {
                code = child.waitFor();
                break;
            } catch (InterruptedException e) {
                // only the exit of the child ends this JVM
            }
        }
        if (plan.writes() != null) {
            keep(plan, code);
        }
        System.exit(code);
    }

    /** Passes a signal on to the child as one line on its standard input. */
    private static void pass(OutputStream requests, String signal) {
        synchronized (requests) {
            try {
                requests.write((signal + "\n").getBytes(StandardCharsets.US_ASCII));
                requests.flush();
            } catch (IOException e) {
                // the child has ended
            }
        }
    }

    /** After a successful run that wrote the archive: it becomes the one the next runs use, replacing older ones. */
    private static void keep(Plan plan, int code) {
        Path written = plan.writes();
        try {
            if (code != 0 || !Files.isRegularFile(written) || Files.size(written) == 0) {
                Files.deleteIfExists(written);
                return;
            }
            Files.move(written, plan.archive(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            try (DirectoryStream<Path> old = Files.newDirectoryStream(plan.archive().getParent(), ARCHIVE_PREFIX + "*.jsa")) {
                for (Path p : old) {
                    if (!p.equals(plan.archive())) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        } catch (IOException e) {
            // the next run makes one again
        }
    }

    /**
     * What the child runs: its command, the archive it uses, or ({@code writes} not null) the file it writes the archive
     * to, which becomes {@code archive} after a successful run.
     */
    record Plan(List<String> command, Path archive, Path writes) {
    }

    /** The plan for this JVM, or null to run pgsource in it. */
    static Plan plan(String[] args) {
        if (System.getProperty(CHILD_PROPERTY) != null) {
            // the child itself: its own arguments, path and environment are not needed to know that (reading them through
            // ProcessHandle took the child's main thread about 9 ms before pgsource's first line)
            return null;
        }
        Path jar = ownCode();
        if (jar == null) {
            return null;
        }
        try {
            return plan(args, processArgs(), jar, System.getenv(), Path.of(System.getProperty("java.home")),
                    System.getProperty("java.vm.version", ""), new LongSupplier() {
                        // an inner class, not a lambda or method reference (see #join); asked for only when the archive
                        // is written: ProcessHandle's first use initializes its reaper and took about 15 ms of the
                        // launcher's start, which the child's start paid for (the child's spawn needs it only after the fork)
                        @Override
                        public long getAsLong() {
                            return ProcessHandle.current().pid();
                        }
                    });
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * This JVM's arguments after the executable, as {@link ProcessHandle.Info#arguments()} has them, or null when
     * unknown. On Linux read from {@code /proc/self/cmdline}, as the JDK reads them too: ProcessHandle's first use
     * (its class initialization starts the JDK's process reaper) and {@code info()} (the process's user, start and CPU
     * times too) took about 17 ms of the launcher's cold start before it could start the child, the file 3 ms.
     */
    static List<String> processArgs() {
        try {
            byte[] cmdline = Files.readAllBytes(Path.of("/proc/self/cmdline"));
            // the platform's encoding of names and arguments, as the JDK's own reading decodes them
            Charset encoding = Charset.forName(System.getProperty("sun.jnu.encoding"));
            List<String> words = nulSeparated(cmdline, encoding);
            if (!words.isEmpty()) {
                return words.subList(1, words.size());
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or no /proc: as the JDK has them
        }
        Optional<String[]> args = ProcessHandle.current().info().arguments();
        return args.isPresent() ? List.of(args.get()) : null;
    }

    /** The words of a NUL-separated (and NUL-terminated) command line. */
    static List<String> nulSeparated(byte[] text, Charset encoding) {
        List<String> words = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < text.length; i++) {
            if (text[i] == 0) {
                words.add(new String(text, start, i - start, encoding));
                start = i + 1;
            }
        }
        if (start < text.length) {
            words.add(new String(text, start, text.length - start, encoding));
        }
        return words;
    }

    /**
     * @param processArgs this JVM's arguments after the executable (null when unknown): {@code -jar <jar>} when
     *                    started plainly
     */
    static Plan plan(String[] args, List<String> processArgs, Path jar, Map<String, String> env, Path javaHome, String vmVersion,
                     LongSupplier pid) throws IOException {
        if (System.getProperty(CHILD_PROPERTY) != null || "off".equalsIgnoreCase(env.getOrDefault(SWITCH_ENV, "").strip())
                || args.length > 0 || env.containsKey("JAVA_TOOL_OPTIONS")
                || env.containsKey("JDK_JAVA_OPTIONS") || env.containsKey("_JAVA_OPTIONS")
                || processArgs == null || processArgs.size() < 2 || !"-jar".equals(processArgs.get(processArgs.size() - 2))
                || !Files.isRegularFile(jar) || !jar.getFileName().toString().endsWith(".jar")) {
            return null;
        }
        List<String> sizes = processArgs.subList(0, processArgs.size() - 2);
        for (String option : sizes) {
            if (!sizing(option)) {
                return null;
            }
        }
        Path java = javaHome.resolve("bin").resolve("java");
        if (!Files.isExecutable(java) || !(Files.isRegularFile(javaHome.resolve("lib/server/classes.jsa"))
                || Files.isRegularFile(javaHome.resolve("lib/server/classes_nocoops.jsa")))) {
            return null;
        }
        Path dir = jar.toAbsolutePath().getParent();
        Path archive = dir.resolve(join(ARCHIVE_PREFIX, key(jar, javaHome, vmVersion), ".jsa"));
        List<String> command = new ArrayList<>(List.of(java.toString()));
        Path writes = null;
        if (Files.isRegularFile(archive)) {
            command.add(join("-XX:SharedArchiveFile=", archive));
        } else if (Files.isWritable(dir)) {
            writes = dir.resolve(join(ARCHIVE_PREFIX, "writing-", pid.getAsLong(), ".jsa.tmp"));
            command.add(join("-XX:ArchiveClassesAtExit=", writes));
        } else {
            return null;
        }
        // an archive that cannot be used (another JDK build) is skipped without a word; the dump's notes are not pgsource's
        command.add("-Xlog:cds*=off");
        // the serial collector: G1, the JVM's choice from 2 cores up, let a 500,000-row copy grow to 550 MB of memory and
        // cost 15% more CPU (the serial one: 225 MB); the heap's maximum stays the JVM's default
        command.add("-XX:+UseSerialGC");
        // a young generation of a fixed 128 MB (survivor spaces of 21 MB): the batches in flight die young, and the JVM's
        // resident memory stays under 300 MB instead of following a young generation sized from the machine's memory
        // (401 MB for a 1M-row copy into discard on a 24 GB machine); the heap's maximum still stays the JVM's default
        // (only where the default heap leaves room for it: at least 400 MB, a machine or container of 1.6 GB or more)
        // With a heap limit of the user's under that (java -Xmx256m -jar ...): five eighths of it, the young generation
        // performance.md's "JVM options for a small machine" found best for -Xmx256m (peak RSS under 300 MB, where G1
        // took 327 MB). The user's own sizes come first and win: a -Xmn of theirs leaves ours out.
        long heap = Runtime.getRuntime().maxMemory();
        if (!given(sizes, "-Xmn") && !given(sizes, "-XX:NewSize") && !given(sizes, "-XX:MaxNewSize") && !given(sizes, "-XX:NewRatio")) {
            if (heap >= 400L << 20) {
                command.add("-Xmn128m");
                command.add("-XX:SurvivorRatio=4");
            } else if (heap >= 192L << 20 && given(sizes, "-Xmx")) {
                command.add(join("-Xmn", (heap >> 20) * 5 / 8, "m"));
                command.add("-XX:SurvivorRatio=4");
            }
        }
        command.addAll(sizes);
        // C2, the optimizing compiler, only after four times its usual call and loop counts: in a short run it compiled
        // about 150 JDK methods (zip, string and map code the start-up makes hot for a moment) for nothing, and on 2 cores
        // its thread took CPU from the start-up itself (sync.once of a 100-row table: about 0.25 s less CPU). A long
        // copy's hot code still reaches C2 within milliseconds: a 1M-row copy used no more CPU (see performance.md)
        command.addAll(C2_LATER);
        // C1, the quick compiler, only after four times its usual call counts (loops as usual): it compiled about 1,300
        // methods with profiling in a short run, most of them start-up code run a few hundred times and never again,
        // and took about 290 ms of CPU beside the start-up's main thread on 2 cores; now about 170 ms, for about 60 ms
        // more of the main thread in the interpreter (sync.once of a 100-row table: 0.12-0.17 s less CPU). A long run's
        // hot code is called far more often than that: a 1M-row copy used no more CPU (see performance.md)
        command.addAll(C1_LATER);
        if (writes != null) {
            command.add(join("-D", PRELOAD_PROPERTY, "=true"));
        }
        command.add(join("-D", CHILD_PROPERTY, "=", archive));
        command.add("-jar");
        command.add(jar.toString());
        return new Plan(List.copyOf(command), archive, writes);
    }

    /**
     * Whether a JVM option only sizes memory or sets a system property, so that the launcher's child can take it as the
     * user gave it and still run with the archive and the launcher's other options ({@code java -Xmx256m -jar
     * pgsource.jar}). Anything else (another collector, an agent, a debugger, JFR, diagnostic flags) is the user's choice
     * of how pgsource's own JVM runs, which a child would change or double: pgsource then runs in the JVM started.
     */
    static boolean sizing(String option) {
        for (String prefix : SIZING) {
            if (option.startsWith(prefix) && option.length() > prefix.length()) {
                return true;
            }
        }
        return false;
    }

    private static boolean given(List<String> options, String prefix) {
        for (String option : options) {
            if (option.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /**
     * What an archive belongs to: the JDK and every jar of the class path (the archive holds their classes, and the JVM
     * refuses it when one of them changed).
     */
    static String key(Path jar, Path javaHome, String vmVersion) throws IOException {
        StringBuilder what = new StringBuilder().append(javaHome.toAbsolutePath()).append('\n').append(vmVersion).append('\n');
        List<Path> jars = new ArrayList<>(List.of(jar));
        try (JarFile file = new JarFile(jar.toFile())) {
            var manifest = file.getManifest();
            String classPath = manifest == null ? null : manifest.getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
            if (classPath != null) {
                for (String entry : words(classPath)) {
                    jars.add(jar.toAbsolutePath().getParent().resolve(entry));
                }
            }
        }
        for (Path p : jars) {
            what.append(p.toAbsolutePath()).append(' ');
            BasicFileAttributes attributes;
            try {
                // one stat per jar (not three): the class path has over a hundred
                attributes = Files.readAttributes(p, BasicFileAttributes.class);
            } catch (NoSuchFileException e) {
                attributes = null;
            }
            if (attributes != null) {
                what.append(attributes.size()).append(' ').append(attributes.lastModifiedTime().toMillis());
            }
            what.append('\n');
        }
        String hex = Long.toHexString(fnv64(what.toString()));
        return "0".repeat(16 - hex.length()).concat(hex);
    }

    /**
     * The launcher JVM lives only to start the child, so what it runs before that delays pgsource: string concatenation
     * with {@code +} (an invokedynamic call site each, linked at first use), {@code String.format} and regular expressions
     * cost it tens of milliseconds together on a cold JVM; a StringBuilder does not.
     */
    private static String join(Object... parts) {
        StringBuilder b = new StringBuilder();
        for (Object part : parts) {
            b.append(part);
        }
        return b.toString();
    }

    /** The Class-Path attribute's entries: separated by spaces (no regular expression: see {@link #join}). */
    static List<String> words(String text) {
        List<String> words = new ArrayList<>();
        int start = -1;
        for (int i = 0; i <= text.length(); i++) {
            boolean space = i == text.length() || Character.isWhitespace(text.charAt(i));
            if (space && start >= 0) {
                words.add(text.substring(start, i));
                start = -1;
            } else if (!space && start < 0) {
                start = i;
            }
        }
        return words;
    }

    private static long fnv64(String text) {
        long hash = 0xcbf29ce484222325L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xff;
            hash *= 0x100000001b3L;
        }
        return hash;
    }

    /**
     * In a child JVM that writes the archive, at the end of a run that succeeded: loads (without initializing them) the
     * classes a streaming run uses, so that the archive holds them whatever run wrote it. The archive is written by the
     * first run after a build, often a copy ({@code sync.once}, or the bench's warm-up), and without this the first
     * streamed transaction of every later run loaded and verified the replication and destination classes from the
     * jars while the transactions behind it waited. Costs that one run about 1.3 s of CPU (4,080 classes); returns how
     * many classes it loaded (-1: not a JVM that writes the archive).
     */
    static int preloadForArchive() {
        if (!Boolean.getBoolean(PRELOAD_PROPERTY)) {
            return -1;
        }
        ClassLoader loader = Launcher.class.getClassLoader();
        return preload(loader, Launcher.class.getResourceAsStream(STREAMING_CLASSES)) + preloadOwn(loader, ownCode());
    }

    /** The jar (or classes directory) pgsource's classes come from; null when unknown. */
    private static Path ownCode() {
        try {
            java.security.CodeSource source = Launcher.class.getProtectionDomain().getCodeSource();
            return source == null ? null : Path.of(source.getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Loads every pgsource class of the jar or classes directory: the class list is made by hand from one run and
     * misses what was added since (the read-ahead's classes were loaded from the jar by every first transaction until
     * the list was made again); pgsource's own classes need no list. Returns how many it loaded.
     */
    static int preloadOwn(ClassLoader loader, Path code) {
        if (code == null) {
            return 0;
        }
        List<String> names = new ArrayList<>();
        try {
            if (Files.isDirectory(code)) {
                try (var files = Files.walk(code.resolve("io/pgsource"))) {
                    files.map(f -> code.relativize(f).toString().replace(java.io.File.separatorChar, '/')).forEach(names::add);
                }
            } else if (Files.isRegularFile(code)) {
                try (JarFile jar = new JarFile(code.toFile())) {
                    jar.stream().map(java.util.jar.JarEntry::getName).forEach(names::add);
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0; // loaded when used, as without the archive
        }
        int loaded = 0;
        for (String entry : names) {
            if (!entry.startsWith("io/pgsource/") || !entry.endsWith(".class")) {
                continue;
            }
            try {
                Class.forName(entry.substring(0, entry.length() - ".class".length()).replace('/', '.'), false, loader);
                loaded++;
            } catch (ClassNotFoundException | LinkageError e) {
                // a class of a dependency this run's class path lacks (an optional destination's): loaded when used
            }
        }
        return loaded;
    }

    /** Loads the classes a class list names (one per line, {@code /} or {@code .} separated; {@code #} and {@code @} lines skipped). */
    static int preload(ClassLoader loader, java.io.InputStream list) {
        if (list == null) {
            return 0;
        }
        int loaded = 0;
        try (java.io.BufferedReader lines = new java.io.BufferedReader(new java.io.InputStreamReader(list, StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                int end = line.indexOf(' ');
                String name = (end < 0 ? line : line.substring(0, end)).strip().replace('/', '.');
                if (name.isEmpty() || name.startsWith("#") || name.startsWith("@") || name.contains("$$Lambda") || name.contains(".0x")) {
                    continue;
                }
                try {
                    Class.forName(name, false, loader);
                    loaded++;
                } catch (ClassNotFoundException | LinkageError e) {
                    // renamed or gone since the list was made, or a dependency this build lacks: not archived, loaded when used
                }
            }
        } catch (IOException e) {
            // the classes not loaded yet are loaded when used, as without the list
        }
        return loaded;
    }

    /**
     * In the child: reads the stop requests the launcher passes on, and ends this JVM at once when the launcher is gone
     * (killed by SIGKILL), as pgsource itself would have been. It looks every 50 ms instead of waiting in a read: the JVM
     * waits up to 300 ms at its exit for a thread blocked in one.
     */
    static void followLauncher(java.util.function.Consumer<String> stopRequest) {
        Thread t = new Thread(() -> {
            // on this thread, not the main one: ProcessHandle's first use (its reaper) takes about 15 ms of a cold JVM
            Optional<ProcessHandle> launcher = ProcessHandle.current().parent();
            if (launcher.isEmpty()) {
                return;
            }
            StringBuilder line = new StringBuilder();
            byte[] buffer = new byte[64];
            try {
                while (launcher.get().isAlive()) {
                    int available = System.in.available();
                    if (available == 0) {
                        Thread.sleep(50);
                        continue;
                    }
                    int read = System.in.read(buffer, 0, Math.min(available, buffer.length));
                    if (read < 0) {
                        break;
                    }
                    for (int i = 0; i < read; i++) {
                        if (buffer[i] == '\n') {
                            stopRequest.accept(line.toString().strip());
                            line.setLength(0);
                        } else {
                            line.append((char) buffer[i]);
                        }
                    }
                }
            } catch (IOException e) {
                // as if the launcher were gone
            } catch (InterruptedException e) {
                return;
            }
            Runtime.getRuntime().halt(137);
        }, "pgsource-launcher");
        t.setDaemon(true);
        t.start();
    }
}
