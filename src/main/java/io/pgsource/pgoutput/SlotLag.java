package io.pgsource.pgoutput;

import java.time.Instant;

/**
 * What the last slot check found ({@code slotCheckInterval}).
 *
 * @param lagBytes    WAL bytes between the server's current position and what was applied (acknowledged)
 * @param walStatus   {@code pg_replication_slots.wal_status} (reserved, extended, unreserved, lost), null when unknown
 * @param safeWalSize bytes that can still be written before the slot is in danger of invalidation, or null
 * @param checkedAt   when
 */
public record SlotLag(long lagBytes, String walStatus, Long safeWalSize, Instant checkedAt) {
}
