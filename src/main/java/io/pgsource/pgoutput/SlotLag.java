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

    /** 12345678 → "11.8 MB"; below 1 kB "n bytes": how the lag reads in the log and on the status page. */
    public static String humanBytes(long n) {
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = n;
        String unit = null;
        for (String u : units) {
            if (v < 1024) {
                break;
            }
            v /= 1024;
            unit = u;
        }
        return unit == null ? n + " bytes" : String.format(java.util.Locale.ROOT, "%.1f %s", v, unit);
    }
}
