package io.pgsource.state;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;

/**
 * Where a destination keeps the source positions it has made durable: a bookmark per batch-query stream,
 * a commit LSN per replication slot. Positions are opaque strings to the store.
 *
 * <p>Table destinations write positions in the same transaction as the data (exactly-once); they implement
 * {@link #load} here and save inside their own transaction. Event destinations call {@link #save} after
 * their data is durable (at-least-once).
 */
public interface PositionStore {

    /** The last durable position of a stream, if any. */
    Optional<String> load(String stream);

    /**
     * The position of a stream as this instance knows it: what it stored itself, else {@link #load}. Destinations are
     * the only writers of their positions while this instance runs ({@link #refresh} forgets what it knows).
     */
    default Optional<String> current(String stream) throws Exception {
        return load(stream);
    }

    /** Stores a position after the data it covers is durable. */
    void save(String stream, String position);

    /**
     * Stores several positions after the data they cover is durable: at once where the store can (one transaction, one
     * write of the file), so what a table's copy records costs no round trip per position.
     */
    default void saveAll(Map<String, String> positions) {
        positions.forEach(this::save);
    }

    /**
     * Stores records that follow data already committed (what a table's copy records after its last page), where the
     * store may commit them without waiting for their durability: a store in the destination database itself, whose
     * commits are durable in the order they were made (one WAL), loses them in a crash only together with everything
     * committed after them — the state pgsource stopped just before them would have left. Such a store makes them
     * durable by its next durable commit, and {@link #flush} at the latest. Others store them as {@link #saveAll} does.
     */
    default void saveAllAfterData(Map<String, String> positions) {
        saveAll(positions);
    }

    /** Makes what {@link #saveAllAfterData} stored durable (a run that ends must leave nothing a crash could take). */
    default void flush() {
    }

    /**
     * Says which streams' positions are about to be asked for ({@link #current}): a store that reads them from a
     * database reads them all in one query now, so a copy of thousands of tables does not ask once per table. Nothing by
     * default.
     */
    default void preload(Collection<String> streams) throws Exception {
    }

    /**
     * Forgets what this instance remembers of the stored positions: another instance may have written them since (a
     * high-availability takeover). The next {@link #load} reads what is stored.
     */
    default void refresh() {
    }
}
