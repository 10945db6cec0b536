package io.pgsource.config;

/**
 * The keys of the copies pgsource makes inside an exported snapshot (the initial copy of log replication, the copies of
 * single tables while streaming).
 *
 * @param snapshotWorkers {@code source.snapshot_workers}: how many connections read inside the same snapshot at once
 *                        (different tables, and ranges of a large one); 1 reads every table in turn on one connection
 */
public record CopySettings(int snapshotWorkers) {
    /**
     * The default {@code source.snapshot_workers}: on 2 cores one reader (with its page read ahead) already keeps both
     * busy, and more were slower there (README, "Parallel readers").
     */
    public static final int DEFAULT_SNAPSHOT_WORKERS = 1;
    /** The most {@code source.snapshot_workers}: each is a source connection holding the snapshot open. */
    public static final int MAX_SNAPSHOT_WORKERS = 64;

    /** The defaults. */
    public static final CopySettings DEFAULT = new CopySettings(DEFAULT_SNAPSHOT_WORKERS);
}
