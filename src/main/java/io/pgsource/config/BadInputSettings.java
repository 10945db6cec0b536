package io.pgsource.config;

/**
 * What to do with input the pipeline cannot take as it is.
 *
 * @param maxValueBytes {@code source.max_value_bytes}: the largest single value (its text form, in bytes) the batch
 *                      query reads; a larger one stops the sync with an error naming it, instead of exhausting the
 *                      heap. Empty: an eighth of the JVM's maximum heap ({@code -Xmx})
 * @param deadLetterUri {@code destination.dead_letter_uri}: a Camel endpoint URI where changes the destination refuses
 *                      go (the rest of the batch is applied); null stops the sync at the first refused change
 */
public record BadInputSettings(long maxValueBytes, String deadLetterUri) {

    /** The default {@code source.max_value_bytes}: an eighth of the heap, as a value is held several times over while read. */
    public static long defaultMaxValueBytes() {
        return Runtime.getRuntime().maxMemory() / 8;
    }
}
