package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When the jar's launcher runs pgsource in a child JVM with a class-data-sharing archive, and when right here. */
class LauncherTest {
    @TempDir
    Path dir;
    private Path jar;
    private Path javaHome;

    @BeforeEach
    void jarAndJdk() throws Exception {
        Files.createDirectories(dir.resolve("app/lib"));
        Files.writeString(dir.resolve("app/lib/dep.jar"), "a dependency");
        jar = dir.resolve("app/pgsource.jar");
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, "lib/dep.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), manifest)) {
            out.flush();
        }
        javaHome = dir.resolve("jdk");
        Files.createDirectories(javaHome.resolve("bin"));
        Files.createDirectories(javaHome.resolve("lib/server"));
        Files.writeString(javaHome.resolve("lib/server/classes.jsa"), "base archive");
        Path java = Files.writeString(javaHome.resolve("bin/java"), "#!/bin/sh");
        java.toFile().setExecutable(true);
    }

    private Launcher.Plan plan(String[] args, List<String> processArgs, Map<String, String> env) throws Exception {
        return Launcher.plan(args, processArgs, jar, env, javaHome, "17.0.15+6", () -> 4242);
    }

    @Test
    void readsThisJvmsArgumentsAsTheJdkHasThem() {
        // surefire's forked JVM has options before its class path and main class: all of them, in order
        assertThat(Launcher.processArgs()).isNotEmpty().isEqualTo(List.of(ProcessHandle.current().info().arguments().orElseThrow()));
        assertThat(Launcher.nulSeparated("java\0-Xmx256m\0-Dname=\u00e9t\u00e9\0-jar\0pgsource.jar\0".getBytes(StandardCharsets.UTF_8),
                StandardCharsets.UTF_8)).containsExactly("java", "-Xmx256m", "-Dname=\u00e9t\u00e9", "-jar", "pgsource.jar");
        assertThat(Launcher.nulSeparated("java\0\0-jar".getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8))
                .as("an empty argument stays one").containsExactly("java", "", "-jar");
    }

    @Test
    void thePlainCommandWritesTheArchiveAtTheEndOfItsFirstRunAndUsesItAfterwards() throws Exception {
        List<String> plain = List.of("-jar", "target/pgsource.jar");
        Launcher.Plan first = plan(new String[0], plain, Map.of());
        assertThat(first).isNotNull();
        assertThat(first.writes()).isEqualTo(jar.getParent().resolve("pgsource-cds-writing-4242.jsa.tmp"));
        assertThat(first.archive().getFileName().toString()).startsWith("pgsource-cds-").endsWith(".jsa");
        assertThat(first.command()).containsExactly(javaHome.resolve("bin/java").toString(),
                "-XX:ArchiveClassesAtExit=" + first.writes(), "-Xlog:cds*=off", "-XX:+UseSerialGC", "-Xmn128m", "-XX:SurvivorRatio=4", "-XX:Tier4InvocationThreshold=20000", "-XX:Tier4MinInvocationThreshold=2400",
                "-XX:Tier4CompileThreshold=60000", "-XX:Tier4BackEdgeThreshold=160000", "-XX:Tier3InvocationThreshold=800",
                "-XX:Tier3MinInvocationThreshold=400", "-XX:Tier3CompileThreshold=8000", "-Dpgsource.cds.preload=true",
                "-Dpgsource.cds=" + first.archive(), "-jar", jar.toString());

        Files.writeString(first.archive(), "archive");
        Launcher.Plan next = plan(new String[0], plain, Map.of());
        assertThat(next.writes()).isNull();
        assertThat(next.command()).contains("-XX:SharedArchiveFile=" + first.archive()).doesNotContain("-XX:ArchiveClassesAtExit="
                + first.writes()).doesNotContain("-Dpgsource.cds.preload=true");
    }

    /** A class loader over pgsource's compiled classes alone that tells which classes it loaded. */
    private static final class Watching extends java.net.URLClassLoader {
        Watching() throws Exception {
            super(new java.net.URL[] {Path.of("target", "classes").toUri().toURL()}, ClassLoader.getPlatformClassLoader());
        }

        boolean loaded(String name) {
            return findLoadedClass(name) != null;
        }
    }

    @Test
    void theJvmThatWritesTheArchiveLoadsTheStreamingClassesWithoutRunningThem() throws Exception {
        String list = """
                # a comment
                io/pgsource/pgoutput/PartDelivery id: 1
                io.pgsource.sink.jdbc.PostgresSink$Pending
                @lambda-proxy io/pgsource/pgoutput/PartDelivery run ()V
                io/pgsource/pgoutput/PartDelivery$$Lambda$42/0x0000000800c01234 id: 2
                io/pgsource/GoneSince id: 3
                """;
        try (Watching loader = new Watching()) {
            int loaded = Launcher.preload(loader, new java.io.ByteArrayInputStream(list.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            assertThat(loaded).isEqualTo(2);
            assertThat(loader.loaded("io.pgsource.pgoutput.PartDelivery")).isTrue();
            assertThat(loader.loaded("io.pgsource.sink.jdbc.PostgresSink$Pending")).isTrue();
        }
        assertThat(Launcher.preloadForArchive()).as("only in a JVM that writes the archive").isEqualTo(-1);
    }

    @Test
    void theJvmThatWritesTheArchiveLoadsEveryPgsourceClassWhateverTheListSays() throws Exception {
        java.nio.file.Path classes = java.nio.file.Path.of(Launcher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        try (Watching loader = new Watching()) {
            int loaded = Launcher.preloadOwn(loader, classes);
            assertThat(loaded).isGreaterThan(200);
            // added after the class list was made: only loading pgsource's own classes covers it
            assertThat(loader.loaded("io.pgsource.sink.jdbc.TablePreparer$Claim")).isTrue();
            assertThat(loader.loaded("io.pgsource.app.Launcher")).isTrue();
        }
        assertThat(Launcher.preloadOwn(getClass().getClassLoader(), null)).isZero();
        // as users run it: from the jar
        java.nio.file.Path jar = java.nio.file.Files.createTempFile("pgsource-own", ".jar");
        try (var out = new java.util.jar.JarOutputStream(java.nio.file.Files.newOutputStream(jar))) {
            for (String name : List.of("io/pgsource/sink/jdbc/TablePreparer$Claim.class", "io/pgsource/app/Launcher.class",
                    "io/pgsource/app/cds-streaming-classes.txt")) {
                out.putNextEntry(new java.util.jar.JarEntry(name));
                out.write(java.nio.file.Files.readAllBytes(classes.resolve(name)));
                out.closeEntry();
            }
        }
        try (Watching loader = new Watching()) {
            assertThat(Launcher.preloadOwn(loader, jar)).isEqualTo(2);
            assertThat(loader.loaded("io.pgsource.sink.jdbc.TablePreparer$Claim")).isTrue();
        } finally {
            java.nio.file.Files.delete(jar);
        }
    }

    @Test
    void theStreamingClassListNamesTheReplicationAndDestinationPath() throws Exception {
        List<String> names;
        try (var in = Launcher.class.getResourceAsStream(Launcher.STREAMING_CLASSES)) {
            assertThat(in).isNotNull();
            names = List.of(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n"));
        }
        assertThat(names).contains("io.pgsource.pgoutput.PartDelivery", "io.pgsource.pgoutput.protocol.PgOutputDecoder",
                "io.pgsource.sink.jdbc.PostgresSink", "io.pgsource.sink.jdbc.PlanWriter", "org.postgresql.replication.PGReplicationStream");
        try (Watching loader = new Watching();
             var in = Launcher.class.getResourceAsStream(Launcher.STREAMING_CLASSES)) {
            Launcher.preload(loader, in);
            assertThat(loader.loaded("io.pgsource.sink.jdbc.PostgresSink")).isTrue();
        }
    }

    @Test
    void memorySizesAndSystemPropertiesGoToTheChildAfterTheLaunchersOwnOptions() throws Exception {
        Launcher.Plan sized = plan(new String[0], List.of("-Xmx256m", "-Dlogback.debug=false", "-jar", "target/pgsource.jar"), Map.of());
        assertThat(sized).as("java -Xmx256m -jar ... keeps the archive and the serial collector").isNotNull();
        List<String> command = sized.command();
        assertThat(command).contains("-XX:+UseSerialGC", "-Xmx256m", "-Dlogback.debug=false");
        assertThat(command.indexOf("-Xmx256m")).as("the user's sizes come after the launcher's, so they win")
                .isGreaterThan(command.indexOf("-XX:+UseSerialGC")).isLessThan(command.indexOf("-jar"));

        Launcher.Plan young = plan(new String[0], List.of("-Xmn64m", "-jar", "target/pgsource.jar"), Map.of());
        assertThat(young.command()).contains("-Xmn64m").doesNotContain("-Xmn128m");
    }

    @Test
    void anArchiveBelongsToOneJdkAndOneBuildOfEveryJar() throws Exception {
        String key = Launcher.key(jar, javaHome, "17.0.15+6");
        assertThat(Launcher.key(jar, javaHome, "17.0.15+6")).isEqualTo(key);
        assertThat(Launcher.key(jar, javaHome, "17.0.16+8")).isNotEqualTo(key);
        Path dep = dir.resolve("app/lib/dep.jar");
        Files.setLastModifiedTime(dep, FileTime.fromMillis(Files.getLastModifiedTime(dep).toMillis() - 60_000));
        assertThat(Launcher.key(jar, javaHome, "17.0.15+6")).as("a dependency of the class path changed").isNotEqualTo(key);
    }

    @Test
    void theClassPathAttributeIsSplitAtAnyRunOfWhitespace() {
        assertThat(Launcher.words("lib/a.jar lib/b.jar")).containsExactly("lib/a.jar", "lib/b.jar");
        assertThat(Launcher.words("  lib/a.jar \t  lib/b.jar\n")).containsExactly("lib/a.jar", "lib/b.jar");
        assertThat(Launcher.words(" ")).isEmpty();
        assertThat(Launcher.words("")).isEmpty();
    }

    @Test
    void anArchivesKeyIsSixteenHexDigits() throws Exception {
        assertThat(Launcher.key(jar, javaHome, "17.0.15+6")).matches("[0-9a-f]{16}");
    }

    @Test
    void anythingButThePlainCommandRunsRightHere() throws Exception {
        List<String> plain = List.of("-jar", "target/pgsource.jar");
        assertThat(plan(new String[0], List.of("-XX:+UseG1GC", "-jar", "target/pgsource.jar"), Map.of())).as("a collector of the user's")
                .isNull();
        assertThat(plan(new String[0], List.of("-Xmx256m", "-XX:StartFlightRecording", "-jar", "target/pgsource.jar"), Map.of()))
                .as("JFR records the JVM that runs pgsource").isNull();
        assertThat(plan(new String[0], List.of("-agentlib:jdwp=transport=dt_socket", "-jar", "target/pgsource.jar"), Map.of()))
                .as("a debugger").isNull();
        assertThat(plan(new String[0], null, Map.of())).as("arguments unknown").isNull();
        assertThat(plan(new String[] {"backfill", "public.t"}, List.of("-jar", "target/pgsource.jar", "backfill", "public.t"),
                Map.of())).as("the backfill command").isNull();
        assertThat(plan(new String[] {"discover"}, List.of("-jar", "target/pgsource.jar", "discover"), Map.of()))
                .as("the discover command: an archive is made from a run").isNull();
        assertThat(plan(new String[0], plain, Map.of("PGSOURCE_CDS", "off"))).as("switched off").isNull();
        assertThat(plan(new String[0], plain, Map.of("JAVA_TOOL_OPTIONS", "-Xmx1g"))).as("options in the environment").isNull();
        assertThat(plan(new String[0], plain, Map.of("JDK_JAVA_OPTIONS", "-Xmx1g"))).isNull();
        Files.delete(javaHome.resolve("lib/server/classes.jsa"));
        assertThat(plan(new String[0], plain, Map.of())).as("a JDK without its base archive").isNull();
    }

    @Test
    void aJarDirectoryItCannotWriteRunsRightHereUntilAnArchiveIsThere() throws Exception {
        List<String> plain = List.of("-jar", "target/pgsource.jar");
        Path archive = plan(new String[0], plain, Map.of()).archive();
        assertThat(jar.getParent().toFile().setWritable(false)).isTrue();
        try {
            if (Files.isWritable(jar.getParent())) {
                return; // root writes anywhere: nothing to check here
            }
            assertThat(plan(new String[0], plain, Map.of())).isNull();
        } finally {
            jar.getParent().toFile().setWritable(true);
        }
        Files.writeString(archive, "made by the image build");
        jar.getParent().toFile().setWritable(false);
        try {
            assertThat(plan(new String[0], plain, Map.of()).command()).contains("-XX:SharedArchiveFile=" + archive);
        } finally {
            jar.getParent().toFile().setWritable(true);
        }
    }
}
