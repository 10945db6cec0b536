package io.pgsource.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The options and headers tables of {@code src/main/docs/pgoutput-component.adoc} are generated, not written by hand:
 * rendered from the component's metadata ({@code pgoutput.json}, which the camel-component-maven-plugin makes from the
 * {@code @UriParam} fields and their setters' javadoc) into {@code src/generated/docs/pgoutput-options.adoc}, which the
 * adoc includes. When an option changed and the committed file no longer matches, this test writes the new one and
 * fails, so the change is committed with it (as Camel does with its generated files).
 */
class PgOutputOptionsDocTest {
    static final Path JSON = Path.of("src/generated/resources/META-INF/io/pgsource/pgoutput/pgoutput.json");
    static final Path DOC = Path.of("src/generated/docs/pgoutput-options.adoc");

    @Test
    void theCommittedOptionsTableIsTheOneTheMetadataMakes() throws Exception {
        JsonNode json = new ObjectMapper().readTree(Files.readString(JSON));
        String rendered = render(json);
        assertThat(rendered).contains("| *values*", "| *slot* (path)", "PgSourceCommitLsn", "| *healthCheckConsumerEnabled*");
        String committed = Files.isRegularFile(DOC) ? Files.readString(DOC) : "";
        if (!committed.equals(rendered)) {
            Files.writeString(DOC, rendered, StandardCharsets.UTF_8);
        }
        assertThat(committed).as(DOC + " was out of date with the component's options and has been regenerated: commit it")
                .isEqualTo(rendered);
        assertThat(Files.readString(Path.of("src/main/docs/pgoutput-component.adoc")))
                .as("the component's page includes the generated tables").contains("include::../../generated/docs/pgoutput-options.adoc[]");
    }

    static String render(JsonNode json) {
        StringBuilder out = new StringBuilder();
        out.append("// Generated from pgoutput.json by PgOutputOptionsDocTest: do not edit (run the test to update it).\n");
        table(out, "component", "The component supports %d options, which are listed below.", json.get("componentProperties"), false);
        table(out, "endpoint", "The endpoint (`" + json.get("component").get("syntax").asText()
                + "`) supports %d options, which are listed below.", json.get("properties"), true);
        JsonNode headers = json.get("headers");
        out.append("\n[[pgoutput-headers]]\n=== Message headers\n\nThe consumer sets ").append(headers.size())
                .append(" headers, which are listed below.\n\n")
                .append("[width=\"100%\",cols=\"2,5,^1\",options=\"header\"]\n|===\n| Name | Description | Type\n");
        for (Iterator<Map.Entry<String, JsonNode>> it = headers.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> h = it.next();
            out.append("| *").append(h.getKey()).append("* (`").append(h.getValue().get("constantName").asText().replace('#', '.'))
                    .append("`) | ").append(cell(h.getValue().get("description").asText())).append(" | `")
                    .append(h.getValue().get("javaType").asText()).append("`\n");
        }
        out.append("|===\n");
        return out.toString();
    }

    private static void table(StringBuilder out, String kind, String intro, JsonNode properties, boolean endpoint) {
        out.append("\n[[pgoutput-").append(kind).append("-options]]\n=== ").append(endpoint ? "Endpoint" : "Component")
                .append(" options\n\n").append(intro.formatted(properties.size())).append("\n\n")
                .append("[width=\"100%\",cols=\"2,5,^1,2\",options=\"header\"]\n|===\n| Name | Description | Default | Type\n");
        for (Iterator<Map.Entry<String, JsonNode>> it = properties.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> p = it.next();
            JsonNode o = p.getValue();
            String name = "*" + p.getKey() + "*" + ("path".equals(o.path("kind").asText()) ? " (path)" : "")
                    + (o.path("label").asText().isEmpty() ? "" : " (" + o.path("label").asText() + ")");
            String description = (o.path("required").asBoolean() ? "*Required* " : "") + o.path("description").asText()
                    + (o.path("secret").asBoolean() ? " A secret: masked in logged URIs." : "")
                    + (o.has("enum") ? " One of: " + join(o.get("enum")) + "." : "");
            String defaultValue = o.has("defaultValue") ? o.get("defaultValue").asText() : "";
            out.append("| ").append(name).append(" | ").append(cell(description)).append(" | ")
                    .append(defaultValue.isEmpty() ? "" : cell(defaultValue)).append(" | ").append(cell(o.path("type").asText()))
                    .append(o.path("javaType").asText().startsWith("java.lang.") || o.path("javaType").asText().indexOf('.') < 0
                            ? "" : " (`" + o.path("javaType").asText() + "`)")
                    .append("\n");
        }
        out.append("|===\n");
    }

    private static String join(JsonNode array) {
        StringBuilder b = new StringBuilder();
        for (JsonNode n : array) {
            b.append(b.isEmpty() ? "" : ", ").append('`').append(n.asText()).append('`');
        }
        return b.toString();
    }

    /** A table cell's text: AsciiDoc's cell separator escaped, on one line. */
    private static String cell(String text) {
        return text.replaceAll("\\{@?(?:code|link) ([^}]*)}", "`$1`").replace("|", "\\|").replace('\n', ' ');
    }
}
