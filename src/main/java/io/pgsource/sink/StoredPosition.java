package io.pgsource.sink;

import io.pgsource.state.PositionStore;

/**
 * The position a batch advances its stream to, as stored: {@code stream} the key ({@code schema.table} of a batch-query
 * page, {@code slot:<slot>} of log replication), {@code value} its text (see {@link io.pgsource.state.Positions}).
 * Opaque to destinations: they store it as they are given it.
 */
public record StoredPosition(String stream, String value) {

    /** Stores it in a store that writes outside the data's transaction. */
    public void save(PositionStore store) {
        store.save(stream, value);
    }
}
