package io.pgsource.types;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;

/**
 * Dates and times between PostgreSQL's ISO text (DateStyle=ISO), java.time, and ISO 8601 for JSON. Hand-written
 * rather than DateTimeFormatter because PostgreSQL's form has a trailing {@code BC}, offsets with optional minutes
 * and seconds, {@code 24:00:00}, and this runs once per value on the hot path.
 *
 * <p>Years: PostgreSQL has no year 0, {@code 0001 BC} is proleptic (astronomical) year 0, {@code 0044 BC} is -43.
 * {@code 24:00:00} (allowed in time and timetz) is {@link LocalTime#MAX}: PostgreSQL's times have microseconds,
 * so 23:59:59.999999999 never comes from PostgreSQL and can stand for it unambiguously.
 */
final class PgDateTime {
    private PgDateTime() {
    }

    // ---------------------------------------------------------------- parsing PostgreSQL output

    static LocalDate parseDate(String s) {
        Cursor c = new Cursor(s);
        LocalDate d = c.date(c.bc());
        c.end();
        return d;
    }

    static LocalDateTime parseTimestamp(String s) {
        Cursor c = new Cursor(s);
        boolean bc = c.bc();
        LocalDate d = c.date(bc);
        c.expect(' ');
        LocalTime t = c.time();
        c.end();
        return t == LocalTime.MAX ? d.plusDays(1).atStartOfDay() : d.atTime(t);
    }

    static OffsetDateTime parseTimestamptz(String s) {
        Cursor c = new Cursor(s);
        boolean bc = c.bc();
        LocalDate d = c.date(bc);
        c.expect(' ');
        LocalTime t = c.time();
        ZoneOffset o = c.offset();
        c.end();
        LocalDateTime ldt = t == LocalTime.MAX ? d.plusDays(1).atStartOfDay() : d.atTime(t);
        OffsetDateTime odt = OffsetDateTime.of(ldt, o);
        return o == ZoneOffset.UTC ? odt : odt.withOffsetSameInstant(ZoneOffset.UTC);
    }

    static LocalTime parseTime(String s) {
        Cursor c = new Cursor(s);
        LocalTime t = c.time();
        c.end();
        return t;
    }

    static OffsetTime parseTimetz(String s) {
        Cursor c = new Cursor(s);
        LocalTime t = c.time();
        ZoneOffset o = c.offset();
        c.end();
        return OffsetTime.of(t, o);
    }

    /** A position in one value's text; {@code end} excludes a trailing " BC". */
    private static final class Cursor {
        final String s;
        int i;
        int end;

        Cursor(String s) {
            this.s = s;
            this.end = s.length();
        }

        boolean bc() {
            if (s.endsWith(" BC")) {
                end -= 3;
                return true;
            }
            return false;
        }

        LocalDate date(boolean bc) {
            int start = i;
            int year = digits(1, 9);
            if (i - start < 4) {
                throw invalid();
            }
            expect('-');
            int month = fixed2();
            expect('-');
            int day = fixed2();
            try {
                return LocalDate.of(bc ? 1 - year : year, month, day);
            } catch (java.time.DateTimeException e) {
                throw new IllegalArgumentException("invalid date: " + s, e);
            }
        }

