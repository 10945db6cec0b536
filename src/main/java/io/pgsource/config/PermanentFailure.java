package io.pgsource.config;

/**
 * Marks an exception that retrying cannot fix (a rejected change, a schema change the destination cannot follow):
 * pgsource stops with its message instead of retrying it forever. See {@code io.pgsource.sink.reject.DestinationErrors#permanent}.
 */
public interface PermanentFailure {
}
