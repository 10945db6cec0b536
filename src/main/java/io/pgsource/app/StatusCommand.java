package io.pgsource.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.config.Sizes;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * {@code java -jar pgsource.jar status [URL]}: what a running pgsource reports, read from its status page's JSON
 * ({@code /observe/status.json} on the management server) and printed for a terminal. The address is the one the
 * configuration gives the running instance ({@code camel.management.host}, {@code camel.management.port},
 * {@code camel.management.health-path}: the status sits next to the health endpoint, from the same files and environment a run reads), or the URL given. Exits 0 when it
 * answers and is healthy, 2 with one line saying what to do when it does not answer or is not healthy.
 */
public final class StatusCommand {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StatusCommand() {
    }

    public static int run(List<String> args, Map<String, String> env, Properties system, PrintStream out, PrintStream err) {
        if (args.size() > 1 || (args.size() == 1 && !args.get(0).matches("https?://.+"))) {
            err.println("status takes at most one argument, the management server's URL (like http://localhost:9876): got "
                    + String.join(" ", args));
            return 2;
        }
        Properties props;
        try {
            props = EffectiveProperties.load(env, system);
        } catch (ConfigurationException e) {
            err.println(e.getMessage());
            return 2;
        }
        URI uri = args.isEmpty() ? uri(props, env) : URI.create(args.get(0).replaceAll("/+$", "")
                + (args.get(0).contains("/status.json") ? "" : args.get(0).matches("https?://[^/]+/?") ? "/observe/status.json" : "/status.json"));
        String enable = "false".equalsIgnoreCase(value(props, env, "camel.management.enabled", "false").strip())
                ? " This configuration has camel.management.enabled=false: start pgsource with camel.management.enabled=true"
                + " (CAMEL_MANAGEMENT_ENABLED=true) to serve its status." : "";
        String pointAt = " Or point status at it: set camel.management.host and camel.management.port (CAMEL_MANAGEMENT_PORT) as"
                + " the running pgsource has them, or pass its URL: java -jar pgsource.jar status http://host:9876";
        HttpResponse<String> response;
        try {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
            response = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException | HttpConnectTimeoutException e) {
            err.println("No pgsource answers at " + uri + " (" + (e instanceof HttpConnectTimeoutException ? "connect timed out"
                    : "connection refused") + "): is it running?" + enable + pointAt);
            return 2;
        } catch (HttpTimeoutException e) {
            err.println("pgsource at " + uri + " did not answer within 10 s: it may be overloaded; try again.");
            return 2;
        } catch (IOException e) {
            err.println("Cannot read " + uri + ": " + e.getMessage() + "." + enable + pointAt);
            return 2;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 2;
        }
        JsonNode status = null;
        if (response.statusCode() == 200) {
            try {
                status = JSON.readTree(response.body());
            } catch (IOException e) {
                status = null;
            }
        }
        if (status == null || !status.has("state") || !status.has("tables")) {
            err.println(uri + " answered HTTP " + response.statusCode() + " but not with pgsource's status: is another server on"
                    + " that port, or a pgsource without a status page?" + pointAt);
            return 2;
        }
        print(status, uri, out);
        if (!status.path("healthy").asBoolean(false)) {
            err.println("pgsource at " + uri.getHost() + ":" + uri.getPort() + " is not healthy (" + status.path("state").asText() + "): "
                    + reason(status));
            return 2;
        }
        return 0;
    }

    /** Why it is not healthy: the first health check DOWN, else the stream's problem, else the last error; with the last fix. */
    static String reason(JsonNode s) {
        JsonNode errors = s.path("errors");
        JsonNode last = errors.size() == 0 ? null : errors.get(errors.size() - 1);
        String fix = last != null && last.path("fix").isTextual() ? " " + last.path("fix").asText() : "";
        if (s.path("down").size() > 0) {
            JsonNode d = s.path("down").get(0);
            return d.path("id").asText() + " is DOWN: " + d.path("message").asText() + fix;
        }
        if (s.path("stream").path("problem").isTextual()) {
            return "waiting for: " + s.path("stream").path("problem").asText() + fix;
        }
        return last != null ? last.path("message").asText() + fix : "see the status above";
    }

