package io.pgsource.types;

import java.math.BigDecimal;
import java.util.UUID;

/** The decoders of PostgreSQL's built-in types, by OID (built-in OIDs are fixed across versions). */
final class Decoders {
    private Decoders() {
    }

    static final ValueDecoder TEXT = text -> text;
    static final ValueDecoder BOOL = text -> text.equals("t") ? Boolean.TRUE : Boolean.FALSE;
    static final ValueDecoder INT2 = Short::valueOf;
    static final ValueDecoder INT4 = Integer::valueOf;
    static final ValueDecoder INT8 = Long::valueOf;
    /** oid, xid, cid: unsigned 32-bit, so Long. */
    static final ValueDecoder UINT4 = Long::valueOf;
    static final ValueDecoder FLOAT4 = Float::valueOf;
    static final ValueDecoder FLOAT8 = Double::valueOf;
    static final ValueDecoder NUMERIC = Decoders::numeric;
    static final ValueDecoder MONEY = Decoders::money;
    static final ValueDecoder BYTEA = Bytes::fromPgHex;
    static final ValueDecoder UUID_ = UUID::fromString;
    static final ValueDecoder JSON = Json::new;
    static final ValueDecoder DATE = text -> special(text, PgDateTime::parseDate);
    static final ValueDecoder TIME = PgDateTime::parseTime;
    static final ValueDecoder TIMETZ = PgDateTime::parseTimetz;
    static final ValueDecoder TIMESTAMP = text -> special(text, PgDateTime::parseTimestamp);
    static final ValueDecoder TIMESTAMPTZ = text -> special(text, PgDateTime::parseTimestamptz);
    static final ValueDecoder INTERVAL = text -> special(text, Interval::parse);
    static final ValueDecoder HSTORE = Hstore::parse;

    /** The decoder of a built-in scalar type, or null when the OID is not one with a decoder of its own. */
    static ValueDecoder builtin(int oid) {
        return switch (oid) {
            case 16 -> BOOL;
            case 17 -> BYTEA;
            case 20 -> INT8;
            case 21 -> INT2;
            case 23 -> INT4;
            case 26, 28, 29 -> UINT4; // oid, xid, cid
            case 114, 3802 -> JSON; // json, jsonb
            case 700 -> FLOAT4;
            case 701 -> FLOAT8;
            case 790 -> MONEY;
            case 1082 -> DATE;
            case 1083 -> TIME;
            case 1114 -> TIMESTAMP;
            case 1184 -> TIMESTAMPTZ;
            case 1186 -> INTERVAL;
            case 1266 -> TIMETZ;
            case 1700 -> NUMERIC;
            case 2950 -> UUID_;
            // text-like, and int2vector/oidvector whose output is space-separated, not an array literal
            case 18, 19, 22, 25, 30, 142, 1042, 1043 -> TEXT;
            default -> null;
        };
    }

    private static Object numeric(String text) {
        char c = text.charAt(0);
        if (c == 'N' || c == 'I' || (c == '-' && text.length() > 1 && text.charAt(1) == 'I')) {
            Special s = Special.parse(text);
            if (s != null) {
                return s;
            }
        }
        return new BigDecimal(text);
    }

    /** lc_monetary=C prints {@code $1,234.56} and {@code -$1,234.56}; other locales may use parentheses. */
    private static Object money(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        boolean negative = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= '0' && c <= '9' || c == '.') {
                sb.append(c);
            } else if (c == '-' || c == '(') {
                negative = true;
            }
        }
        if (sb.length() == 0) {
            throw new IllegalArgumentException("not a money value: " + text);
        }
        BigDecimal v = new BigDecimal(sb.toString());
        return negative ? v.negate() : v;
    }

    private static Object special(String text, ValueDecoder finite) {
        char c = text.charAt(0);
        if (c == 'i' || c == '-' && text.length() > 1 && text.charAt(1) == 'i') {
            if (text.equals("infinity")) {
                return Special.INFINITY;
            }
            if (text.equals("-infinity")) {
                return Special.NEGATIVE_INFINITY;
            }
        }
        return finite.decode(text);
    }
}
