package io.pgsource.sink.mysql;

import io.pgsource.change.Column;
import io.pgsource.types.Bytes;
import io.pgsource.types.PgText;
import io.pgsource.types.Special;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PostgreSQL column types → MySQL/MariaDB column types, and canonical values → what a MySQL column of a given kind
 * takes. The rule: each column gets the MySQL type that holds every value of the source type exactly; where none does
 * (numeric beyond DECIMAL(65,30), arrays, ranges, intervals, timetz, json, network and geometric types …) a text column
 * holding PostgreSQL's own text form (intervals in ISO 8601), which PostgreSQL reads back as the same value.
 *
 * <p>The few values outside an otherwise fitting type have a fixed representation or are refused, never changed
 * silently: date and timestamp {@code infinity} / {@code -infinity} become the largest / smallest value MySQL holds
 * ({@value #DATE_INFINITY}, {@value #DATE_MINUS_INFINITY} and those days' last / first microsecond); a date before year 1
 * (BC) or after 9999, and NaN or ±Infinity in a FLOAT, DOUBLE or DECIMAL column, stop the batch with a
 * {@link ValueNotHeldException} naming the column and the fix (declare that column as text at the destination: every
 * text column receives PostgreSQL's text form).
 */
public final class MySqlTypes {
    static final String DATE_INFINITY = "9999-12-31";
    static final String DATE_MINUS_INFINITY = "0001-01-01";
    private static final String DATETIME_INFINITY = DATE_INFINITY + " 23:59:59.999999";
    private static final String DATETIME_MINUS_INFINITY = DATE_MINUS_INFINITY + " 00:00:00";
    /** Characters a text column in the primary key gets: InnoDB indexes 3072 bytes, utf8mb4 takes 4 a character. */
    static final int KEY_CHARACTERS = 768;
    private static final Pattern NUMERIC = Pattern.compile("numeric\\((\\d+)(?:,\\s*(\\d+))?\\)");
    private static final Pattern VARCHAR = Pattern.compile("(?:character varying|character|bpchar)\\((\\d+)\\)");

    /** How a destination column takes values: decides the form a value is bound in (and how verify reads it back). */
    public enum Kind {
        TEXT, BINARY, BOOLEAN, INTEGER, DECIMAL, FLOAT, DATE, DATETIME, TIME, OTHER;

        /** The kind of an existing column, from information_schema's DATA_TYPE. */
        public static Kind of(String dataType) {
            return switch (dataType.toLowerCase(Locale.ROOT)) {
                case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set" -> TEXT;
                case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob" -> BINARY;
                case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "bit", "year" -> INTEGER;
                case "decimal", "numeric" -> DECIMAL;
                case "float", "double", "real" -> FLOAT;
                case "date" -> DATE;
                case "datetime", "timestamp" -> DATETIME;
                case "time" -> TIME;
                default -> OTHER; // json (MySQL), geometry …: the server converts PostgreSQL's text form or refuses it
            };
        }
    }

    private MySqlTypes() {
    }

    /**
     * The MySQL type of a source column.
     *
     * @param keyCharacters for a column of the primary key, how many characters a text key column may have (InnoDB
     *                      cannot index LONGTEXT); 0 for other columns
     */
    static String columnType(Column column, int keyCharacters) {
        String pg = (column.baseTypeName() != null && !column.baseTypeName().isBlank() ? column.baseTypeName() : column.typeName())
                .strip().toLowerCase(Locale.ROOT);
        if (pg.endsWith("]")) {
            return text(keyCharacters);
        }
        switch (pg) {
            case "boolean":
                return "BOOLEAN";
            case "smallint":
                return "SMALLINT";
            case "integer":
                return "INT";
            case "bigint", "oid", "xid", "cid":
                return "BIGINT";
            case "real":
                return "FLOAT";
            case "double precision":
                return "DOUBLE";
            case "money":
                return "DECIMAL(65,30)";
            case "date":
                return "DATE";
            case "time without time zone":
                return "TIME(6)";
            case "uuid":
                return "CHAR(36)";
            case "bytea":
                return keyCharacters > 0 ? "VARBINARY(" + keyCharacters * 4 + ")" : "LONGBLOB";
            default:
                break;
        }
        if (pg.startsWith("timestamp")) {
            return "DATETIME(6)"; // with time zone: in UTC
        }
        Matcher n = NUMERIC.matcher(pg);
        if (n.matches()) {
            int precision = Integer.parseInt(n.group(1));
            int scale = n.group(2) == null ? 0 : Integer.parseInt(n.group(2));
            if (precision <= 65 && scale >= 0 && scale <= 30 && scale <= precision) {
                return "DECIMAL(" + precision + "," + scale + ")";
            }
            return text(keyCharacters);
        }
        Matcher v = VARCHAR.matcher(pg);
        if (v.matches()) {
            int length = Integer.parseInt(v.group(1));
            if (keyCharacters > 0) {
                return "VARCHAR(" + Math.min(length, keyCharacters) + ")";
            }
            return length <= 255 ? "VARCHAR(" + length + ")" : "LONGTEXT";
        }
        return text(keyCharacters);
    }

    private static String text(int keyCharacters) {
        return keyCharacters > 0 ? "VARCHAR(" + keyCharacters + ")" : "LONGTEXT";
    }

    /**
     * The value as a column of this kind takes it: a String, a Number, a Boolean or a byte[]; null for NULL.
     *
     * @param table  the quoted destination table, and {@code column} the column's name, for the message
     * @throws ValueNotHeldException when the column cannot hold it (see the class comment)
     */
    static Object value(Object value, Kind kind, String table, String column) {
        if (value == null) {
            return null;
        }
        switch (kind) {
            case TEXT:
                return PgText.format(value);
            case BINARY:
                if (value instanceof Bytes b) {
                    return b.toByteArray();
                }
                return value instanceof byte[] ? value : PgText.format(value);
            case BOOLEAN, INTEGER, DECIMAL, FLOAT:
                return number(value, kind, table, column);
            case DATE, DATETIME:
                return temporal(value, kind, table, column);
            default:
                return PgText.format(value);
        }
    }

    private static Object number(Object value, Kind kind, String table, String column) {
        if (value instanceof Boolean b) {
            return b ? 1 : 0;
        }
        if (value instanceof Special || value instanceof Double d && !Double.isFinite(d) || value instanceof Float f && !Float.isFinite(f)) {
            throw new ValueNotHeldException(table, column, PgText.format(value), "a " + kind.name() + " column");
        }
        if (value instanceof BigDecimal d) {
            return d.toPlainString();
        }
        return value instanceof Number ? value : PgText.format(value);
    }

    private static Object temporal(Object value, Kind kind, String table, String column) {
        if (value instanceof Special s) {
            return switch (s) {
                case INFINITY -> kind == Kind.DATE ? DATE_INFINITY : DATETIME_INFINITY;
                case NEGATIVE_INFINITY -> kind == Kind.DATE ? DATE_MINUS_INFINITY : DATETIME_MINUS_INFINITY;
                default -> throw new ValueNotHeldException(table, column, s.text(), "a " + kind.name() + " column");
            };
        }
        LocalDate day;
        Object local = value;
        if (value instanceof OffsetDateTime t) {
            local = t.withOffsetSameInstant(ZoneOffset.UTC).toLocalDateTime();
        }
        if (local instanceof LocalDateTime t) {
            day = t.toLocalDate();
        } else if (local instanceof LocalDate d) {
            day = d;
        } else {
            return PgText.format(value);
        }
        if (day.getYear() < 1 || day.getYear() > 9999) {
            throw new ValueNotHeldException(table, column, PgText.format(value), "a " + kind.name() + " column (years 1 to 9999)");
        }
        return PgText.format(local);
    }

    private static final Pattern MYSQL_TYPE = Pattern.compile("([a-z]+)(?:\\((\\d+)(?:,(\\d+))?\\))?(?: unsigned)?");
    private static final List<String> INTEGERS = List.of("smallint", "int", "bigint");

    /**
     * Whether a column of MySQL type {@code current} (as information_schema's COLUMN_TYPE prints it) is widened to
     * {@code wanted} without losing a value: a larger integer, a DECIMAL with room for as many integer and fraction
     * digits, a longer VARCHAR or LONGTEXT, FLOAT to DOUBLE. Anything else is left as it is (a value it cannot hold is
     * refused by the server's strict mode, never changed).
     */
    static boolean widens(String current, String wanted) {
        if (current == null) {
            return false;
        }
        Matcher a = MYSQL_TYPE.matcher(current.strip().toLowerCase(Locale.ROOT));
        Matcher b = MYSQL_TYPE.matcher(wanted.strip().toLowerCase(Locale.ROOT));
        if (!a.matches() || !b.matches() || current.equalsIgnoreCase(wanted)) {
            return false;
        }
        String from = a.group(1);
        String to = b.group(1);
        if (INTEGERS.contains(from) && INTEGERS.contains(to)) {
            return INTEGERS.indexOf(from) < INTEGERS.indexOf(to);
        }
        if (from.equals("decimal") && to.equals("decimal")) {
            int p = Integer.parseInt(a.group(2));
            int s = a.group(3) == null ? 0 : Integer.parseInt(a.group(3));
            int q = Integer.parseInt(b.group(2));
            int t = b.group(3) == null ? 0 : Integer.parseInt(b.group(3));
            return t >= s && q - t >= p - s && (q != p || t != s);
        }
        if (from.equals("varchar")) {
            return to.equals("longtext") || to.equals("varchar") && Integer.parseInt(b.group(2)) > Integer.parseInt(a.group(2));
        }
        return from.equals("float") && to.equals("double");
    }

    /** {@code `name`}: a MySQL identifier, backticks doubled. */
    static String quote(String identifier) {
        return "`" + identifier.replace("`", "``") + "`";
    }
}
