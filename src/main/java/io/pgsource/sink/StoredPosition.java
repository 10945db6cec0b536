package io.pgsource.sink;

import io.pgsource.state.PositionStore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The position a batch advances its stream to, as stored: {@code stream} the key ({@code schema.table} of a batch-query
 * page, {@code slot:<slot>} of log replication), {@code value} its text (see {@link io.pgsource.state.Positions}).
 * Opaque to destinations: they store it as they are given it. {@code alongside}: other records (stream to value) to
 * store in the same transaction, for a destination that {@link Destination#storesAlongside} (the records a table's copy
 * leaves, on its last page); empty otherwise.
 */
public record StoredPosition(String stream, String value, Map<String, String> alongside) {

    public StoredPosition {
        alongside = alongside == null ? Map.of() : alongside;
        if (alongside.containsKey(stream)) {
            throw new IllegalArgumentException("a record stored alongside the position of " + stream + " has its stream");
        }
    }

    public StoredPosition(String stream, String value) {
        this(stream, value, Map.of());
    }

    /** The records alongside, then the position: everything to store. */
    public Map<String, String> all() {
        if (alongside.isEmpty()) {
            return Map.of(stream, value);
        }
        Map<String, String> all = new LinkedHashMap<>(alongside);
        all.put(stream, value);
        return all;
    }

    /** Stores it in a store that writes outside the data's transaction. */
    public void save(PositionStore store) {
        store.save(stream, value);
    }
}