    private static URI uri(Properties props, Map<String, String> env) {
        String host = value(props, env, "camel.management.host", "").strip();
        if (host.isEmpty() || host.equals("0.0.0.0") || host.equals("::")) {
            host = "localhost";
        }
        String port = value(props, env, "camel.management.port", "9876").strip();
        // next to the health endpoint, as the status page is
        String health = value(props, env, "camel.management.health-path", "/observe/health").strip();
        String base = health.contains("/") ? health.substring(0, health.lastIndexOf('/')) : "";
        return URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port + base + "/status.json");
    }

    /** A key of the configuration; Camel's own keys are also read from the environment (CAMEL_MANAGEMENT_PORT). */
    private static String value(Properties props, Map<String, String> env, String key, String fallback) {
        String v = env.get(EffectiveProperties.envName(key));
        if (v == null) {
            v = props.getProperty(key);
        }
        return v == null || v.isBlank() ? fallback : v;
    }

    /** The status for a terminal. */
    static void print(JsonNode s, URI uri, PrintStream out) {
        out.printf(Locale.ROOT, "pgsource at %s:%d: %s, %s, up %s%n", uri.getHost(), uri.getPort(), s.path("state").asText(),
                s.path("healthy").asBoolean() ? "healthy" : "NOT HEALTHY",
                StatusPage.duration(Duration.ofSeconds(s.path("uptimeSeconds").asLong())));
        JsonNode src = s.path("source");
        out.printf(Locale.ROOT, "  %s from %s%s into %s%n", src.path("method").asText(), src.path("database").asText(),
                src.path("slot").isTextual() ? " (slot " + src.path("slot").asText() + ")" : "", src.path("destination").asText());
        for (JsonNode d : s.path("down")) {
            out.printf(Locale.ROOT, "  DOWN %s: %s%n", d.path("id").asText(), d.path("message").asText());
        }
        JsonNode st = s.path("stream");
        if (st.isObject()) {
            StringBuilder line = new StringBuilder("  stream: ").append(st.path("streaming").asBoolean() ? "streaming" : "not streaming")
                    .append(", slot lag ").append(st.path("lagBytes").isNumber() ? Sizes.human(st.path("lagBytes").asLong()) : "unknown")
                    .append(String.format(Locale.ROOT, ", %,.1f changes/s, %,d transactions (%,d changes) applied since the start",
                            st.path("changesPerSecond").asDouble(), st.path("transactions").asLong(), st.path("changes").asLong()));
            if (st.path("lastAppliedCommitAgeSeconds").isNumber()) {
                line.append(String.format(Locale.ROOT, ", last commit applied %s ago",
                        StatusPage.duration(Duration.ofMillis(Math.round(st.path("lastAppliedCommitAgeSeconds").asDouble() * 1000)))));
            }
            out.println(line);
            if (st.path("problem").isTextual()) {
                out.println("  waiting for: " + st.path("problem").asText());
            }
        }
        out.printf(Locale.ROOT, "  %-40s %-8s %6s %15s %10s %10s %12s%n", "TABLE", "COPY", "%", "ROWS COPIED", "ROWS/S", "ETA",
                st.isObject() ? "CHANGES" : "ROWS");
        for (JsonNode t : s.path("tables")) {
            String copy = t.path("copy").asText();
            boolean none = "none".equals(copy);
            String eta = "copying".equals(copy) ? (t.path("etaSeconds").isNumber()
                    ? StatusPage.duration(Duration.ofSeconds(Math.round(t.path("etaSeconds").asDouble()))) : "unknown") : "";
            out.printf(Locale.ROOT, "  %-40s %-8s %6s %15s %10s %10s %,12d%n", t.path("table").asText(), copy,
                    t.path("percent").isNumber() ? String.format(Locale.ROOT, "%.0f", t.path("percent").asDouble()) : "",
                    none ? "" : String.format(Locale.ROOT, "%,d", t.path("rowsCopied").asLong()),
                    none ? "" : String.format(Locale.ROOT, "%,.0f", t.path("rowsPerSecond").asDouble()), eta, t.path("applied").asLong());
        }
        JsonNode errors = s.path("errors");
        if (errors.size() > 0) {
            out.println("  last errors:");
            for (JsonNode e : errors) {
                out.printf(Locale.ROOT, "    %s %s%s%n", Instant.parse(e.path("at").asText()).toString().substring(11, 19),
                        e.path("message").asText(), e.path("fix").isTextual() ? "\n      fix: " + e.path("fix").asText() : "");
            }
        }
    }
}
