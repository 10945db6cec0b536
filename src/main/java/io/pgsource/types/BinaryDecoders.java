package io.pgsource.types;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.UUID;

/**
 * The binary decoders of PostgreSQL's built-in types, by OID: each reads the type's {@code send} output and makes
 * exactly the canonical value its text decoder ({@link Decoders}) makes of the type's output text under
 * {@link SessionSettings}. Types whose text form is the canonical value (inet, macaddr, bit …) are printed here as
 * PostgreSQL's output function prints them; types that cannot be printed exactly have no decoder here.
 *
 * <p>money is an int64 count of the currency's minor units; it decodes with scale 2, which is what the text output
 * has under lc_monetary=C (and every locale with two fraction digits).
 */
final class BinaryDecoders {
    private BinaryDecoders() {
    }

    /** Days from 1970-01-01 to PostgreSQL's epoch 2000-01-01. */
    private static final long PG_EPOCH_DAY = 10_957L;
    private static final long PG_EPOCH_SECOND = PG_EPOCH_DAY * 86_400L;
    private static final long MICROS_PER_DAY = 86_400_000_000L;

    static final BinaryDecoder TEXT = b -> new String(b, StandardCharsets.UTF_8);
    static final BinaryDecoder BOOL = b -> b[0] != 0 ? Boolean.TRUE : Boolean.FALSE;
    static final BinaryDecoder INT2 = b -> (short) int16(b, 0);
    static final BinaryDecoder INT4 = b -> int32(b, 0);
    static final BinaryDecoder INT8 = b -> int64(b, 0);
    static final BinaryDecoder UINT4 = b -> Integer.toUnsignedLong(int32(b, 0));
    static final BinaryDecoder FLOAT4 = b -> {
        float f = Float.intBitsToFloat(int32(b, 0));
        return Float.isNaN(f) ? Float.NaN : f;
    };
    static final BinaryDecoder FLOAT8 = b -> {
        double d = Double.longBitsToDouble(int64(b, 0));
        return Double.isNaN(d) ? Double.NaN : d;
    };
    static final BinaryDecoder NUMERIC = BinaryDecoders::numeric;
    static final BinaryDecoder MONEY = b -> BigDecimal.valueOf(int64(b, 0), 2);
    static final BinaryDecoder BYTEA = Bytes::of;
    static final BinaryDecoder UUID_ = b -> new UUID(int64(b, 0), int64(b, 8));
    static final BinaryDecoder JSON = b -> new Json(new String(b, StandardCharsets.UTF_8));
    static final BinaryDecoder JSONB = BinaryDecoders::jsonb;
    static final BinaryDecoder CHAR = BinaryDecoders::pgChar;
    static final BinaryDecoder DATE = BinaryDecoders::date;
    static final BinaryDecoder TIME = b -> time(int64(b, 0));
    static final BinaryDecoder TIMETZ = b -> OffsetTime.of(time(int64(b, 0)), ZoneOffset.ofTotalSeconds(-int32(b, 8)));
    static final BinaryDecoder TIMESTAMP = b -> timestamp(int64(b, 0), false);
    static final BinaryDecoder TIMESTAMPTZ = b -> timestamp(int64(b, 0), true);
    static final BinaryDecoder INTERVAL = BinaryDecoders::interval;
    static final BinaryDecoder HSTORE = BinaryDecoders::hstore;
    static final BinaryDecoder XID8 = b -> Long.toUnsignedString(int64(b, 0));
    static final BinaryDecoder PG_LSN = b -> Integer.toHexString(int32(b, 0)).toUpperCase() + "/"
            + Integer.toHexString(int32(b, 4)).toUpperCase();
    static final BinaryDecoder MACADDR = BinaryDecoders::macaddr;
    static final BinaryDecoder BITS = BinaryDecoders::bits;
    static final BinaryDecoder INET = b -> Inet.format(b, false);
    static final BinaryDecoder CIDR = b -> Inet.format(b, true);
    static final BinaryDecoder INT2VECTOR = b -> vector(b, false);
    static final BinaryDecoder OIDVECTOR = b -> vector(b, true);

