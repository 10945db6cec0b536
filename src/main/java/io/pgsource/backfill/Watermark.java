package io.pgsource.backfill;

import java.nio.charset.StandardCharsets;

/**
 * A backfill watermark: the text of a transactional logical decoding message
 * ({@code pg_logical_emit_message(true, 'pgsource-backfill', '<run>:low:<chunk>')}) written into the WAL before a chunk
 * is read (low) and after (high). The stream meets them in commit order, so every transaction committed between the two
 * is one the chunk's read may or may not have seen.
 *
 * @param run   the backfill run that wrote it (a fresh token per run: watermarks of a run before a restart are ignored)
 * @param high  false for the low watermark, true for the high one
 * @param chunk the chunk's number in its run, from 1
 */
public record Watermark(String run, boolean high, long chunk) {
    /** The prefix of the logical decoding messages of watermarks. */
    public static final String PREFIX = "pgsource-backfill";

    public Watermark {
        if (run == null || run.isEmpty() || run.indexOf(':') >= 0) {
            throw new IllegalArgumentException("a backfill run is a token without ':', got '" + run + "'");
        }
    }

    /** The message's text. */
    public String content() {
        return run + (high ? ":high:" : ":low:") + chunk;
    }

    /** The watermark a message carries, or null when the message is not one (another prefix, other content). */
    public static Watermark of(String prefix, byte[] content) {
        if (!PREFIX.equals(prefix) || content == null) {
            return null;
        }
        String[] parts = new String(content, StandardCharsets.UTF_8).split(":", -1);
        if (parts.length != 3 || parts[0].isEmpty() || !(parts[1].equals("low") || parts[1].equals("high"))) {
            return null;
        }
        try {
            return new Watermark(parts[0], parts[1].equals("high"), Long.parseLong(parts[2]));
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
