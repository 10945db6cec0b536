package io.pgsource.backfill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgsource.change.TableId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.util.ArrayList;
import java.util.List;

/**
 * A request to backfill tables, as {@code java -jar pgsource.jar backfill} writes it into the source's WAL: a
 * transactional logical decoding message ({@code pg_logical_emit_message(true, 'pgsource-backfill-request', json)}). The
 * instance that streams the slot (the leader under sync.ha) meets it in commit order, and one that is down meets it when
 * it streams again: the slot keeps it until it is applied.
 *
 * <p>Any role that can connect to the database can write such a message, and the condition is SQL pgsource runs with its
 * own role: so a request carries an HMAC-SHA256 of its tables and condition keyed with pgsource's source credentials
 * ({@link #key}), and the instance ignores one whose signature does not match (it runs the condition read-only too).
 *
 * @param tables the tables to backfill
 * @param where  a condition the rows to backfill meet, or null for every row
 * @param keys   the text forms of the primary keys to make equal (repair, of one table): rows the condition finds are
 *               copied, and each of these keys the source does not hold is deleted at the destination; null for none
 */
public record BackfillRequest(List<TableId> tables, String where, List<List<String>> keys) {
    /** The prefix of the logical decoding messages of requests. */
    public static final String PREFIX = "pgsource-backfill-request";
    /** Made at first use: an ObjectMapper costs start-up time a run that never reads or writes this JSON need not pay. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }

    public BackfillRequest {
        tables = List.copyOf(tables);
        where = where == null || where.isBlank() ? null : where.strip();
        keys = keys == null || keys.isEmpty() ? null : keys.stream().map(k -> java.util.Collections.unmodifiableList(new ArrayList<>(k))).toList();
    }

    /** A request of every row, or of the rows a condition finds. */
    public BackfillRequest(List<TableId> tables, String where) {
        this(tables, where, null);
    }

    /** The message's text, signed with the key ({@link #key}). */
    public String content(byte[] key) {
        ObjectNode o = body();
        o.put("signature", signature(o.toString(), key));
        return o.toString();
    }

    private ObjectNode body() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        tables.forEach(t -> o.withArray("tables").addObject().put("schema", t.schema()).put("name", t.name()));
        o.put("where", where);
        if (keys != null) {
            keys.forEach(k -> k.forEach(o.withArray("keys").addArray()::add));
        }
        return o;
    }

    /**
     * The request a message carries, or null when it carries none.
     *
     * @throws SecurityException when it carries one not signed with this key
     */
    public static BackfillRequest of(String prefix, byte[] content, byte[] key) {
        if (!PREFIX.equals(prefix) || content == null) {
            return null;
        }
        BackfillRequest request;
        String signature;
        try {
            JsonNode o = Json.MAPPER.readTree(new String(content, StandardCharsets.UTF_8));
            List<TableId> tables = new ArrayList<>();
            for (JsonNode t : o.path("tables")) {
                tables.add(new TableId(t.path("schema").asText(), t.path("name").asText()));
            }
            if (tables.isEmpty()) {
                return null;
            }
            List<List<String>> keys = new ArrayList<>();
            for (JsonNode k : o.path("keys")) {
                List<String> values = new ArrayList<>();
                k.forEach(v -> values.add(v.isNull() ? null : v.asText()));
                keys.add(values);
            }
            request = new BackfillRequest(tables, o.path("where").isTextual() ? o.get("where").asText() : null, keys);
            signature = o.path("signature").asText("");
        } catch (Exception e) {
            return null;
        }
        if (!MessageDigest.isEqual(signature.getBytes(StandardCharsets.UTF_8),
                signature(request.body().toString(), key).getBytes(StandardCharsets.UTF_8))) {
            throw new SecurityException("a backfill request of " + request.tables() + " not written by pgsource backfill with this"
                    + " instance's source.username and source.password (its signature does not match) was ignored");
        }
        return request;
    }

    /** The signing key: derived from the source's user name and password, which the command and the instance share. */
    public static byte[] key(String username, String password) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(("pgsource-backfill\n" + username + "\n" + (password == null ? "" : password))
                    .getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String signature(String body, byte[] key) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
