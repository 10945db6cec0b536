package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.testsupport.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page of a real run (log replication into JSON Lines, the management server on a free port): its JSON has
 * the tables with their copy, the slot lag and the plot's samples; {@code pgsource status} reads it; headless Chromium
 * renders the page (skipped where no Chromium is installed), keeping a screenshot in {@code target/status-page.png}.
 */
class StatusPageTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TestPostgres pg;
    private static String source;
    private static int port;
    private static Map<String, String> env;
    private static StreamingRun run;
    private static LogCapture log;
    @TempDir
    static Path output;

    @BeforeAll
    static void start() throws Exception {
        pg = TestPostgres.server();
        source = SourceFixture.createSource(pg, "status_src");
        port = freePort();
        env = SourceFixture.env(pg, source, "public,sales");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", "public.customers,sales.customers");
        env.put("SOURCE_REPLICATION_SLOT", "status_slot");
        env.put("SOURCE_PUBLICATION_NAME", "status_pub");
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", output.toString());
        env.put("SYNC_STATUS_INTERVAL", "300ms");
        env.put("SYNC_PROGRESS_INTERVAL", "200ms"); // an idle line every 2 s
        env.put("CAMEL_MANAGEMENT_ENABLED", "true");
        env.put("CAMEL_MANAGEMENT_PORT", Integer.toString(port));
        log = new LogCapture();
        run = new StreamingRun(env);
        // streaming, with a slot check behind it and a few samples in the plot
        Await.until("the status page says streaming with the slot's lag", () -> {
            JsonNode s = statusOrNull();
            return s != null && "streaming".equals(s.path("state").asText()) && s.path("stream").path("lagBytes").isNumber()
                    && s.path("history").size() >= 2;
        });
        SourceFixture.execute(pg, source, "UPDATE public.customers SET name = 'changed' WHERE id <= 10");
        Await.until("the status page counts the 10 changes", () -> applied(status(), "public.customers") >= 10);
        Await.until("the stream's summary line, and then an idle one", () -> {
            try {
                String text = log.text();
                return text.contains("Streamed 1 transaction(s) (10 changes)")
                        && text.contains("Streaming slot status_slot: no change to apply in the last");
            } catch (java.util.ConcurrentModificationException e) {
                return false; // a line was added while reading: read again
            }
        });
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (run != null) {
                assertThat(run.stop()).as("exit code").isZero();
            }
        } finally {
            if (log != null) {
                log.close();
            }
        }
    }

    @Test
    void theJsonHasEveryTableWithItsCopyTheSlotLagAndThePlotsSamples() throws Exception {
        JsonNode s = status();
        assertThat(s.path("healthy").asBoolean()).as(s.toPrettyString()).isTrue();
        assertThat(s.path("source").path("slot").asText()).isEqualTo("status_slot");
        List<String> names = new ArrayList<>();
        s.path("tables").forEach(t -> names.add(t.path("table").asText()));
        assertThat(names).containsExactly("public.customers", "sales.customers");
        long rows = Long.parseLong(SourceFixture.query(pg, source, "SELECT count(*) FROM public.customers").get(0));
        JsonNode customers = s.path("tables").get(0);
        assertThat(customers.path("copy").asText()).as("copied inside the new slot's snapshot").isEqualTo("copied");
        assertThat(customers.path("rowsCopied").asLong()).isEqualTo(rows);
        assertThat(customers.path("percent").asDouble()).isEqualTo(100.0);
        assertThat(customers.path("etaSeconds").asDouble()).isZero();
        assertThat(customers.path("applied").asLong()).as("the update's changes, not the copy's rows").isEqualTo(10);
        assertThat(s.path("tables").get(1).path("applied").asLong()).isZero();
        JsonNode stream = s.path("stream");
        assertThat(stream.path("streaming").asBoolean()).isTrue();
        assertThat(stream.path("lagBytes").asLong()).isGreaterThanOrEqualTo(0);
        assertThat(stream.path("lastAppliedCommit").isTextual()).isTrue();
        assertThat(stream.path("transactions").asLong()).isPositive();
        assertThat(s.path("history").size()).isBetween(2, 360);
        assertThat(s.path("history").get(s.path("history").size() - 1).path("lagBytes").isNumber()).isTrue();
        assertThat(s.toString()).as("no secret").doesNotContain(pg.password());
    }

    @Test
    void aLostReplicationConnectionIsAmongTheLastErrors() throws Exception {
        SourceFixture.execute(pg, source, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'status_slot'");
        Await.until("the error on the status page, and streaming again", () -> {
            JsonNode s = status();
            return s.path("errors").size() > 0 && "streaming".equals(s.path("state").asText()) && s.path("healthy").asBoolean();
        });
        JsonNode error = status().path("errors").get(0);
        assertThat(error.path("message").asText()).containsAnyOf("replication connection", "Log replication failed");
        assertThat(Instant.parse(error.path("at").asText())).isBefore(Instant.now());
    }

    @Test
    void theStatusCommandPrintsItAndExits0() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = StatusCommand.run(List.of(), env, new Properties(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String printed = out.toString(StandardCharsets.UTF_8);
        System.out.print(printed); // what a user reads, in the test's output
        assertThat(code).as(printed + err).isZero();
        assertThat(printed).contains("streaming, healthy", "slot status_slot", "slot lag", "public.customers", "sales.customers", "copied");
    }

    @Test
    void withNothingListeningTheStatusCommandSaysHowToFixItInOneLineAndExits2() throws Exception {
        Map<String, String> nowhere = new HashMap<>(env);
        nowhere.put("CAMEL_MANAGEMENT_PORT", Integer.toString(freePort()));
        nowhere.put("CAMEL_MANAGEMENT_ENABLED", "false");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = StatusCommand.run(List.of(), nowhere, new Properties(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(code).isEqualTo(2);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
        assertThat(err.toString(StandardCharsets.UTF_8).lines().toList()).singleElement().asString()
                .startsWith("No pgsource answers at http://localhost:")
                .contains("camel.management.enabled=true", "camel.management.port");
    }

    @Test
    void headlessChromiumRendersTheTablesAndThePlot() throws Exception {
        String chromium = chromium();
        Assumptions.assumeTrue(chromium != null, "no chromium binary on the PATH (Debian: apt-get install chromium; or set"
                + " PGSOURCE_CHROMIUM): the status page's rendering is not tested here");
        String url = "http://127.0.0.1:" + port + "/observe/status";
        Path target = Path.of("target").toAbsolutePath();
        Files.createDirectories(target);
        Path profile = Files.createTempDirectory(target, "chromium-profile");
        Path screenshot = target.resolve("status-page.png");
        Files.deleteIfExists(screenshot);
        // one launch: the rendered DOM on standard output, and the screenshot
        String dom = chromium(chromium, profile, "--dump-dom", "--screenshot=" + screenshot, "--window-size=1200,900", url);
        assertThat(dom).contains("id=\"plot\"", "<polyline class=\"lag\"", "<polyline class=\"rate\"", "public.customers",
                "sales.customers", "streaming", "healthy");
        assertThat(screenshot).as("the screenshot").exists();
        assertThat(Files.size(screenshot)).isGreaterThan(10_000);
    }

    /** Runs headless Chromium and returns its standard output. */
    private static String chromium(String binary, Path profile, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(binary, "--headless", "--disable-gpu", "--no-first-run",
                "--user-data-dir=" + profile, "--hide-scrollbars"));
        if ("root".equals(System.getProperty("user.name"))) {
            command.add("--no-sandbox"); // Chromium refuses to run as root with its sandbox
        }
        command.addAll(List.of(args));
        Path log = Files.createTempFile(profile, "chromium", ".log");
        Process p = new ProcessBuilder(command).redirectError(log.toFile()).start();
        byte[] stdout = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not end within 60 s: " + command);
        }
        assertThat(p.exitValue()).as("chromium's exit code; its log:\n%s", Files.readString(log)).isZero();
        return new String(stdout, StandardCharsets.UTF_8);
    }

    /** The Chromium binary: PGSOURCE_CHROMIUM, or chromium (Debian), chromium-browser or google-chrome on the PATH; null if none. */
    private static String chromium() {
        String given = System.getenv("PGSOURCE_CHROMIUM");
        if (given != null && !given.isBlank()) {
            return given;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            for (String name : List.of("chromium", "chromium-browser", "google-chrome")) {
                File f = new File(dir, name);
                if (f.isFile() && f.canExecute()) {
                    return f.getAbsolutePath();
                }
            }
        }
        return null;
    }

    private static long applied(JsonNode s, String table) {
        for (JsonNode t : s.path("tables")) {
            if (table.equals(t.path("table").asText())) {
                return t.path("applied").asLong();
            }
        }
        return -1;
    }

    private static JsonNode status() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/observe/status.json")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        return JSON.readTree(r.body());
    }

    /** The status, or null while the management server does not answer yet. */
    private static JsonNode statusOrNull() throws Exception {
        try {
            return status();
        } catch (IOException | AssertionError e) {
            return null; // not listening yet, or not mounted yet (404)
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
