package io.pgsource.config;

import io.pgsource.change.TableId;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The source keys of {@code application.properties} ({@code source.*}), validated.
 *
 * @param host               {@code source.host}; null means "start the embedded demo database"
 * @param port               {@code source.port} (5432)
 * @param database           {@code source.database}
 * @param username           {@code source.username}
 * @param password           {@code source.password} (never logged; see {@link #toString()})
 * @param schemas            {@code source.schema}: one schema or a comma-separated list
 * @param tables             {@code source.tables}: optional include list; empty means every table of the schemas
 * @param replicationSlot    {@code source.replication_slot}
 * @param publicationName    {@code source.publication_name}
 * @param batchFetchLimit    {@code source.batch_fetch_limit} (50000): rows per page
 * @param replicationMethod  {@code source.replication_method}
 * @param replicationKey     {@code source.replication_key}: the INCREMENTAL bookmark column, or null
 * @param replicationKeys    {@code source.replication_keys}: per-table overrides of the replication key
 * @param incrementalLag     {@code sync.incremental_lag}: an extra margin the INCREMENTAL upper bound keeps
 * @param incrementalTimeZone {@code sync.incremental_timezone}: the time zone applications write {@code timestamp} and
 *                           {@code date} replication keys in (their session's TimeZone)
 * @param ssl                SSL settings handed to pgjdbc
 * @param notifications      {@code source.notify}, {@code source.notify_channel}: the batch query woken by NOTIFY
 */
public record SourceSettings(
        String host,
        int port,
        String database,
        String username,
        String password,
        List<String> schemas,
        List<TableId> tables,
        String replicationSlot,
        String publicationName,
        int batchFetchLimit,
        ReplicationMethod replicationMethod,
        String replicationKey,
        Map<TableId, String> replicationKeys,
        Duration incrementalLag,
        String incrementalTimeZone,
        SslSettings ssl,
        NotifySettings notifications) {

    /** Default {@code sync.incremental_timezone}: UTC, pgsource's own session zone. */
    public static final String DEFAULT_INCREMENTAL_TIME_ZONE = "UTC";

    /** Settings without {@code source.notify}. */
    public SourceSettings(String host, int port, String database, String username, String password, List<String> schemas,
                          List<TableId> tables, String replicationSlot, String publicationName, int batchFetchLimit,
                          ReplicationMethod replicationMethod, String replicationKey, Map<TableId, String> replicationKeys,
                          Duration incrementalLag, String incrementalTimeZone, SslSettings ssl) {
        this(host, port, database, username, password, schemas, tables, replicationSlot, publicationName, batchFetchLimit,
                replicationMethod, replicationKey, replicationKeys, incrementalLag, incrementalTimeZone, ssl, NotifySettings.OFF);
    }

    /** Settings with the default {@code sync.incremental_timezone}. */
    public SourceSettings(String host, int port, String database, String username, String password, List<String> schemas,
                          List<TableId> tables, String replicationSlot, String publicationName, int batchFetchLimit,
                          ReplicationMethod replicationMethod, String replicationKey, Map<TableId, String> replicationKeys,
                          Duration incrementalLag, SslSettings ssl) {
        this(host, port, database, username, password, schemas, tables, replicationSlot, publicationName, batchFetchLimit,
                replicationMethod, replicationKey, replicationKeys, incrementalLag, DEFAULT_INCREMENTAL_TIME_ZONE, ssl);
    }

    /** The replication key configured for a table (per-table override first), or null. */
    public String replicationKeyFor(TableId table) {
        String perTable = replicationKeys.get(table);
        return perTable != null ? perTable : replicationKey;
    }

    @Override
    public String toString() {
        return "SourceSettings[host=" + host + ", port=" + port + ", database=" + database + ", username=" + username
                + ", password=" + (password == null || password.isEmpty() ? "<none>" : "<secret>") + ", schemas=" + schemas
                + ", tables=" + tables + ", replicationMethod=" + replicationMethod + ", batchFetchLimit=" + batchFetchLimit + "]";
    }
}
