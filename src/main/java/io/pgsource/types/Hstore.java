package io.pgsource.types;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** hstore text ⇄ {@code Map<String, String>} in printed order, null values allowed. */
final class Hstore {
    private Hstore() {
    }

    /** Parses hstore_out's form: {@code "k"=>"v", "k2"=>NULL}. */
    static Map<String, String> parse(String s) {
        LinkedHashMap<String, String> map = new LinkedHashMap<>();
        StringBuilder buf = new StringBuilder();
        int i = skipSpace(s, 0);
        while (i < s.length()) {
            i = token(s, i, buf);
            String key = buf.toString();
            i = skipSpace(s, i);
            if (!s.startsWith("=>", i)) {
                throw invalid(s);
            }
            i = skipSpace(s, i + 2);
            boolean quoted = i < s.length() && s.charAt(i) == '"';
            i = token(s, i, buf);
            String value = !quoted && buf.toString().equalsIgnoreCase("NULL") ? null : buf.toString();
            map.put(key, value);
            i = skipSpace(s, i);
            if (i < s.length()) {
                if (s.charAt(i) != ',') {
                    throw invalid(s);
                }
                i = skipSpace(s, i + 1);
            }
        }
        return Collections.unmodifiableMap(map);
    }

    /** hstore input: every key and value quoted, NULL unquoted. */
    static String format(Map<?, ?> map) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            if (e.getKey() == null) {
                throw new IllegalArgumentException("hstore keys cannot be null");
            }
            quote(sb, PgText.format(e.getKey()));
            sb.append("=>");
            if (e.getValue() == null) {
                sb.append("NULL");
            } else {
                quote(sb, PgText.format(e.getValue()));
            }
        }
        return sb.toString();
    }

    static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c == '"' || c == '\\') {
                sb.append('\\');
            }
            sb.append(c);
        }
        sb.append('"');
    }

    /** Reads a quoted (with backslash escapes) or bare token into buf; returns the index after it. */
    private static int token(String s, int i, StringBuilder buf) {
        buf.setLength(0);
        if (i < s.length() && s.charAt(i) == '"') {
            i++;
            while (true) {
                if (i >= s.length()) {
                    throw invalid(s);
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return i;
                }
                if (c == '\\') {
                    if (i >= s.length()) {
                        throw invalid(s);
                    }
                    c = s.charAt(i++);
                }
                buf.append(c);
            }
        }
        int start = i;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '=' && s.startsWith("=>", i) || c == ',' || Character.isWhitespace(c)) {
                break;
            }
            if (c == '\\' && i + 1 < s.length()) {
                i++;
                c = s.charAt(i);
            }
            buf.append(c);
            i++;
        }
        if (i == start) {
            throw invalid(s);
        }
        return i;
    }

    private static int skipSpace(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    private static IllegalArgumentException invalid(String s) {
        return new IllegalArgumentException("malformed hstore: " + (s.length() <= 60 ? s : s.substring(0, 60) + "..."));
    }
}
