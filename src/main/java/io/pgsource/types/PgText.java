package io.pgsource.types;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

/**
 * Canonical Java value → the text PostgreSQL accepts as input for the column's type, whatever the session's
 * DateStyle, IntervalStyle or TimeZone (offsets are always explicit). The inverse of decoding: formatting a decoded
 * value and inserting it with {@code ?::type} stores the same value.
 */
public final class PgText {
    private PgText() {
    }

    /** The text PostgreSQL accepts as input for the value's type, or null for SQL NULL. */
    public static String format(Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof String s) {
            return s;
        }
        if (value instanceof BigDecimal d) {
            return d.toPlainString();
        }
        if (value instanceof Boolean b) {
            return b ? "t" : "f";
        }
        if (value instanceof Number || value instanceof Special || value instanceof Json || value instanceof Interval
                || value instanceof Bytes || value instanceof java.util.UUID) {
            // their toString is PostgreSQL's input: Double/Float print NaN, Infinity, -Infinity and round-trip exactly
            return value.toString();
        }
        if (value instanceof OffsetDateTime t) {
            return PgDateTime.pgTimestamptz(t);
        }
        if (value instanceof LocalDateTime t) {
            return PgDateTime.pgTimestamp(t);
        }
        if (value instanceof LocalDate d) {
            return PgDateTime.pgDate(d);
        }
        if (value instanceof LocalTime t) {
            return PgDateTime.pgTime(t);
        }
        if (value instanceof OffsetTime t) {
            return PgDateTime.pgTimetz(t);
        }
        if (value instanceof Instant i) {
            return PgDateTime.pgTimestamptz(i.atOffset(ZoneOffset.UTC));
        }
        if (value instanceof List<?> list) {
            StringBuilder sb = new StringBuilder();
            char delimiter = ',';
            if (list instanceof PgArray a) {
                delimiter = a.delimiter();
                if (a.hasLowerBounds()) {
                    appendBounds(sb, a);
                }
            }
            appendArray(sb, list, delimiter);
            return sb.toString();
        }
        if (value instanceof Map<?, ?> map) {
            return Hstore.format(map);
        }
        if (value instanceof byte[] bytes) {
            return Bytes.of(bytes).toString();
        }
        return value.toString();
    }

    /**
     * One field of COPY's text format: backslash, tab, newline and carriage return escaped; {@code \N} for null.
     * Use it on {@link #format}'s result, with tab between fields and newline after each row.
     */
    public static String copyEscape(String text) {
        if (text == null) {
            return "\\N";
        }
        int n = text.length();
        int k = 0;
        while (k < n) {
            char c = text.charAt(k);
            if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
                break;
            }
            k++;
        }
        if (k == n) {
            return text;
        }
        StringBuilder sb = new StringBuilder(n + 8).append(text, 0, k);
        for (; k < n; k++) {
            char c = text.charAt(k);
            switch (c) {
                case '\\' -> sb.append("\\\\");
                case '\t' -> sb.append("\\t");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }

    private static void appendArray(StringBuilder sb, List<?> list, char delimiter) {
        sb.append('{');
        for (int i = 0; i < list.size(); i++) {
            if (i > 0) {
                sb.append(delimiter);
            }
            Object e = list.get(i);
            if (e == null) {
                sb.append("NULL");
            } else if (e instanceof List<?> inner) {
                appendArray(sb, inner, delimiter);
            } else {
                appendElement(sb, format(e), delimiter);
            }
        }
        sb.append('}');
    }

    /** Quotes an element when array_in would otherwise misread it (as array_out decides). */
    private static void appendElement(StringBuilder sb, String s, char delimiter) {
        boolean quote = s.isEmpty() || s.equalsIgnoreCase("NULL");
        for (int k = 0; k < s.length() && !quote; k++) {
            char c = s.charAt(k);
            quote = c == '"' || c == '\\' || c == '{' || c == '}' || c == delimiter
                    || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\u000B' || c == '\f';
        }
        if (quote) {
            Hstore.quote(sb, s);
        } else {
            sb.append(s);
        }
    }

    /** {@code [lb:ub][lb:ub]=}, the dimensions walked down the first elements. */
    private static void appendBounds(StringBuilder sb, PgArray a) {
        int[] lbs = a.lowerBounds();
        List<?> level = a;
        for (int lb : lbs) {
            int size = level == null ? 0 : level.size();
            sb.append('[').append(lb).append(':').append(lb + size - 1).append(']');
            level = size > 0 && level.get(0) instanceof List<?> inner ? inner : null;
        }
        sb.append('=');
    }
}