    /** The binary decoder of a built-in type, or null when the OID is not one with a decoder of its own. */
    static BinaryDecoder builtin(int oid) {
        return switch (oid) {
            case 16 -> BOOL;
            case 17 -> BYTEA;
            case 18 -> CHAR;
            case 20 -> INT8;
            case 21 -> INT2;
            case 22 -> INT2VECTOR;
            case 23 -> INT4;
            case 26, 28, 29 -> UINT4; // oid, xid, cid
            case 30 -> OIDVECTOR;
            case 114 -> JSON;
            case 3802 -> JSONB;
            case 650 -> CIDR;
            case 869 -> INET;
            case 700 -> FLOAT4;
            case 701 -> FLOAT8;
            case 774, 829 -> MACADDR; // macaddr8, macaddr
            case 790 -> MONEY;
            case 1082 -> DATE;
            case 1083 -> TIME;
            case 1114 -> TIMESTAMP;
            case 1184 -> TIMESTAMPTZ;
            case 1186 -> INTERVAL;
            case 1266 -> TIMETZ;
            case 1560, 1562 -> BITS; // bit, varbit
            case 1700 -> NUMERIC;
            case 2950 -> UUID_;
            case 3220 -> PG_LSN;
            case 5069 -> XID8;
            case 19, 25, 142, 1042, 1043 -> TEXT; // name, text, xml, char(n), varchar: send their text
            default -> null;
        };
    }

    /** A decoder that fails, naming the type: for types with no exact binary decoder. */
    static BinaryDecoder unsupported(String typeName) {
        return new Unsupported(typeName);
    }

    /** The decoder of a type with no exact binary decoder: fails, naming the type. */
    record Unsupported(String typeName) implements BinaryDecoder {
        @Override
        public Object decode(byte[] bytes) {
            throw new UnsupportedBinaryTypeException(typeName);
        }
    }

    /** Whether the decoder decodes every value (not {@link Unsupported}, nor an array of such elements). */
    static boolean exact(BinaryDecoder d) {
        return !(d instanceof Unsupported) && (!(d instanceof BinaryArrayDecoder a) || exact(a.element()));
    }

    // ---------------------------------------------------------------- numbers

    private static final BigInteger[] POW10000 = {BigInteger.ONE, BigInteger.valueOf(10_000), BigInteger.valueOf(100_000_000),
            BigInteger.valueOf(1_000_000_000_000L), BigInteger.valueOf(10_000_000_000_000_000L)};

    /** numeric_send: ndigits, weight, sign, dscale (int16 each), then ndigits base-10000 digits, most significant first. */
    private static Object numeric(byte[] b) {
        int ndigits = int16(b, 0) & 0xffff;
        int weight = (short) int16(b, 2);
        int sign = int16(b, 4) & 0xffff;
        int dscale = int16(b, 6) & 0xffff;
        switch (sign) {
            case 0x0000, 0x4000 -> {
            }
            case 0xC000 -> {
                return Special.NAN;
            }
            case 0xD000 -> {
                return Special.INFINITY;
            }
            case 0xF000 -> {
                return Special.NEGATIVE_INFINITY;
            }
            default -> throw new IllegalArgumentException("numeric with an invalid sign 0x" + Integer.toHexString(sign));
        }
        if (ndigits == 0) {
            return BigDecimal.valueOf(0, dscale);
        }
        BigInteger big = null;
        long chunk = 0;
        int inChunk = 0;
        for (int i = 0; i < ndigits; i++) {
            chunk = chunk * 10_000 + int16(b, 8 + 2 * i);
            if (++inChunk == 4) {
                big = big == null ? BigInteger.valueOf(chunk) : big.multiply(POW10000[4]).add(BigInteger.valueOf(chunk));
                chunk = 0;
                inChunk = 0;
            }
        }
        BigDecimal v;
        int scale = 4 * (ndigits - 1 - weight);
        if (big == null) {
            v = BigDecimal.valueOf(chunk, scale);
        } else {
            if (inChunk > 0) {
                big = big.multiply(POW10000[inChunk]).add(BigInteger.valueOf(chunk));
            }
            v = new BigDecimal(big, scale);
        }
        // numeric_out prints exactly dscale fraction digits; the stored digits beyond it are zeros
        v = v.setScale(dscale, RoundingMode.UNNECESSARY);
        return sign == 0x4000 ? v.negate() : v;
    }

