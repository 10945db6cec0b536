package io.pgsource.verify;

import io.pgsource.change.TableId;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The SQL of one side of a comparison: how a value becomes the canonical text both sides hash, how keys are ordered
 * and compared, how a range's count and checksum are computed on the server. Parameters are Camel jdbc named
 * parameters ({@code :?name}), bound from the exchange's parameter map.
 *
 * <p>The canonical text of a row is its columns' canonical texts in order, each as {@code length:text}, or {@code N}
 * for NULL, joined by {@code |}: unambiguous, and the same bytes on both sides when each value's text is. A range's
 * checksum is the number of its rows and the sum of the first 60 bits of each row text's MD5, an order-independent
 * sum both servers compute exactly (PostgreSQL in numeric, MySQL in DECIMAL).
 */
abstract class Dialect {
    /** Key types whose order is the same on both sides and whose index a range predicate on the column itself can use. */
    private static final Set<String> ORDERED = Set.of("smallint", "integer", "bigint", "numeric", "uuid", "date",
            "timestamp without time zone", "timestamp with time zone", "oid");

    /** A table at one side: its name, the columns compared with their types there, the key columns, a filter or null. */
    record Table(String quotedName, List<Col> columns, List<Col> key, String filter) {
    }

    /**
     * A column at one side.
     *
     * @param read      what reads it (its quoted name, or the source's read expression)
     * @param type      its type at this side ({@code format_type}, or MySQL's column type)
     * @param pgType    the source's type ({@code format_type} of its base type), which decides the canonical text
     */
    record Col(String name, String read, String type, String pgType) {
        /** Whether keys of this column are ordered by their value (else by their canonical text, byte-wise). */
        boolean ordered() {
            return ORDERED.contains(plain(pgType));
        }
    }

    static String plain(String type) {
        return type.replaceAll("\\([^)]*\\)", "").replaceAll("\\s+", " ").strip().toLowerCase(Locale.ROOT);
    }

    /** The canonical text of a column's value (NULL for NULL). */
    abstract String text(Col c);

    /** The expression of a row's canonical text. */
    abstract String rowText(Table t);

    /** {@code SELECT} count and checksum (columns {@code n} and {@code h}, as text) of the rows of a range. */
    abstract String checksum(Table t, String where);

    /** A row's MD5 hex of its canonical text. */
    abstract String md5(String text);

    /** What a key column is ordered and compared by, and the parameter it is compared with. */
    abstract String keyExpr(Col c);

    abstract String keyParam(Col c, String param);

    /** A key column's canonical text, as keys are reported and passed between the sides. */
    String keyText(Col c) {
        return text(c);
    }

    /** {@code (a, b) > (x, y)}. */
    String rowCompare(List<Col> key, String op, String prefix) {
        StringBuilder l = new StringBuilder("(");
        StringBuilder r = new StringBuilder("(");
        for (int i = 0; i < key.size(); i++) {
            l.append(i == 0 ? "" : ", ").append(keyExpr(key.get(i)));
            r.append(i == 0 ? "" : ", ").append(keyParam(key.get(i), prefix + i));
        }
        return l + ") " + op + " " + r + ")";
    }

    /** The key columns' equality with one of a list of keys, each {@code prefix<n>_<i>}. */
    String keyIn(List<Col> key, int keys, String prefix) {
        StringBuilder sql = new StringBuilder("(");
        for (int i = 0; i < key.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append(keyExpr(key.get(i)));
        }
        sql.append(") IN (");
        for (int k = 0; k < keys; k++) {
            sql.append(k == 0 ? "(" : ", (");
            for (int i = 0; i < key.size(); i++) {
                sql.append(i == 0 ? "" : ", ").append(keyParam(key.get(i), prefix + k + "_" + i));
            }
            sql.append(')');
        }
        return sql.append(')').toString();
    }

    /** {@code ORDER BY} of the key. */
    String keyOrder(List<Col> key) {
        StringBuilder sql = new StringBuilder();
        for (int i = 0; i < key.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append(keyExpr(key.get(i)));
        }
        return sql.toString();
    }

    /** Selects the key's canonical texts as {@code k0, k1, ...}. */
    String keySelect(List<Col> key) {
        StringBuilder sql = new StringBuilder();
        for (int i = 0; i < key.size(); i++) {
            sql.append(i == 0 ? "" : ", ").append(keyText(key.get(i))).append(" AS k").append(i);
        }
        return sql.toString();
    }

    /** The rows of a range or key list: their keys ({@code k0...}) and the MD5 of their canonical text ({@code h}). */
    String rows(Table t, String where) {
        return "SELECT " + keySelect(t.key()) + ", " + md5(rowText(t)) + " AS h FROM " + t.quotedName() + where(t, where)
                + " ORDER BY " + keyOrder(t.key());
    }

    static String where(Table t, String where) {
        String w = t.filter() == null ? where : where == null ? "(" + t.filter() + ")" : "(" + t.filter() + ") AND " + where;
        return w == null ? "" : " WHERE " + w;
    }

    /** PostgreSQL, as the source and as the postgres destination: the same type on both sides prints the same text. */
    static final class Postgres extends Dialect {
        @Override
        String text(Col c) {
            return "(" + c.read() + ")::text";
        }

        @Override
        String rowText(Table t) {
            StringBuilder sql = new StringBuilder();
            for (Col c : t.columns()) {
                String v = text(c);
                sql.append(sql.length() == 0 ? "" : " || '|' || ").append("coalesce(length(").append(v).append(") || ':' || ").append(v)
                        .append(", 'N')");
            }
            return sql.toString();
        }

        @Override
        String checksum(Table t, String where) {
            return "SELECT count(*)::text AS n, coalesce(sum(('x' || substr(" + md5(rowText(t)) + ", 1, 15))::bit(60)::bigint), 0)::text"
                    + " AS h FROM " + t.quotedName() + where(t, where);
        }

        @Override
        String md5(String text) {
            return "md5(" + text + ")";
        }

        @Override
        String keyExpr(Col c) {
            return c.ordered() ? c.read() : "((" + c.read() + ")::text COLLATE \"C\")";
        }

        @Override
        String keyParam(Col c, String param) {
            return c.ordered() ? "CAST(:?" + param + " AS " + c.type() + ")" : "(CAST(:?" + param + " AS text) COLLATE \"C\")";
        }
    }

    static String quote(TableId t) {
        return t.quoted();
    }
}
