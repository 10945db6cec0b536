package io.pgsource.config;

import java.time.Duration;

/**
 * The keys of the copies pgsource makes: inside an exported snapshot (the initial copy of log replication, the copies of
 * single tables while streaming) and in chunks (backfills).
 *
 * @param snapshotWorkers   {@code source.snapshot_workers}: how many connections read inside the same snapshot at once
 *                          (different tables, and ranges of a large one); 1 reads every table in turn on one connection
 * @param progressInterval  {@code source.copy_progress_interval}: how often a line tells a copy's progress; zero for only
 *                          the line when a table's copy ends
 * @param backfillChunkSize {@code source.backfill_chunk_size}: rows per chunk of a backfill
 */
public record CopySettings(int snapshotWorkers, Duration progressInterval, int backfillChunkSize) {
    /**
     * The default {@code source.snapshot_workers}: on 2 cores one reader (with its page read ahead) already keeps both
     * busy, and more were slower there (README, "Parallel readers").
     */
    public static final int DEFAULT_SNAPSHOT_WORKERS = 1;
    /** The most {@code source.snapshot_workers}: each is a source connection holding the snapshot open. */
    public static final int MAX_SNAPSHOT_WORKERS = 64;
    /** The default {@code source.copy_progress_interval}. */
    public static final Duration DEFAULT_PROGRESS_INTERVAL = Duration.ofSeconds(5);
    /** The default {@code source.backfill_chunk_size}: rows per chunk. */
    public static final int DEFAULT_BACKFILL_CHUNK_SIZE = 10_000;

    /** The defaults. */
    public static final CopySettings DEFAULT = new CopySettings(DEFAULT_SNAPSHOT_WORKERS, DEFAULT_PROGRESS_INTERVAL,
            DEFAULT_BACKFILL_CHUNK_SIZE);
}
