package io.pgsource.types;

import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * The canonical value of a {@code bytea}: an immutable byte string with content equality (a {@code byte[]} has
 * identity equality, which would break "the same row read twice is equal").
 */
public final class Bytes {
    private static final HexFormat HEX = HexFormat.of();

    private final byte[] bytes;

    private Bytes(byte[] bytes) {
        this.bytes = bytes;
    }

    /** A copy of the given bytes. */
    public static Bytes of(byte[] bytes) {
        return new Bytes(bytes.clone());
    }

    /** Parses hex digits (no prefix), as in {@code bytea_output=hex} after the leading {@code \x}. */
    public static Bytes fromHex(CharSequence hex) {
        return new Bytes(HEX.parseHex(hex));
    }

    /** Parses PostgreSQL's hex output, {@code \x0102ff}. */
    static Bytes fromPgHex(String text) {
        if (text.length() < 2 || text.charAt(0) != '\\' || text.charAt(1) != 'x') {
            throw new IllegalArgumentException("bytea not in hex format (bytea_output=hex): " + abbreviate(text));
        }
        return new Bytes(HEX.parseHex(text, 2, text.length()));
    }

    public int size() {
        return bytes.length;
    }

    public byte get(int index) {
        return bytes[index];
    }

    /** A copy of the bytes. */
    public byte[] toByteArray() {
        return bytes.clone();
    }

    /** Lower-case hex digits, no prefix. */
    public String toHex() {
        return HEX.formatHex(bytes);
    }

    /** Standard base64 with padding (RFC 4648 section 4), as written to JSON. */
    public String toBase64() {
        return Base64.getEncoder().encodeToString(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Bytes b && Arrays.equals(bytes, b.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    /** PostgreSQL's hex form, {@code \x0102ff}. */
    @Override
    public String toString() {
        return "\\x" + toHex();
    }

    private static String abbreviate(String s) {
        return s.length() <= 20 ? s : s.substring(0, 20) + "...";
    }

    /** The big-endian int32 at {@code at}: PostgreSQL's binary send formats and COPY's binary length words. */
    public static int int32(byte[] b, int at) {
        return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
    }
}
