package io.pgsource.batch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.pgsource.config.ReplicationMethod;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Where a batch-query stream stands: the last row's key values (PostgreSQL text form, exact for every type
 * because they are bound back with a cast to the column's type), the key columns they belong to, the method,
 * and whether the run that wrote it read the table to its end.
 *
 * <p>Serialized as a small JSON object, e.g.
 * {@code {"method":"INCREMENTAL","columns":["updated_at","id"],"values":["2024-01-01 00:00:00+00","42"],"completed":false}}.
 *
 * @param method    the method of the run that wrote it
 * @param columns   the key columns, in key order (replication key first for INCREMENTAL); empty for keyless tables
 * @param values    the last row's values of those columns; empty when no row was read yet
 * @param completed true when the run read to the end of the table
 */
public record Bookmark(ReplicationMethod method, List<String> columns, List<String> values, boolean completed) {
    private static final JsonFactory JSON = new JsonFactory();

    public Bookmark {
        Objects.requireNonNull(method, "method");
        columns = List.copyOf(columns);
        values = List.copyOf(values);
        if (!values.isEmpty() && values.size() != columns.size()) {
            throw new IllegalArgumentException("a bookmark has a value for every key column or none: " + columns + " vs " + values.size() + " values");
        }
    }

    /** True when the bookmark holds a row position (not just "nothing read yet"). */
    public boolean hasPosition() {
        return !values.isEmpty();
    }

    /** The JSON form stored by the destination. */
    public String serialize() {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("method", method.name());
            writeArray(g, "columns", columns);
            writeArray(g, "values", values);
            g.writeBooleanField("completed", completed);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    private static void writeArray(JsonGenerator g, String name, List<String> items) throws IOException {
        g.writeArrayFieldStart(name);
        for (String item : items) {
            g.writeString(item);
        }
        g.writeEndArray();
    }

    /**
     * Reads a bookmark written by {@link #serialize()}.
     *
     * @throws IllegalArgumentException when the text is not such a bookmark
     */
    public static Bookmark parse(String text) {
        ReplicationMethod method = null;
        List<String> columns = List.of();
        List<String> values = List.of();
        boolean completed = false;
        try (JsonParser p = JSON.createParser(text)) {
            expect(p.nextToken(), JsonToken.START_OBJECT);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "method" -> method = ReplicationMethod.valueOf(p.getValueAsString());
                    case "columns" -> columns = readArray(p, value);
                    case "values" -> values = readArray(p, value);
                    case "completed" -> completed = value == JsonToken.VALUE_TRUE;
                    default -> p.skipChildren();
                }
            }
            expect(p.currentToken(), JsonToken.END_OBJECT);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("not a batch-query bookmark: " + e.getMessage(), e);
        }
        if (method == null) {
            throw new IllegalArgumentException("not a batch-query bookmark: no method");
        }
        return new Bookmark(method, columns, values, completed);
    }

    private static List<String> readArray(JsonParser p, JsonToken start) throws IOException {
        expect(start, JsonToken.START_ARRAY);
        List<String> items = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
            expect(p.currentToken(), JsonToken.VALUE_STRING);
            items.add(p.getText());
        }
        return items;
    }

    private static void expect(JsonToken actual, JsonToken expected) throws IOException {
        if (actual != expected) {
            throw new IOException("expected " + expected + " but found " + actual);
        }
    }
}
