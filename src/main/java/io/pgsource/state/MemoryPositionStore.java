package io.pgsource.state;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Positions kept in memory only: after a restart nothing is known, so the source re-reads from the start.
 * Used by the log destination, whose output is not durable anyway.
 */
public final class MemoryPositionStore implements PositionStore {
    private final Map<String, String> positions = new ConcurrentHashMap<>();

    @Override
    public Optional<String> load(String stream) {
        return Optional.ofNullable(positions.get(stream));
    }

    @Override
    public void save(String stream, String position) {
        positions.put(stream, position);
    }
}
