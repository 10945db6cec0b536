package io.pgsource.config;

/**
 * {@code source.initial_copy}: how log replication makes the first copy of the tables a new slot streams.
 */
public enum InitialCopyMode {
    /**
     * Every table inside the new slot's exported snapshot, before the stream starts: the fastest copy, but one
     * transaction stays open on the source for the whole copy, and a copy cut short starts over.
     */
    SNAPSHOT,
    /**
     * The stream starts at once and every table with a primary key is copied in chunks between WAL watermarks
     * (a backfill): only short transactions on the source, and a copy cut short resumes at its next chunk. Keyless tables
     * keep the snapshot copy; PostgreSQL 13 (no logical decoding messages in pgoutput) falls back to {@link #SNAPSHOT}.
     */
    CHUNKED
}
