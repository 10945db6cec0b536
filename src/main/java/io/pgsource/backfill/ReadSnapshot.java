package io.pgsource.backfill;

import java.util.HashSet;
import java.util.Set;

/**
 * The snapshot a chunk was read in ({@code pg_current_snapshot()}, {@code xmin:xmax:xip,...}), to tell which transactions
 * the read did not see. A transaction's commit record can reach the WAL before the low watermark's while it becomes
 * visible only after the chunk's snapshot was taken (its backend still flushing, or waiting for a synchronous standby):
 * the stream then applies it before the window opens, and the chunk, which lacks it, must not overwrite it. Such
 * transactions are told by their id, in the 32 bits the stream carries (compared modulo 2^32, as PostgreSQL does).
 */
record ReadSnapshot(long xmin, long xmax, Set<Long> inProgress) {

    /** Parses {@code pg_current_snapshot()}'s text. */
    static ReadSnapshot parse(String text) {
        String[] parts = text.strip().split(":", -1);
        if (parts.length != 3) {
            throw new IllegalArgumentException("'" + text + "' is not a snapshot (xmin:xmax:xip,...)");
        }
        Set<Long> xip = new HashSet<>();
        for (String x : parts[2].split(",")) {
            if (!x.isBlank()) {
                xip.add(Long.parseLong(x.strip()) & 0xFFFF_FFFFL);
            }
        }
        return new ReadSnapshot(Long.parseLong(parts[0]) & 0xFFFF_FFFFL, Long.parseLong(parts[1]) & 0xFFFF_FFFFL, xip);
    }

    /** Whether a transaction of this (32-bit) id committed after the snapshot was taken: the read did not see it. */
    boolean unseen(long xid) {
        long x = xid & 0xFFFF_FFFFL;
        return inProgress.contains(x) || (int) (x - xmax) >= 0;
    }
}
