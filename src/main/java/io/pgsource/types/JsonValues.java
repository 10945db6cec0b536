package io.pgsource.types;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;

/** Canonical Java value → its exact JSON form. STUB: the types work completes it. */
public final class JsonValues {
    private JsonValues() {
    }

    public static void write(JsonGenerator g, Object value) throws IOException {
        if (value == null) {
            g.writeNull();
        } else if (value instanceof Boolean b) {
            g.writeBoolean(b);
        } else if (value instanceof Integer || value instanceof Long || value instanceof Short) {
            g.writeNumber(((Number) value).longValue());
        } else {
            g.writeString(value.toString());
        }
    }
}
