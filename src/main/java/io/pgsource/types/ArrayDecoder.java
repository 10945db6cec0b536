package io.pgsource.types;

import java.util.ArrayList;

/**
 * PostgreSQL's array output ({@code array_out}) → {@link PgArray}: optional {@code [lb:ub]...=} dimensions,
 * nested braces, elements separated by the element type's delimiter, double-quoted when needed (with backslash
 * escapes), and unquoted {@code NULL} for a null element ({@code "NULL"} is the string).
 */
final class ArrayDecoder implements ValueDecoder {
    private final ValueDecoder element;
    private final char delimiter;

    ArrayDecoder(ValueDecoder element, char delimiter) {
        this.element = element;
        this.delimiter = delimiter;
    }

    @Override
    public Object decode(String text) {
        Parser p = new Parser(text);
        int[] bounds = null;
        if (text.startsWith("[")) {
            bounds = p.bounds();
        }
        PgArray a = p.array(bounds);
        if (p.i != text.length()) {
            throw p.invalid();
        }
        return a;
    }

    private final class Parser {
        final String s;
        int i;
        final StringBuilder buf = new StringBuilder();

        Parser(String s) {
            this.s = s;
        }

        int[] bounds() {
            ArrayList<Integer> lbs = new ArrayList<>(2);
            boolean nonDefault = false;
            while (i < s.length() && s.charAt(i) == '[') {
                int close = s.indexOf(']', i);
                int colon = s.indexOf(':', i);
                if (close < 0 || colon < 0 || colon > close) {
                    throw invalid();
                }
                int lb = Integer.parseInt(s, i + 1, colon, 10);
                nonDefault |= lb != 1;
                lbs.add(lb);
                i = close + 1;
            }
            if (i >= s.length() || s.charAt(i) != '=') {
                throw invalid();
            }
            i++;
            if (!nonDefault) {
                return null;
            }
            int[] out = new int[lbs.size()];
            for (int k = 0; k < out.length; k++) {
                out[k] = lbs.get(k);
            }
            return out;
        }

        PgArray array(int[] bounds) {
            expect('{');
            ArrayList<Object> items = new ArrayList<>();
            if (peek() == '}') {
                i++;
                return new PgArray(items.toArray(), bounds, delimiter);
            }
            while (true) {
                char c = peek();
                if (c == '{') {
                    items.add(array(null));
                } else if (c == '"') {
                    items.add(element.decode(quoted()));
                } else {
                    items.add(unquoted());
                }
                char next = peek();
                i++;
                if (next == '}') {
                    return new PgArray(items.toArray(), bounds, delimiter);
                }
                if (next != delimiter) {
                    throw invalid();
                }
            }
        }

        String quoted() {
            i++; // opening quote
            buf.setLength(0);
            while (true) {
                char c = peek();
                i++;
                if (c == '"') {
                    return buf.toString();
                }
                if (c == '\\') {
                    c = peek();
                    i++;
                }
                buf.append(c);
            }
        }

        Object unquoted() {
            int start = i;
            boolean escaped = false;
            while (true) {
                char c = peek();
                if (c == delimiter || c == '}') {
                    break;
                }
                if (c == '\\') {
                    escaped = true;
                    i++;
                    peek();
                }
                i++;
            }
            if (i == start) {
                throw invalid();
            }
            if (!escaped && i - start == 4 && s.regionMatches(true, start, "NULL", 0, 4)) {
                return null;
            }
            String raw = s.substring(start, i);
            return element.decode(escaped ? unescape(raw) : raw);
        }

        private String unescape(String raw) {
            StringBuilder sb = new StringBuilder(raw.length());
            for (int k = 0; k < raw.length(); k++) {
                char c = raw.charAt(k);
                sb.append(c == '\\' ? raw.charAt(++k) : c);
            }
            return sb.toString();
        }

        char peek() {
            if (i >= s.length()) {
                throw invalid();
            }
            return s.charAt(i);
        }

        void expect(char c) {
            if (peek() != c) {
                throw invalid();
            }
            i++;
        }

        IllegalArgumentException invalid() {
            return new IllegalArgumentException("malformed array at offset " + i + ": " + abbreviate(s));
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
