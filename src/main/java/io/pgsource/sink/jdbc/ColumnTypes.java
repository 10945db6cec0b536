package io.pgsource.sink.jdbc;

import java.util.List;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether a destination column of one type can take the values of a source column of another, when the source
 * changed a column's type. Types are compared as {@code format_type} prints them. Only a few widenings are known;
 * anything else is incompatible, never converted silently:
 * <ul>
 * <li>{@code smallint} → {@code integer} → {@code bigint}, and any of them → unconstrained {@code numeric};</li>
 * <li>{@code numeric(p,s)} → {@code numeric(q,t)} with {@code t >= s} and {@code q - t >= p - s}, or → {@code numeric};</li>
 * <li>{@code character varying(n)} → {@code character varying(m >= n)}, {@code character varying} or {@code text};</li>
 * <li>{@code real} → {@code double precision};</li>
 * <li>a time, timestamp or interval precision → a larger one or none;</li>
 * <li>the same for arrays of them, of the same dimensions.</li>
 * </ul>
 */
final class ColumnTypes {
    /** {@code name}, an optional {@code (modifiers)} possibly followed by more words, then array brackets. */
    private static final Pattern TYPE = Pattern.compile("(?<head>[^(\\[]*?)\\s*(?:\\((?<mods>[0-9,\\s]*)\\))?(?<tail>[^(\\[]*?)\\s*(?<dims>(?:\\[\\])*)");
    private static final List<String> INTEGERS = List.of("smallint", "integer", "bigint");
    private static final List<String> PRECISION_TYPES = List.of("time without time zone", "time with time zone",
            "timestamp without time zone", "timestamp with time zone", "interval");

    /** What the destination has to do for a source column whose type is now {@code wanted}. */
    enum Fit {
        /** Nothing: the same type, or a wider one that holds every value of the new type. */
        HOLDS,
        /** The destination column can be widened to the new type without losing a value: ALTER it. */
        WIDEN,
        /** The destination column cannot hold the new type's values. */
        INCOMPATIBLE
    }

    private ColumnTypes() {
    }

    static Fit fit(String current, String wanted) {
        Type from = parse(current);
        Type to = parse(wanted);
        if (from == null || to == null) {
            return Fit.INCOMPATIBLE;
        }
        if (from.equals(to)) {
            return Fit.HOLDS;
        }
        if (widens(to, from)) {
            return Fit.HOLDS;
        }
        return widens(from, to) ? Fit.WIDEN : Fit.INCOMPATIBLE;
    }

    /** Whether every value of {@code narrow} fits {@code wide} unchanged (and an implicit cast exists). */
    private static boolean widens(Type narrow, Type wide) {
        if (narrow.dims != wide.dims) {
            return false;
        }
        if (narrow.equals(wide)) {
            return true;
        }
        String a = narrow.name;
        String b = wide.name;
        if (INTEGERS.contains(a) && INTEGERS.contains(b)) {
            return INTEGERS.indexOf(a) <= INTEGERS.indexOf(b);
        }
        if (INTEGERS.contains(a) && b.equals("numeric")) {
            return wide.mods.length == 0;
        }
        if (a.equals("numeric") && b.equals("numeric")) {
            if (wide.mods.length == 0) {
                return true;
            }
            if (narrow.mods.length == 0) {
                return false;
            }
            int p = narrow.mods[0];
            int s = narrow.mods.length > 1 ? narrow.mods[1] : 0;
            int q = wide.mods[0];
            int t = wide.mods.length > 1 ? wide.mods[1] : 0;
            return t >= s && q - t >= p - s;
        }
        if (a.equals("character varying") && b.equals("text")) {
            return true;
        }
        if (a.equals("character varying") && b.equals("character varying")) {
            return wide.mods.length == 0 || (narrow.mods.length > 0 && narrow.mods[0] <= wide.mods[0]);
        }
        if (a.equals("real") && b.equals("double precision")) {
            return true;
        }
        if (a.equals(b) && PRECISION_TYPES.contains(a)) {
            // no precision means the maximum (6)
            return wide.mods.length == 0 || (narrow.mods.length > 0 && narrow.mods[0] <= wide.mods[0]);
        }
        return false;
    }

    private record Type(String name, int[] mods, int dims) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Type t && name.equals(t.name) && Arrays.equals(mods, t.mods) && dims == t.dims;
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Arrays.hashCode(mods) + dims;
        }
    }

    /**
     * {@code timestamp(3) with time zone[]} → name {@code timestamp with time zone}, modifiers [3], 1 dimension. A
     * schema qualification is dropped (an extension type may live in another schema at the destination). Null for
     * what does not look like a type.
     */
    private static Type parse(String type) {
        Matcher m = TYPE.matcher(type.strip());
        if (!m.matches()) {
            return null;
        }
        String name = (m.group("head") + " " + m.group("tail")).strip().replaceAll("\\s+", " ");
        name = unqualified(name);
        String mods = m.group("mods");
        int[] values = mods == null || mods.isBlank() ? new int[0]
                : Arrays.stream(mods.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
        return new Type(name, values, m.group("dims").length() / 2);
    }

    private static String unqualified(String name) {
        boolean quoted = false;
        int dot = -1;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if (c == '.' && !quoted) {
                dot = i;
            }
        }
        String n = dot < 0 ? name : name.substring(dot + 1);
        return n.length() >= 2 && n.startsWith("\"") && n.endsWith("\"") ? n.substring(1, n.length() - 1) : n;
    }
}
