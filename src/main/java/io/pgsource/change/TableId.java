package io.pgsource.change;

import java.util.Objects;

/** A table's schema and name, exactly as in the catalog (case and characters preserved). */
public record TableId(String schema, String name) implements Comparable<TableId> {

    public TableId {
        Objects.requireNonNull(schema, "schema");
        Objects.requireNonNull(name, "name");
    }

    /** Parses {@code schema.table}; either part may be double-quoted ({@code "My Schema"."a.b"}). */
    public static TableId parse(String qualified) {
        String s = qualified.strip();
        int dot = splitPoint(s);
        if (dot < 0) {
            throw new IllegalArgumentException("'" + qualified + "' is not a schema-qualified table name: write it as schema.table");
        }
        return new TableId(unquote(s.substring(0, dot)), unquote(s.substring(dot + 1)));
    }

    /**
     * Splits a comma-separated list of names at the commas outside double quotes ({@code "a,b".t, c.d} is two items),
     * trimming each item and dropping empty ones.
     */
    public static java.util.List<String> splitList(String list) {
        java.util.List<String> items = new java.util.ArrayList<>();
        if (list == null) {
            return items;
        }
        boolean quoted = false;
        int start = 0;
        for (int i = 0; i <= list.length(); i++) {
            char c = i < list.length() ? list.charAt(i) : ',';
            if (c == '"') {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                String item = list.substring(start, Math.min(i, list.length())).strip();
                if (!item.isEmpty()) {
                    items.add(item);
                }
                start = i + 1;
            }
        }
        return items;
    }

    private static int splitPoint(String s) {
        boolean quoted = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if (c == '.' && !quoted) {
                return i;
            }
        }
        return -1;
    }

    /** A name as written in a list or a qualified name: surrounding double quotes dropped, doubled quotes made single. */
    public static String unquote(String part) {
        String p = part.strip();
        if (p.length() >= 2 && p.startsWith("\"") && p.endsWith("\"")) {
            return p.substring(1, p.length() - 1).replace("\"\"", "\"");
        }
        return p;
    }

    /** A PostgreSQL identifier, always double-quoted so case, spaces, reserved words and quotes survive. */
    public static String quoteIdent(String identifier) {
        if (identifier.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("identifier contains a NUL character");
        }
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    /** {@code "schema"."name"}, safe to put into SQL. */
    public String quoted() {
        return quoteIdent(schema) + "." + quoteIdent(name);
    }

    /** The stream name used for bookmarks and file names: {@code schema.name}. */
    @Override
    public String toString() {
        return schema + "." + name;
    }

    @Override
    public int compareTo(TableId o) {
        int c = schema.compareTo(o.schema);
        return c != 0 ? c : name.compareTo(o.name);
    }
}
