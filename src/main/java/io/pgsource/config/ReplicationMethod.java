package io.pgsource.config;

/** How changes are captured (the seed's "batch query" and "log replication"). */
public enum ReplicationMethod {
    /** Every run re-reads each table in primary-key order. */
    FULL_TABLE,
    /** Every run reads the rows whose replication key is past the bookmark. */
    INCREMENTAL,
    /** Logical replication with pgoutput. */
    LOG_BASED
}
