package io.pgsource.types;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

/** Canonical Java value → its exact JSON form (the table in {@code package-info}). */
public final class JsonValues {
    private JsonValues() {
    }

    public static void write(JsonGenerator g, Object value) throws IOException {
        if (value == null) {
            g.writeNull();
        } else if (value instanceof String s) {
            g.writeString(s);
        } else if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
            g.writeNumber(((Number) value).longValue());
        } else if (value instanceof BigDecimal d) {
            // plain digits, scale kept: Jackson's own writeNumber(BigDecimal) may print 1E+3
            g.writeNumber(d.toPlainString());
        } else if (value instanceof BigInteger i) {
            g.writeNumber(i);
        } else if (value instanceof Boolean b) {
            g.writeBoolean(b);
        } else if (value instanceof Double d) {
            if (d.isNaN() || d.isInfinite()) {
                g.writeString(d.toString());
            } else {
                g.writeNumber(d);
            }
        } else if (value instanceof Float f) {
            if (f.isNaN() || f.isInfinite()) {
                g.writeString(f.toString());
            } else {
                g.writeNumber(f);
            }
        } else if (value instanceof Special s) {
            g.writeString(s.text());
        } else if (value instanceof Json j) {
            g.writeRawValue(oneLine(j.text()));
        } else if (value instanceof Bytes b) {
            g.writeString(b.toBase64());
        } else if (value instanceof OffsetDateTime t) {
            g.writeString(PgDateTime.isoTimestamptz(t));
        } else if (value instanceof LocalDateTime t) {
            g.writeString(PgDateTime.isoTimestamp(t));
        } else if (value instanceof LocalDate d) {
            g.writeString(PgDateTime.isoDate(d));
        } else if (value instanceof LocalTime t) {
            g.writeString(PgDateTime.isoTime(t));
        } else if (value instanceof OffsetTime t) {
            g.writeString(PgDateTime.isoTimetz(t));
        } else if (value instanceof Instant i) {
            g.writeString(PgDateTime.isoTimestamptz(i.atOffset(ZoneOffset.UTC)));
        } else if (value instanceof List<?> list) {
            g.writeStartArray();
            for (Object e : list) {
                write(g, e);
            }
            g.writeEndArray();
        } else if (value instanceof Map<?, ?> map) {
            g.writeStartObject();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                g.writeFieldName(String.valueOf(e.getKey()));
                write(g, e.getValue());
            }
            g.writeEndObject();
        } else if (value instanceof byte[] bytes) {
            g.writeString(Bytes.of(bytes).toBase64());
        } else {
            g.writeString(value.toString()); // UUID, Interval and every type whose canonical value is its text
        }
    }

    /**
     * json keeps its input's whitespace, newlines included; outside strings (where JSON forbids raw control
     * characters) they are insignificant, so a space keeps JSON Lines one value per line without changing the value.
     */
    private static String oneLine(String json) {
        if (json.indexOf('\n') < 0 && json.indexOf('\r') < 0) {
            return json;
        }
        return json.replace('\n', ' ').replace('\r', ' ');
    }
}
