package io.pgsource.backfill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgsource.change.TableId;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A request to backfill tables, as {@code java -jar pgsource.jar backfill} writes it into the source's WAL: a
 * transactional logical decoding message ({@code pg_logical_emit_message(true, 'pgsource-backfill-request', json)}). The
 * instance that streams the slot (the leader under sync.ha) meets it in commit order, and one that is down meets it when
 * it streams again: the slot keeps it until it is applied.
 *
 * @param tables the tables to backfill
 * @param where  a condition the rows to backfill meet, or null for every row
 */
public record BackfillRequest(List<TableId> tables, String where) {
    /** The prefix of the logical decoding messages of requests. */
    public static final String PREFIX = "pgsource-backfill-request";
    private static final ObjectMapper JSON = new ObjectMapper();

    public BackfillRequest {
        tables = List.copyOf(tables);
        where = where == null || where.isBlank() ? null : where.strip();
    }

    public String content() {
        ObjectNode o = JSON.createObjectNode();
        tables.forEach(t -> o.withArray("tables").addObject().put("schema", t.schema()).put("name", t.name()));
        o.put("where", where);
        return o.toString();
    }

    /** The request a message carries, or null when it carries none. */
    public static BackfillRequest of(String prefix, byte[] content) {
        if (!PREFIX.equals(prefix) || content == null) {
            return null;
        }
        try {
            JsonNode o = JSON.readTree(new String(content, StandardCharsets.UTF_8));
            List<TableId> tables = new ArrayList<>();
            for (JsonNode t : o.path("tables")) {
                tables.add(new TableId(t.path("schema").asText(), t.path("name").asText()));
            }
            return tables.isEmpty() ? null : new BackfillRequest(tables, o.path("where").isTextual() ? o.get("where").asText() : null);
        } catch (Exception e) {
            return null;
        }
    }
}
