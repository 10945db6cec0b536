package io.pgsource.sink.jsonl;

import io.pgsource.change.TableId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The output file name of a table: {@code <schema>.<table>.jsonl}, safe for any identifier and distinct for
 * distinct tables. Bytes (UTF-8) outside {@code [A-Za-z0-9_-]} are percent-encoded, including the dot inside a
 * name (so the one separating dot is unambiguous and no part is {@code .} or {@code ..}) and the percent sign.
 * A name longer than file systems allow (255 bytes) is cut and ends with a hash of the full name.
 */
public final class FileNames {
    static final int MAX_FILE_NAME = 255;
    private static final String SUFFIX = ".jsonl";

    private FileNames() {
    }

    public static String of(TableId table) {
        String name = encode(table.schema()) + "." + encode(table.name());
        if (name.length() + SUFFIX.length() <= MAX_FILE_NAME) {
            return name + SUFFIX;
        }
        String hash = HexFormat.of().formatHex(sha256(name)).substring(0, 32);
        return name.substring(0, MAX_FILE_NAME - SUFFIX.length() - hash.length() - 1) + "~" + hash + SUFFIX;
    }

    static String encode(String identifier) {
        StringBuilder out = new StringBuilder(identifier.length());
        for (byte b : identifier.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
                out.append((char) c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return out.toString();
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
