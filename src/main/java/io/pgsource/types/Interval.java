package io.pgsource.types;

/**
 * The canonical value of a PostgreSQL {@code interval}: its three independent fields, exactly as PostgreSQL stores
 * them. They are not normalized into each other (a month is not 30 days, a day is not 24 hours across DST), so
 * {@code P1M} and {@code P30D} are different values here, though PostgreSQL's {@code =} calls them equal.
 *
 * @param months       years and months, as months
 * @param days         days
 * @param microseconds hours, minutes and seconds, as microseconds
 */
public record Interval(int months, int days, long microseconds) {
    private static final long MICROS_PER_SECOND = 1_000_000L;
    private static final long MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND;
    private static final long MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE;

    public static final Interval ZERO = new Interval(0, 0, 0);

    /**
     * Parses ISO 8601 "format with designators", as PostgreSQL prints with {@code IntervalStyle=iso_8601}:
     * {@code P1Y2M3DT4H5M6.789S}, {@code P-1Y-2M}, {@code PT-0.5S}, {@code PT0S}. Each field carries its own sign;
     * a fraction is accepted on seconds only (PostgreSQL prints no other).
     *
     * @throws IllegalArgumentException if the text is not in that form or overflows a field
     */
    public static Interval parse(String text) {
        int n = text.length();
        if (n < 2 || text.charAt(0) != 'P') {
            throw invalid(text);
        }
        long months = 0;
        long days = 0;
        long micros = 0;
        boolean time = false;
        int i = 1;
        try {
            while (i < n) {
                char c = text.charAt(i);
                if (c == 'T') {
                    if (time) {
                        throw invalid(text);
                    }
                    time = true;
                    i++;
                    continue;
                }
                boolean negative = false;
                if (c == '-' || c == '+') {
                    negative = c == '-';
                    i++;
                }
                int start = i;
                long whole = 0;
                while (i < n && isDigit(text.charAt(i))) {
                    whole = Math.addExact(Math.multiplyExact(whole, 10), text.charAt(i) - '0');
                    i++;
                }
                long fractionMicros = 0;
                boolean hasFraction = i < n && text.charAt(i) == '.';
                if (hasFraction) {
                    i++;
                    int fracStart = i;
                    boolean roundUp = false;
                    while (i < n && isDigit(text.charAt(i))) {
                        int d = text.charAt(i) - '0';
                        if (i - fracStart < 6) {
                            fractionMicros = fractionMicros * 10 + d;
                        } else if (i - fracStart == 6) {
                            roundUp = d >= 5; // PostgreSQL never prints more than 6 digits; round like its input
                        }
                        i++;
                    }
                    for (int k = i - fracStart; k < 6; k++) {
                        fractionMicros *= 10;
                    }
                    if (roundUp) {
                        fractionMicros++;
                    }
                    if (i == fracStart) {
                        throw invalid(text);
                    }
                }
                if (i == start || i >= n) {
                    throw invalid(text);
                }
                char unit = text.charAt(i++);
                if (hasFraction && !(time && unit == 'S')) {
                    throw invalid(text);
                }
                long value = negative ? -whole : whole;
                if (!time) {
                    switch (unit) {
                        case 'Y' -> months = Math.addExact(months, Math.multiplyExact(value, 12));
                        case 'M' -> months = Math.addExact(months, value);
                        case 'W' -> days = Math.addExact(days, Math.multiplyExact(value, 7));
                        case 'D' -> days = Math.addExact(days, value);
                        default -> throw invalid(text);
                    }
                } else {
                    switch (unit) {
                        case 'H' -> micros = Math.addExact(micros, Math.multiplyExact(value, MICROS_PER_HOUR));
                        case 'M' -> micros = Math.addExact(micros, Math.multiplyExact(value, MICROS_PER_MINUTE));
                        case 'S' -> {
                            long s = Math.addExact(Math.multiplyExact(whole, MICROS_PER_SECOND), fractionMicros);
                            micros = Math.addExact(micros, negative ? -s : s);
                        }
                        default -> throw invalid(text);
                    }
                }
            }
            return new Interval(Math.toIntExact(months), Math.toIntExact(days), micros);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("interval out of range: " + text, e);
        }
    }

    /**
     * ISO 8601 with designators, character for character what PostgreSQL prints with {@code IntervalStyle=iso_8601}
     * (and accepts as input whatever its IntervalStyle).
     */
    @Override
    public String toString() {
        int year = months / 12;
        int month = months % 12;
        long hour = microseconds / MICROS_PER_HOUR;
        long rest = microseconds - hour * MICROS_PER_HOUR;
        long minute = rest / MICROS_PER_MINUTE;
        rest -= minute * MICROS_PER_MINUTE;
        long second = rest / MICROS_PER_SECOND;
        long fraction = rest - second * MICROS_PER_SECOND;
        if (year == 0 && month == 0 && days == 0 && microseconds == 0) {
            return "PT0S";
        }
        StringBuilder sb = new StringBuilder(24).append('P');
        part(sb, year, 'Y');
        part(sb, month, 'M');
        part(sb, days, 'D');
        if (microseconds != 0) {
            sb.append('T');
            part(sb, hour, 'H');
            part(sb, minute, 'M');
            if (second != 0 || fraction != 0) {
                if (second < 0 || fraction < 0) {
                    sb.append('-');
                }
                sb.append(Math.abs(second));
                PgDateTime.appendFraction(sb, Math.abs(fraction) * 1000);
                sb.append('S');
            }
        }
        return sb.toString();
    }

    private static void part(StringBuilder sb, long value, char unit) {
        if (value != 0) {
            sb.append(value).append(unit);
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static IllegalArgumentException invalid(String text) {
        return new IllegalArgumentException("interval not in ISO 8601 format (IntervalStyle=iso_8601): " + text);
    }
}