    // ---------------------------------------------------------------- text-like

    private static Object jsonb(byte[] b) {
        if (b.length == 0 || b[0] != 1) {
            throw new IllegalArgumentException("jsonb binary format version " + (b.length == 0 ? "missing" : b[0]) + " is not 1");
        }
        return new Json(new String(b, 1, b.length - 1, StandardCharsets.UTF_8));
    }

    /** charout: NUL is empty, a high-bit byte is {@code \ooo} (PostgreSQL 15+), any other byte itself. */
    private static Object pgChar(byte[] b) {
        if (b.length == 0 || b[0] == 0) {
            return "";
        }
        int c = b[0] & 0xff;
        if (c >= 0x80) {
            return "\\" + (char) ('0' + (c >> 6)) + (char) ('0' + ((c >> 3) & 7)) + (char) ('0' + (c & 7));
        }
        return String.valueOf((char) c);
    }

    private static Object macaddr(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 3);
        for (int i = 0; i < b.length; i++) {
            if (i > 0) {
                sb.append(':');
            }
            sb.append(Character.forDigit((b[i] >> 4) & 0xf, 16)).append(Character.forDigit(b[i] & 0xf, 16));
        }
        return sb.toString();
    }

    /** bit_send / varbit_send: int32 bit length, then the bits, most significant first. */
    private static Object bits(byte[] b) {
        int n = int32(b, 0);
        char[] out = new char[n];
        for (int i = 0; i < n; i++) {
            out[i] = (b[4 + (i >> 3)] & (0x80 >> (i & 7))) != 0 ? '1' : '0';
        }
        return new String(out);
    }

    /** int2vector and oidvector are sent as one-dimensional arrays and printed space-separated. */
    private static Object vector(byte[] b, boolean unsigned) {
        int ndim = int32(b, 0);
        if (ndim == 0) {
            return "";
        }
        int n = int32(b, 12);
        StringBuilder sb = new StringBuilder(n * 4);
        int at = 20;
        for (int i = 0; i < n; i++) {
            int len = int32(b, at);
            at += 4;
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(unsigned ? Integer.toUnsignedString(int32(b, at)) : Short.toString((short) int16(b, at)));
            at += len;
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------- dates and times

    private static Object date(byte[] b) {
        int days = int32(b, 0);
        if (days == Integer.MIN_VALUE) {
            return Special.NEGATIVE_INFINITY;
        }
        if (days == Integer.MAX_VALUE) {
            return Special.INFINITY;
        }
        return LocalDate.ofEpochDay(PG_EPOCH_DAY + days);
    }

    /** 24:00:00 is LocalTime.MAX, as in the text decoder. */
    private static LocalTime time(long micros) {
        return micros == MICROS_PER_DAY ? LocalTime.MAX : LocalTime.ofNanoOfDay(micros * 1000);
    }

    private static Object timestamp(long micros, boolean utc) {
        if (micros == Long.MIN_VALUE) {
            return Special.NEGATIVE_INFINITY;
        }
        if (micros == Long.MAX_VALUE) {
            return Special.INFINITY;
        }
        long seconds = Math.floorDiv(micros, 1_000_000L);
        int nanos = (int) Math.floorMod(micros, 1_000_000L) * 1000;
        LocalDateTime t = LocalDateTime.ofEpochSecond(PG_EPOCH_SECOND + seconds, nanos, ZoneOffset.UTC);
        return utc ? OffsetDateTime.of(t, ZoneOffset.UTC) : t;
    }

    /** interval_send: int64 microseconds, int32 days, int32 months; all at their extreme is ±infinity (PostgreSQL 17). */
    private static Object interval(byte[] b) {
        long micros = int64(b, 0);
        int days = int32(b, 8);
        int months = int32(b, 12);
        if (micros == Long.MAX_VALUE && days == Integer.MAX_VALUE && months == Integer.MAX_VALUE) {
            return Special.INFINITY;
        }
        if (micros == Long.MIN_VALUE && days == Integer.MIN_VALUE && months == Integer.MIN_VALUE) {
            return Special.NEGATIVE_INFINITY;
        }
        return new Interval(months, days, micros);
    }

    // ---------------------------------------------------------------- hstore

    /** hstore_send: int32 count, then per pair int32 key length, key, int32 value length (-1 for NULL), value. */
    private static Object hstore(byte[] b) {
        int n = int32(b, 0);
        LinkedHashMap<String, String> map = new LinkedHashMap<>(Math.max(4, n * 2));
        int at = 4;
        for (int i = 0; i < n; i++) {
            int keyLength = int32(b, at);
            String key = new String(b, at + 4, keyLength, StandardCharsets.UTF_8);
            at += 4 + keyLength;
            int valueLength = int32(b, at);
            at += 4;
            String value = null;
            if (valueLength >= 0) {
                value = new String(b, at, valueLength, StandardCharsets.UTF_8);
                at += valueLength;
            }
            map.put(key, value);
        }
        return Collections.unmodifiableMap(map);
    }

    // ---------------------------------------------------------------- network byte order

    static int int16(byte[] b, int at) {
        return (short) (((b[at] & 0xff) << 8) | (b[at + 1] & 0xff));
    }

    static int int32(byte[] b, int at) {
        return Bytes.int32(b, at);
    }

    static long int64(byte[] b, int at) {
        return ((long) int32(b, at) << 32) | (int32(b, at + 4) & 0xffffffffL);
    }

    /** inet_send: family (2 IPv4, 3 IPv6), mask bits, is_cidr, address length, address; printed as network_out does. */
    private static final class Inet {
        static String format(byte[] b, boolean cidr) {
            int family = b[0];
            int bits = b[1] & 0xff;
            int length = b[3] & 0xff;
            StringBuilder sb = new StringBuilder(48);
            if (family == 2 && length == 4) {
                for (int i = 0; i < 4; i++) {
                    if (i > 0) {
                        sb.append('.');
                    }
                    sb.append(b[4 + i] & 0xff);
                }
                if (bits != 32 || cidr) {
                    sb.append('/').append(bits);
                }
            } else if (family == 3 && length == 16) {
                ipv6(sb, b, 4);
                if (bits != 128 || cidr) {
                    sb.append('/').append(bits);
                }
            } else {
                throw new IllegalArgumentException("inet with an unknown address family " + family);
            }
            return sb.toString();
        }

        /** PostgreSQL's inet_net_ntop_ipv6 (from BIND): the longest run of two or more zero words becomes "::". */
        private static void ipv6(StringBuilder sb, byte[] b, int at) {
            int[] words = new int[8];
            for (int i = 0; i < 8; i++) {
                words[i] = ((b[at + 2 * i] & 0xff) << 8) | (b[at + 2 * i + 1] & 0xff);
            }
            int bestBase = -1;
            int bestLen = 0;
            int curBase = -1;
            int curLen = 0;
            for (int i = 0; i < 8; i++) {
                if (words[i] == 0) {
                    if (curBase == -1) {
                        curBase = i;
                        curLen = 1;
                    } else {
                        curLen++;
                    }
                } else if (curBase != -1) {
                    if (bestBase == -1 || curLen > bestLen) {
                        bestBase = curBase;
                        bestLen = curLen;
                    }
                    curBase = -1;
                }
            }
            if (curBase != -1 && (bestBase == -1 || curLen > bestLen)) {
                bestBase = curBase;
                bestLen = curLen;
            }
            if (bestBase != -1 && bestLen < 2) {
                bestBase = -1;
            }
            for (int i = 0; i < 8; i++) {
                if (bestBase != -1 && i >= bestBase && i < bestBase + bestLen) {
                    if (i == bestBase) {
                        sb.append(':');
                    }
                    continue;
                }
                if (i != 0) {
                    sb.append(':');
                }
                if (i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 7 && words[7] != 0x0001)
                        || (bestLen == 5 && words[5] == 0xffff))) {
                    sb.append(b[at + 12] & 0xff).append('.').append(b[at + 13] & 0xff).append('.')
                            .append(b[at + 14] & 0xff).append('.').append(b[at + 15] & 0xff);
                    return; // the embedded IPv4 address ends it
                }
                sb.append(Integer.toHexString(words[i]));
            }
            if (bestBase != -1 && bestBase + bestLen == 8) {
                sb.append(':');
            }
        }
    }
}
