package io.pgsource.backfill;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * How far a backfill of one table got, as the destination stores it with the chunk's rows
 * ({@link io.pgsource.state.Positions#backfill}), in one transaction for table destinations: a restart resumes after
 * {@code after}, and a chunk stored as applied is never read again.
 *
 * @param request the request it serves (the LSN of the request's message), so a replay of the request is not started over
 * @param where   the condition the rows meet ({@code --where}), or null for every row
 * @param key     the primary key's columns when it started (a backfill of another key starts over)
 * @param after   the text form of the last key applied; empty before the first chunk
 * @param done    whether the last chunk is applied
 * @param keys    the keys a repair makes equal ({@link BackfillRequest#keys}): those the source does not hold are deleted
 *                at the destination; null for none
 */
public record BackfillProgress(String request, String where, List<String> key, List<String> after, boolean done,
                               List<List<String>> keys) {
    /** Made at first use: an ObjectMapper costs start-up time a run that never reads or writes this JSON need not pay. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }

    public BackfillProgress {
        key = List.copyOf(key);
        after = after == null ? List.of() : java.util.Collections.unmodifiableList(new ArrayList<>(after));
        keys = keys == null || keys.isEmpty() ? null : keys.stream().map(k -> java.util.Collections.unmodifiableList(new ArrayList<>(k))).toList();
    }

    public BackfillProgress(String request, String where, List<String> key, List<String> after, boolean done) {
        this(request, where, key, after, done, null);
    }

    /** A backfill requested and not begun. */
    public static BackfillProgress requested(String request, String where, List<String> key) {
        return requested(request, where, key, null);
    }

    /** A backfill of these keys (a repair) requested and not begun. */
    public static BackfillProgress requested(String request, String where, List<String> key, List<List<String>> keys) {
        return new BackfillProgress(request, where, key, List.of(), false, keys);
    }

    /** After the next chunk is applied. */
    public BackfillProgress next(List<String> lastKey, boolean last) {
        return new BackfillProgress(request, where, key, lastKey, last, keys);
    }

    /** The key to read after, or null to start at the first. */
    public List<String> startAfter() {
        return after.isEmpty() ? null : after;
    }

    public String serialize() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("request", request);
        o.put("where", where);
        key.forEach(o.putArray("key")::add);
        ArrayNode a = o.putArray("after");
        after.forEach(a::add);
        o.put("done", done);
        if (keys != null) {
            ArrayNode k = o.putArray("keys");
            keys.forEach(values -> values.forEach(k.addArray()::add));
        }
        return o.toString();
    }

    /** The stored progress, or null when the text is not one. */
    public static BackfillProgress parse(String text) {
        try {
            JsonNode o = Json.MAPPER.readTree(text);
            if (o == null || !o.isObject() || !o.path("key").isArray() || !o.path("after").isArray()) {
                return null;
            }
            return new BackfillProgress(o.path("request").asText(""), o.path("where").isTextual() ? o.get("where").asText() : null,
                    strings(o.get("key")), strings(o.get("after")), o.path("done").asBoolean(false), keys(o.path("keys")));
        } catch (JsonProcessingException | RuntimeException e) {
            return null;
        }
    }

    private static List<List<String>> keys(JsonNode array) {
        List<List<String>> keys = new ArrayList<>();
        array.forEach(k -> keys.add(strings(k)));
        return keys;
    }

    private static List<String> strings(JsonNode array) {
        List<String> list = new ArrayList<>();
        array.forEach(n -> list.add(n.isNull() ? null : n.asText()));
        return list;
    }
}