        LocalTime time() {
            int hour = fixed2();
            expect(':');
            int minute = fixed2();
            expect(':');
            int second = fixed2();
            int nanos = 0;
            if (i < end && s.charAt(i) == '.') {
                i++;
                int start = i;
                int scale = 100_000_000;
                while (i < end && isDigit(s.charAt(i))) {
                    nanos += (s.charAt(i) - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == start || i - start > 9) {
                    throw invalid();
                }
            }
            if (hour == 24 && minute == 0 && second == 0 && nanos == 0) {
                return LocalTime.MAX;
            }
            try {
                return LocalTime.of(hour, minute, second, nanos);
            } catch (java.time.DateTimeException e) {
                throw new IllegalArgumentException("invalid time: " + s, e);
            }
        }

        ZoneOffset offset() {
            if (i >= end) {
                throw invalid();
            }
            char sign = s.charAt(i++);
            if (sign != '+' && sign != '-') {
                throw invalid();
            }
            int h = fixed2();
            int m = 0;
            int sec = 0;
            if (i < end && s.charAt(i) == ':') {
                i++;
                m = fixed2();
                if (i < end && s.charAt(i) == ':') {
                    i++;
                    sec = fixed2();
                }
            }
            if (h == 0 && m == 0 && sec == 0) {
                return ZoneOffset.UTC;
            }
            int total = h * 3600 + m * 60 + sec;
            return ZoneOffset.ofTotalSeconds(sign == '-' ? -total : total);
        }

        int fixed2() {
            int start = i;
            int v = digits(2, 2);
            if (i - start != 2) {
                throw invalid();
            }
            return v;
        }

        int digits(int min, int max) {
            int start = i;
            int v = 0;
            while (i < end && i - start < max && isDigit(s.charAt(i))) {
                v = v * 10 + (s.charAt(i) - '0');
                i++;
            }
            if (i - start < min) {
                throw invalid();
            }
            return v;
        }

        void expect(char ch) {
            if (i >= end || s.charAt(i) != ch) {
                throw invalid();
            }
            i++;
        }

        void end() {
            if (i != end) {
                throw invalid();
            }
        }

        IllegalArgumentException invalid() {
            return new IllegalArgumentException("not PostgreSQL ISO date/time output (DateStyle=ISO): " + s);
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    // ---------------------------------------------------------------- formatting PostgreSQL input

    static String pgDate(LocalDate d) {
        StringBuilder sb = new StringBuilder(16);
        appendPgYearMonthDay(sb, d);
        return bc(sb, d).toString();
    }

    static String pgTimestamp(LocalDateTime t) {
        StringBuilder sb = new StringBuilder(32);
        appendPgYearMonthDay(sb, t.toLocalDate());
        sb.append(' ');
        appendTime(sb, t.toLocalTime());
        return bc(sb, t.toLocalDate()).toString();
    }

    static String pgTimestamptz(OffsetDateTime t) {
        StringBuilder sb = new StringBuilder(40);
        appendPgYearMonthDay(sb, t.toLocalDate());
        sb.append(' ');
        appendTime(sb, t.toLocalTime());
        appendOffset(sb, t.getOffset(), false);
        return bc(sb, t.toLocalDate()).toString();
    }

    static String pgTime(LocalTime t) {
        StringBuilder sb = new StringBuilder(16);
        appendTime(sb, t);
        return sb.toString();
    }

    static String pgTimetz(OffsetTime t) {
        StringBuilder sb = new StringBuilder(24);
        appendTime(sb, t.toLocalTime());
        appendOffset(sb, t.getOffset(), false);
        return sb.toString();
    }

    private static void appendPgYearMonthDay(StringBuilder sb, LocalDate d) {
        int year = d.getYear();
        pad(sb, year <= 0 ? 1 - year : year, 4);
        sb.append('-');
        pad(sb, d.getMonthValue(), 2);
        sb.append('-');
        pad(sb, d.getDayOfMonth(), 2);
    }

    private static StringBuilder bc(StringBuilder sb, LocalDate d) {
        return d.getYear() <= 0 ? sb.append(" BC") : sb;
    }

    // ---------------------------------------------------------------- formatting ISO 8601 (JSON)

    /** {@code 2024-03-15}, {@code -0043-03-15} (44 BC), {@code +10000-01-01}: as {@link LocalDate#toString()}. */
    static String isoDate(LocalDate d) {
        return d.toString();
    }

    /** {@code 2024-03-15T10:15:00.5}: seconds always, fraction trimmed of trailing zeros. */
    static String isoTimestamp(LocalDateTime t) {
        StringBuilder sb = new StringBuilder(32).append(t.toLocalDate()).append('T');
        appendTime(sb, t.toLocalTime());
        return sb.toString();
    }

    /** {@code 2024-03-15T10:15:00.5Z}; an offset other than zero as {@code +05:30}. */
    static String isoTimestamptz(OffsetDateTime t) {
        StringBuilder sb = new StringBuilder(40).append(t.toLocalDate()).append('T');
        appendTime(sb, t.toLocalTime());
        appendOffset(sb, t.getOffset(), true);
        return sb.toString();
    }

    static String isoTime(LocalTime t) {
        return pgTime(t);
    }

    static String isoTimetz(OffsetTime t) {
        StringBuilder sb = new StringBuilder(24);
        appendTime(sb, t.toLocalTime());
        appendOffset(sb, t.getOffset(), true);
        return sb.toString();
    }

    // ---------------------------------------------------------------- shared pieces

    /** {@code HH:MM:SS[.fraction]}; {@link LocalTime#MAX} is PostgreSQL's {@code 24:00:00}. */
    static void appendTime(StringBuilder sb, LocalTime t) {
        if (t.equals(LocalTime.MAX)) {
            sb.append("24:00:00");
            return;
        }
        pad(sb, t.getHour(), 2);
        sb.append(':');
        pad(sb, t.getMinute(), 2);
        sb.append(':');
        pad(sb, t.getSecond(), 2);
        appendFraction(sb, t.getNano());
    }

    /** {@code .5}, {@code .000001}: nothing for 0, else the nanoseconds without trailing zeros. */
    static void appendFraction(StringBuilder sb, long nanos) {
        if (nanos == 0) {
            return;
        }
        int digits = 9;
        while (nanos % 10 == 0) {
            nanos /= 10;
            digits--;
        }
        sb.append('.');
        pad(sb, nanos, digits);
    }

    /** {@code +05:30}, {@code -03:00}, {@code +00:53:28}; zero as {@code Z} (ISO) or {@code +00:00} (PostgreSQL). */
    private static void appendOffset(StringBuilder sb, ZoneOffset o, boolean iso) {
        int total = o.getTotalSeconds();
        if (total == 0 && iso) {
            sb.append('Z');
            return;
        }
        sb.append(total < 0 ? '-' : '+');
        total = Math.abs(total);
        pad(sb, total / 3600, 2);
        sb.append(':');
        pad(sb, total / 60 % 60, 2);
        if (total % 60 != 0) {
            sb.append(':');
            pad(sb, total % 60, 2);
        }
    }

    private static void pad(StringBuilder sb, long value, int width) {
        for (long p = 10, w = 1; w < width; w++, p *= 10) {
            if (value < p) {
                sb.append('0');
            }
        }
        sb.append(value);
    }
}
