package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pgsource.embedded.EmbeddedPostgres;
import io.pgsource.testsupport.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The README's Camel JBang command, {@code camel run routes/*.camel.yaml routes/destinations/jsonl.camel.yaml
 * application.properties --dep=io.pgsource:pgsource:<version>}, run as JBang runs it: a JVM whose class path is
 * camel-jbang-core ({@code ${camel.version}}) and its dependencies only, entering through {@code CamelJBangMain}
 * (JBang's {@code camel} script does nothing else), with pgsource's jar and its dependencies downloaded by Camel JBang
 * into a class loader of its own. Once with no source set (the embedded demo) and once against a given database.
 *
 * <p>Not part of {@code mvn verify}: it resolves camel-jbang-core and its dependencies (downloads on a fresh machine)
 * and takes about two minutes. {@code .ci/run} runs it after the suite with {@code -Dpgsource.jbang=true}.
 */
class CamelJBangIT {
    private static final Duration START = Duration.ofSeconds(180);
    private static final Path WORK = Path.of("target/jbang").toAbsolutePath();
    private static List<String> command;
    /** Where Camel JBang keeps its copy of this run's jar, removed afterwards. */
    private static Path cached;

    @BeforeAll
    static void launcher() throws Exception {
        assumeTrue(Boolean.getBoolean("pgsource.jbang"), "Camel JBang runs with -Dpgsource.jbang=true (.ci/run sets it)");
        String camel = System.getProperty("pgsource.test.camel-version");
        String project = System.getProperty("pgsource.test.project-version");
        Path jar = Path.of("target/pgsource.jar").toAbsolutePath();
        assertThat(jar).as("the packaged jar (mvn package)").exists();
        Files.createDirectories(WORK);
        // Camel JBang's class path: camel-jbang-core of our Camel version and its dependencies, as JBang resolves them
        Files.writeString(WORK.resolve("pom.xml"), """
                <project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
                  <groupId>io.pgsource.test</groupId><artifactId>camel-jbang-launcher</artifactId><version>1</version>
                  <dependencies><dependency><groupId>org.apache.camel</groupId><artifactId>camel-jbang-core</artifactId>
                    <version>%s</version></dependency></dependencies>
                </project>
                """.formatted(camel));
        Path classpath = WORK.resolve("classpath.txt");
        Path mvn = Path.of(System.getProperty("pgsource.test.maven-home"), "bin", "mvn");
        Process resolve = new ProcessBuilder(mvn.toString(), "-B", "-q", "dependency:build-classpath",
                "-Dmdep.outputFile=" + classpath).directory(WORK.toFile()).redirectErrorStream(true)
                .redirectOutput(WORK.resolve("resolve.log").toFile()).start();
        assertThat(resolve.waitFor(10, TimeUnit.MINUTES) && resolve.exitValue() == 0)
                .as("resolving camel-jbang-core %s: %s", camel, Files.readString(WORK.resolve("resolve.log"))).isTrue();
        // JBang's camel script: CamelJBangMain.run(args), launched as a single-file source program
        Files.writeString(WORK.resolve("CamelJBang.java"), """
                public class CamelJBang {
                    public static void main(String... args) {
                        org.apache.camel.dsl.jbang.core.commands.CamelJBangMain.run(args);
                    }
                }
                """);
        // the jar as mvn install leaves it, in a repository of this test's own and under a version of this run's own:
        // Camel JBang caches what it downloads in ~/.m2, where an older jar of the same version would be run instead
        String version = project.replace("-SNAPSHOT", "") + "-jbang-it-" + System.currentTimeMillis();
        Path repo = WORK.resolve("repo");
        deleteTree(repo);
        Path gav = repo.resolve("io/pgsource/pgsource/" + version);
        Files.createDirectories(gav);
        Files.copy(jar, gav.resolve("pgsource-" + version + ".jar"));
        Files.writeString(gav.resolve("pgsource-" + version + ".pom"),
                Files.readString(Path.of("pom.xml")).replaceFirst("<version>" + java.util.regex.Pattern.quote(project) + "</version>",
                        "<version>" + version + "</version>"));
        for (String file : List.of("pgsource-" + version + ".jar", "pgsource-" + version + ".pom")) {
            // as a deployed artifact has them: without, the resolver logs a ChecksumFailureException per file
            byte[] sha1 = java.security.MessageDigest.getInstance("SHA-1").digest(Files.readAllBytes(gav.resolve(file)));
            Files.writeString(gav.resolve(file + ".sha1"), java.util.HexFormat.of().formatHex(sha1));
        }
        cached = Path.of(System.getProperty("user.home"), ".m2", "repository", "io", "pgsource", "pgsource", version);

        command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", Files.readString(classpath).strip(), WORK.resolve("CamelJBang.java").toString(), "run"));
        // the shell's expansion of routes/*.camel.yaml
        try (Stream<Path> routes = Files.list(Path.of("routes"))) {
            routes.map(Path::toString).filter(p -> p.endsWith(".camel.yaml")).sorted().forEach(command::add);
        }
        command.addAll(List.of("routes/destinations/jsonl.camel.yaml", "application.properties",
                "--dep=io.pgsource:pgsource:" + version, "--repos=" + repo.toUri(), "--max-seconds=300", "--logging-color=false"));
    }

    @AfterAll
    static void removeCachedJar() throws IOException {
        if (cached != null) {
            deleteTree(cached);
        }
    }

    @Test
    void zeroConfigRunsTheEmbeddedDemoCopiesAndStreams() throws Exception {
        Path output = WORK.resolve("demo-output");
        Path kept = Path.of(System.getProperty("java.io.tmpdir"), "pgsource-demo-jbang-" + ProcessHandle.current().pid());
        deleteTree(output);
        try (Run run = Run.start(Map.of(), output, "--prop=demo.directory=" + kept)) {
            run.await("the demo copied and streaming", () -> run.log().contains("Streaming slot pgsource_slot"));
            run.await("a change of the demo's trickle", () -> anyLine(output, "\"op\":\"c\"") || anyLine(output, "\"op\":\"u\""));
            run.stop();
            assertThat(run.log()).contains("Demo source: embedded PostgreSQL", "Copied shop.orders");
            try (Stream<Path> files = Files.list(output)) {
                assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".jsonl")).count())
                        .as("one file per demo table").isEqualTo(6);
            }
        } finally {
            EmbeddedPostgres.deleteKept(kept);
            Files.deleteIfExists(kept.resolveSibling(kept.getFileName() + ".lock"));
        }
    }

    @Test
    void aGivenDatabaseIsCopiedAndStreamed() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String source = SourceFixture.createSource(pg, "jbang_src");
        Path output = WORK.resolve("given-output");
        deleteTree(output);
        Map<String, String> env = SourceFixture.env(pg, source, "sales");
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", source + "_slot");
        try (Run run = Run.start(env, output)) {
            run.await("copied and streaming", () -> run.log().contains("Streaming slot " + source + "_slot"));
            assertThat(lines(output.resolve("sales.customers.jsonl"), "\"op\":\"r\"")).as("the copy").isEqualTo(180);
            SourceFixture.execute(pg, source, "INSERT INTO sales.customers (id, region, score) VALUES (100000, 'jbang', 1)");
            run.await("the insert streamed", () -> anyLine(output, "\"id\":100000"));
            run.stop();
        } finally {
            SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                    + " WHERE slot_name = '" + source + "_slot' AND NOT active");
        }
    }

    /** One {@code camel run} child process, its output in a log file. */
    private record Run(Process process, Path logFile) implements AutoCloseable {
        static Run start(Map<String, String> env, Path output, String... more) throws IOException {
            List<String> args = new ArrayList<>(command);
            args.add("--prop=destination.directory=" + output);
            args.addAll(List.of(more));
            Path log = WORK.resolve(output.getFileName() + ".log");
            ProcessBuilder pb = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(log.toFile());
            // a user's shell: none of the source settings of the machine running the tests
            pb.environment().keySet().removeIf(k -> k.startsWith("SOURCE_") || k.startsWith("DESTINATION") || k.startsWith("SYNC_"));
            pb.environment().putAll(env);
            return new Run(pb.start(), log);
        }

        String log() {
            try {
                return Files.readString(logFile);
            } catch (IOException e) {
                return "";
            }
        }

        void await(String what, BooleanSupplier done) throws InterruptedException {
            long deadline = System.nanoTime() + START.toNanos();
            while (!done.getAsBoolean()) {
                assertThat(process.isAlive()).as("camel run ended before %s:%n%s", what, log()).isTrue();
                assertThat(System.nanoTime() < deadline).as("%s within %s:%n%s", what, START, log()).isTrue();
                Thread.sleep(250);
            }
        }

        /** A run a failed assertion left behind ends with the test. */
        @Override
        public void close() {
            process.destroyForcibly();
        }

        /** SIGTERM, as Ctrl-C or a service manager stops it: Camel shuts down cleanly, no error on the way. */
        void stop() throws InterruptedException {
            process.destroy();
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("stopped by SIGTERM:%n%s", log()).isTrue();
            assertThat(log()).as("a clean stop").contains("shutdown").doesNotContain(" ERROR ", "Exception");
        }
    }

    private static boolean anyLine(Path dir, String text) {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".jsonl")).toList()) {
                try (Stream<String> lines = Files.lines(f)) {
                    if (lines.anyMatch(l -> l.contains(text))) {
                        return true;
                    }
                }
            }
            return false;
        } catch (IOException | java.io.UncheckedIOException e) {
            return false; // not there yet, or a line being written
        }
    }

    private static long lines(Path file, String containing) throws IOException {
        try (Stream<String> lines = Files.lines(file)) {
            return lines.filter(l -> l.contains(containing)).count();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> paths = Files.walk(dir)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }
}
