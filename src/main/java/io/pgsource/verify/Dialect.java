package io.pgsource.verify;

import io.pgsource.change.TableId;
import io.pgsource.sink.mysql.MySqlTypes.Kind;
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
     * @param type      its type at this side ({@code format_type}, or MySQL's data type)
     * @param pgType    the source's type ({@code format_type} of its base type), which decides the canonical text
     * @param destType  the destination's type of it ({@code format_type}, or MySQL's data type)
     */
    record Col(String name, String read, String type, String pgType, String destType) {
    }

    /** Whether keys of this column are ordered by their value on both sides (else by their canonical text, byte-wise). */
    boolean ordered(Col c) {
        return ORDERED.contains(plain(c.pgType()));
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
    static class Postgres extends Dialect {
        @Override
        String text(Col c) {
            return "(" + c.read() + ")::text";
        }

        @Override
        String rowText(Table t) {
            StringBuilder sql = new StringBuilder();
            for (Col c : t.columns()) {
                String v = text(c);
                if (v == null) {
                    continue;
                }
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
            return ordered(c) ? c.read() : "(" + keyText(c) + " COLLATE \"C\")";
        }

        @Override
        String keyParam(Col c, String param) {
            return ordered(c) ? "CAST(:?" + param + " AS " + c.type() + ")" : "(CAST(:?" + param + " AS text) COLLATE \"C\")";
        }
    }

    /**
     * The canonical text of a PostgreSQL value held in a MySQL column of a kind (the mysql destination's type mapping),
     * as both servers print it: integers and DECIMAL as PostgreSQL prints them (same scale), boolean as 1/0, dates and
     * times as {@code YYYY-MM-DD HH:MM:SS.ffffff} (timestamptz in UTC; infinity as the destination's largest and smallest
     * values), bytea as lower-case hex, any value in a text column as PostgreSQL's text form (char(n) with its padding).
     * Left out (null): real and double precision (the servers print one double differently, 1e+20 and 1e20) and money.
     */
    static String pgTextForMySql(Col c, String v) {
        String pg = plain(c.pgType());
        Kind kind = Kind.of(c.destType());
        if (pg.equals("money") || (kind == Kind.FLOAT && !c.pgType().endsWith("]"))) {
            return null;
        }
        return switch (kind) {
            case TEXT -> pg.equals("character") || pg.equals("bpchar") ? "CASE WHEN " + v + " IS NOT NULL THEN format('%s', " + v + ") END"
                    : "(" + v + ")::text";
            case INTEGER -> pg.equals("boolean") ? "CASE WHEN " + v + " THEN '1' WHEN NOT " + v + " THEN '0' END" : "(" + v + ")::text";
            case DATE -> "CASE WHEN " + v + " = 'infinity' THEN '9999-12-31' WHEN " + v + " = '-infinity' THEN '0001-01-01' ELSE to_char("
                    + v + ", 'YYYY-MM-DD') END";
            case DATETIME -> "CASE WHEN " + v + " = 'infinity' THEN '9999-12-31 23:59:59.999999' WHEN " + v + " = '-infinity' THEN"
                    + " '0001-01-01 00:00:00.000000' ELSE to_char(" + (pg.equals("timestamp with time zone") ? v + " AT TIME ZONE 'UTC'" : v)
                    + ", 'YYYY-MM-DD HH24:MI:SS.US') END";
            case TIME -> "to_char(" + v + ", 'HH24:MI:SS.US')";
            case BINARY -> "encode(" + v + ", 'hex')";
            default -> "(" + v + ")::text";
        };
    }

    /** Whether a key column of this source type and MySQL kind orders the same by value on both sides. */
    static boolean orderedForMySql(Col c) {
        Kind kind = Kind.of(c.destType());
        String pg = plain(c.pgType());
        return ORDERED.contains(pg) && !pg.equals("uuid") && (kind == Kind.INTEGER || kind == Kind.DECIMAL || kind == Kind.DATE
                || kind == Kind.DATETIME);
    }

    /**
     * PostgreSQL as the source of a mysql destination: the canonical texts of the mysql destination's type mapping; the
     * row text, checksum and hash are PostgreSQL's.
     */
    static final class PostgresForMySql extends Postgres {
        @Override
        boolean ordered(Col c) {
            return orderedForMySql(c);
        }

        @Override
        String text(Col c) {
            return pgTextForMySql(c, c.read());
        }

        @Override
        String keyExpr(Col c) {
            return ordered(c) ? c.read() : "(" + text(c) + " COLLATE \"C\")";
        }

        @Override
        String keyParam(Col c, String param) {
            if (!ordered(c)) {
                return "(CAST(:?" + param + " AS text) COLLATE \"C\")";
            }
            // the canonical text of a timestamptz is its UTC time, without an offset
            return plain(c.pgType()).equals("timestamp with time zone") ? "(CAST(:?" + param + " AS timestamp) AT TIME ZONE 'UTC')"
                    : "CAST(:?" + param + " AS " + c.type() + ")";
        }
    }

    /** MySQL or MariaDB as the mysql destination: its tables' utf8mb4 binary collation orders text as PostgreSQL's "C". */
    static final class MySql extends Dialect {
        @Override
        boolean ordered(Col c) {
            return orderedForMySql(c);
        }

        @Override
        String text(Col c) {
            if (pgTextForMySql(c, "x") == null) {
                return null;
            }
            String v = c.read();
            return switch (Kind.of(c.destType())) {
                case TEXT -> "CONVERT(" + v + " USING utf8mb4)";
                case DATE -> "DATE_FORMAT(" + v + ", '%Y-%m-%d')";
                case DATETIME -> "DATE_FORMAT(" + v + ", '%Y-%m-%d %H:%i:%s.%f')";
                case TIME -> "TIME_FORMAT(" + v + ", '%H:%i:%s.%f')";
                case BINARY -> "LOWER(HEX(" + v + "))";
                default -> "CAST(" + v + " AS CHAR)";
            };
        }

        @Override
        String rowText(Table t) {
            StringBuilder sql = new StringBuilder("CONCAT_WS('|'");
            for (Col c : t.columns()) {
                String v = text(c);
                if (v != null) {
                    sql.append(", COALESCE(CONCAT(CHAR_LENGTH(").append(v).append("), ':', ").append(v).append("), 'N')");
                }
            }
            return "CONVERT(" + sql.append(')') + " USING utf8mb4)";
        }

        @Override
        String checksum(Table t, String where) {
            return "SELECT CAST(COUNT(*) AS CHAR) AS n, CAST(COALESCE(SUM(CAST(CONV(SUBSTR(" + md5(rowText(t)) + ", 1, 15), 16, 10) AS UNSIGNED)),"
                    + " 0) AS CHAR) AS h FROM " + t.quotedName() + where(t, where);
        }

        @Override
        String md5(String text) {
            return "MD5(" + text + ")";
        }

        @Override
        String keyExpr(Col c) {
            return c.read();
        }

        @Override
        String keyParam(Col c, String param) {
            return switch (Kind.of(c.destType())) {
                case BINARY -> "UNHEX(:?" + param + ")";
                case INTEGER -> "CAST(:?" + param + " AS SIGNED)";
                case DECIMAL -> "CAST(:?" + param + " AS DECIMAL(65,30))";
                default -> ":?" + param;
            };
        }
    }

    static String quote(TableId t) {
        return t.quoted();
    }
}
