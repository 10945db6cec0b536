package io.pgsource.types;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads COPY's text format, the inverse of {@link PgText#copyEscape}: fields separated by tabs, {@code \N} for NULL,
 * backslash escapes ({@code \b \f \n \r \t \v \\}, octal {@code \NNN}, hex {@code \xHH}, any other {@code \c} is
 * {@code c}). What {@code COPY ... TO STDOUT} prints for a value is its type's output function, so a parsed field is
 * exactly the string {@code ResultSet.getString} gives for the same value.
 */
public final class CopyText {
    private CopyText() {
    }

    /** One line of COPY text output (with or without its newline) as its fields: Strings, or null for {@code \N}. */
    public static Object[] parseLine(byte[] line, int columns) {
        int end = line.length;
        if (end > 0 && line[end - 1] == '\n') {
            end--;
        }
        return parseLine(line, end, columns);
    }

    /** The fields of the line's bytes from 0 to {@code end} (no newline): Strings, or null for {@code \N}. */
    public static Object[] parseLine(byte[] line, int end, int columns) {
        Object[] fields = new Object[columns];
        int field = 0;
        int start = 0;
        boolean escaped = false;
        for (int i = 0; i <= end; i++) {
            byte b = i < end ? line[i] : (byte) '\t';
            if (b == '\\') {
                escaped = true;
                if (i + 1 < end) {
                    i++; // the escaped byte is never a separator
                }
            } else if (b == '\t') {
                if (field == columns) {
                    throw new IllegalStateException("a COPY row has more than the expected " + columns + " fields");
                }
                fields[field++] = value(line, start, i, escaped);
                start = i + 1;
                escaped = false;
            }
        }
        if (field != columns) {
            throw new IllegalStateException("a COPY row has " + field + " fields, expected " + columns);
        }
        return fields;
    }

    private static String value(byte[] line, int from, int to, boolean escaped) {
        if (!escaped) {
            return new String(line, from, to - from, StandardCharsets.UTF_8);
        }
        if (to - from == 2 && line[from] == '\\' && line[from + 1] == 'N') {
            return null;
        }
        // escapes as COPY FROM reads them: \b \f \n \r \t \v, \digits (octal), \xHH, any other \c is c
        ByteArrayOutputStream out = new ByteArrayOutputStream(to - from);
        for (int i = from; i < to; i++) {
            byte b = line[i];
            if (b != '\\' || i + 1 >= to) {
                out.write(b);
                continue;
            }
            byte c = line[++i];
            switch (c) {
                case 'b' -> out.write('\b');
                case 'f' -> out.write('\f');
                case 'n' -> out.write('\n');
                case 'r' -> out.write('\r');
                case 't' -> out.write('\t');
                case 'v' -> out.write(0x0B);
                case 'x' -> {
                    int v = 0;
                    int digits = 0;
                    while (digits < 2 && i + 1 < to && Character.digit(line[i + 1], 16) >= 0) {
                        v = v * 16 + Character.digit(line[++i], 16);
                        digits++;
                    }
                    out.write(digits == 0 ? 'x' : v);
                }
                default -> {
                    if (c >= '0' && c <= '7') {
                        int v = c - '0';
                        for (int digits = 1; digits < 3 && i + 1 < to && line[i + 1] >= '0' && line[i + 1] <= '7'; digits++) {
                            v = v * 8 + (line[++i] - '0');
                        }
                        out.write(v & 0xFF);
                    } else {
                        out.write(c);
                    }
                }
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
