package io.pgsource.batch;

import io.pgsource.config.PermanentFailure;

/**
 * A value of the source is larger than {@code source.max_value_bytes}: it was not fetched, the run stops, and the
 * message names the table, the row's key, the column, the size and the settings to raise. Retrying cannot help.
 */
public final class ValueTooLargeException extends RuntimeException implements PermanentFailure {
    ValueTooLargeException(String message) {
        super(message);
    }
}
