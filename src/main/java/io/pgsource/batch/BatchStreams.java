package io.pgsource.batch;

import io.pgsource.config.BadInputSettings;
import io.pgsource.catalog.CatalogReader;
import io.pgsource.catalog.ColumnInfo;
import io.pgsource.catalog.Publications;
import io.pgsource.catalog.TableInfo;
import io.pgsource.change.Column;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceConnections;
import io.pgsource.config.SourceSettings;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.camel.Handler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code batchStreams} bean: at the start of every batch-query run, discovers the tables and plans one
 * {@link StreamTask} per table, deciding each table's effective method and keyset.
 *
 * <p>A {@code source.replication_keys} entry naming a table that is not captured, or a column the table lacks,
 * is a {@link ConfigurationException}. INCREMENTAL falls back to FULL_TABLE (with a warning that says how to fix it) for a table without
 * primary key or whose replication key column is not configured, does not exist or is generated. Rows whose
 * replication key is NULL are never read by INCREMENTAL (a row comparison with NULL is never true): a nullable
 * replication key gets a warning. A date or timestamp replication key is read only up to where no open transaction can
 * still commit ({@link TransactionHorizon}); any other key type gets a warning that this cannot be done for it.
 */
public final class BatchStreams {
    private static final Logger LOG = LoggerFactory.getLogger(BatchStreams.class);

    private final SourceSettings settings;
    private final SourceConnections connections;
    /** Warnings already given, so a long-running sync says each thing once per table. */
    private final Set<String> warned = ConcurrentHashMap.newKeySet();

    private final long maxValueBytes;
    /** What INCREMENTAL learnt of the source's open transactions, between runs. */
    private final TransactionHorizon horizon;
    private volatile boolean timeZoneChecked;
    /** LOG_BASED: the publications whose row filters and column lists the copy applies; null for none. */
    private volatile List<String> publications;
    /** The batch query: which tables each run reads (all, or those a notification named); null: every table. */
    private volatile BatchWakeups wakeups;
    /** See {@link #discovered}: taken by the next {@link #streams}. */
    private final AtomicReference<List<TableInfo>> prefetched = new AtomicReference<>();

    public BatchStreams(SourceSettings settings, SourceConnections connections) {
        this(settings, connections, BadInputSettings.defaultMaxValueBytes());
    }

    /** @param maxValueBytes {@code source.max_value_bytes}: the largest value a page may carry */
    public BatchStreams(SourceSettings settings, SourceConnections connections, long maxValueBytes) {
        this(settings, connections, maxValueBytes, new TransactionHorizon());
    }

    /** @param horizon keeps what INCREMENTAL learns of the source's open transactions from run to run */
    BatchStreams(SourceSettings settings, SourceConnections connections, long maxValueBytes, TransactionHorizon horizon) {
        this.settings = settings;
        this.connections = connections;
        this.maxValueBytes = maxValueBytes;
        this.horizon = horizon;
    }

    /**
     * Makes every stream read what these publications publish of its table (LOG_BASED: the copy and the stream then
     * hold the same rows and columns): their row filter, their column list, only the partitions they publish.
     */
    public void publishedBy(List<String> publications) {
        this.publications = List.copyOf(publications);
    }

    /**
     * The tables as a discovery with these settings found them moments ago (the start-up reads the catalog on a thread of
     * its own while Camel boots, {@code SourcePrefetch}): the next {@link #streams} takes them instead of asking the
     * catalog again, once; every later one discovers as always.
     */
    public void discovered(List<TableInfo> tables) {
        prefetched.set(tables == null ? null : List.copyOf(tables));
    }

    /**
     * As {@link #streams}, for the start-up's check of the settings, whose discovery then serves the batch query's first
     * run too (moments later) as {@link #discovered} does: that run asks the catalog nothing, and a FULL_TABLE run opens
     * no connection before its first page's (a {@code sync.once} of one table opened three sessions, each with its
     * password handshake: about 25 ms before the first row and 50 ms of CPU for the middle one). Not with publications
     * (LOG_BASED): its copy discovers again, as it waits for its slot and so for the source's open transactions.
     */
    public List<StreamTask> streamsAtStart() throws SQLException {
        return streams(publications == null);
    }

    /** Makes every run read only the tables its wake-up asks for ({@link BatchWakeups#take()}). */
    public void wokenBy(BatchWakeups wakeups) {
        this.wakeups = wakeups;
    }

    /**
     * Discovers the tables and returns their streams, sorted by table: every table, or with {@link #wokenBy} those the
     * run's wake-up asks for. For INCREMENTAL, looks at the source's open transactions first: the run reads only rows
     * older than the oldest of them ({@link TransactionHorizon}), so a run woken by a notification, at any moment, reads
     * what a timer's run at that moment would, no further.
     */
    @Handler
    public List<StreamTask> streams() throws SQLException {
        return streams(false);
    }

    /** @param keep whether the next call takes the tables this one discovers ({@link #streamsAtStart}) */
    private List<StreamTask> streams(boolean keep) throws SQLException {
        BatchWakeups.Wake wake = wakeups == null ? BatchWakeups.Wake.ALL : wakeups.take();
        if (!wake.all() && wake.tables().isEmpty()) {
            LOG.debug("Batch query woken with nothing to read (its tables were read by the run before)");
            return List.of();
        }
        List<TableInfo> tables;
        TransactionHorizon.Horizon now = null;
        List<TableInfo> found = prefetched.getAndSet(null);
        boolean incremental = settings.replicationMethod() == ReplicationMethod.INCREMENTAL;
        if (found != null && publications == null && !incremental) {
            // nothing else to ask the source: no connection
            tables = found;
        } else {
            try (Connection c = connections.open()) {
                tables = found != null ? found : CatalogReader.discover(c, settings.schemas(), settings.tables());
                if (publications != null) {
                    tables = published(c, tables);
                }
                if (incremental) {
                    checkTimeZone(c);
                    now = horizon.look(c);
                }
            }
        }
        if (keep) {
            discovered(tables); // as discovered, before any publication's scope: keep is only asked without publications
        }
        if (now != null && now.held() && !wake.tables().isEmpty()) {
            // what the notifications announced may be newer than the bound: read those tables again shortly, as the
            // transaction holding the bound may end without a notification (it wrote no selected table)
            wakeups.heldBack(wake.tables());
        }
        List<StreamTask> tasks = new ArrayList<>(tables.size());
        for (TableInfo table : tables) {
            if (wake.includes(table.id())) {
                tasks.add(plan(table, now));
            }
        }
        Map<TableId, String> perTable = settings.replicationKeys() == null ? Map.of() : settings.replicationKeys();
        for (TableId configured : perTable.keySet()) {
            if (tables.stream().noneMatch(t -> t.id().equals(configured))) {
                throw new ConfigurationException("source.replication_keys names " + configured.quoted()
                        + ", which is not among the captured tables: fix the name, or add it to source.schema / source.tables");
            }
        }
        LOG.debug("Batch query streams: {}", tasks);
        return tasks;
    }

    /**
     * The FULL_TABLE streams of those of these tables that exist, as {@link #streams} plans them (what the publications
     * publish of each): LOG_BASED copies a table on its own while the others stream.
     */
    public List<StreamTask> streams(List<TableId> only) throws SQLException {
        List<TableInfo> tables;
        try (Connection c = connections.open()) {
            List<TableId> existing = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, r.relname FROM unnest(?::text[], ?::text[]) AS w(s, t)"
                    + " JOIN pg_catalog.pg_namespace n ON n.nspname = w.s JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid"
                    + " AND r.relname = w.t AND r.relkind IN ('r', 'p') AND NOT r.relispartition")) {
                ps.setArray(1, c.createArrayOf("text", only.stream().map(TableId::schema).toArray()));
                ps.setArray(2, c.createArrayOf("text", only.stream().map(TableId::name).toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        existing.add(new TableId(rs.getString(1), rs.getString(2)));
                    }
                }
            }
            if (existing.isEmpty()) {
                return List.of();
            }
            tables = CatalogReader.discover(c, existing.stream().map(TableId::schema).distinct().toList(), existing);
            if (publications != null) {
                tables = published(c, tables);
            }
        }
        return tables.stream().map(t -> fullTable(t, settings.batchFetchLimit())).toList();
    }

    /** The tables as the publications publish them. */
    private List<TableInfo> published(Connection c, List<TableInfo> tables) throws SQLException {
        Publications pubs = Publications.read(c, publications, tables.stream().map(TableInfo::id).toList());
        List<TableInfo> out = new ArrayList<>(tables.size());
        for (TableInfo table : tables) {
            Publications.Coverage coverage = pubs.coverage(table.id());
            Publications.Scope scope = coverage == null || !coverage.published() ? Publications.Scope.WHOLE
                    : coverage.scope(table.columns().stream().map(ColumnInfo::name).toList());
            if ((scope.rowFilter() != null || scope.columns() != null) && warned.add("scope:" + table.id() + ":" + scope)) {
                LOG.info("{}: the copy reads what publication(s) {} publish:{}{}", table.id().quoted(), coverage.publishedBy(),
                        scope.rowFilter() == null ? "" : " rows WHERE " + scope.rowFilter(),
                        scope.columns() == null ? "" : " columns " + table.columns().stream().map(ColumnInfo::name)
                                .filter(scope.columns()::contains).toList());
            }
            out.add(table.published(scope));
        }
        return out;
    }

    /**
     * The stream of one table under the configured settings.
     *
     * @param horizon INCREMENTAL: where this run's reads end
     */
    private StreamTask plan(TableInfo table, TransactionHorizon.Horizon horizon) {
        TableSchema schema = table.schema();
        int pageSize = settings.batchFetchLimit();
        if (settings.replicationMethod() != ReplicationMethod.INCREMENTAL) {
            return fullTable(table, pageSize);
        }
        String id = table.id().quoted();
        String key = settings.replicationKeyFor(table.id());
        if (key == null || key.isBlank()) {
            warnOnce("nokey:" + id, "{} cannot be synced INCREMENTAL: no replication key is configured; set source.replication_key"
                    + " (or source.replication_keys for this table). Syncing it FULL_TABLE", id);
            return fullTable(table, pageSize);
        }
        Optional<ColumnInfo> column = table.column(key);
        if (column.isEmpty() && settings.replicationKeys().containsKey(table.id())) {
            // a per-table key is explicit: a wrong one is a mistake to fix, not a table to copy in full
            throw new ConfigurationException("source.replication_keys: " + id + " has no column " + TableId.quoteIdent(key)
                    + " (names are case-sensitive); its columns are " + table.schema().columns().stream().map(Column::name).toList());
        }
        if (column.isEmpty()) {
            warnOnce("missing:" + id + ":" + key, "{} cannot be synced INCREMENTAL: it has no column {} (the replication key); fix"
                    + " source.replication_key or source.replication_keys (names are case-sensitive). Syncing it FULL_TABLE",
                    id, TableId.quoteIdent(key));
            return fullTable(table, pageSize);
        }
        if (column.get().generated()) {
            warnOnce("generated:" + id + ":" + key, "{} cannot be synced INCREMENTAL on {}: it is a generated column;"
                    + " choose a column that is not generated as replication key. Syncing it FULL_TABLE", id, TableId.quoteIdent(key));
            return fullTable(table, pageSize);
        }
        if (!schema.hasKey()) {
            warnOnce("nopk:" + id, "{} cannot be synced INCREMENTAL: it has no primary key, which INCREMENTAL needs to page through"
                    + " rows sharing a replication-key value; add a primary key. Syncing it FULL_TABLE (replaced on every run)", id);
            return fullTable(table, pageSize);
        }
        if (!column.get().notNull()) {
            warnOnce("nullable:" + id + ":" + key, "{}: rows whose replication key {} is NULL are never read by INCREMENTAL;"
                    + " make the column NOT NULL (or give those rows a value)", id, TableId.quoteIdent(key));
        }
        Column replicationKey = column.get().column();
        List<Column> keyset = new ArrayList<>();
        keyset.add(replicationKey);
        for (String k : schema.key()) {
            if (!k.equals(key)) {
                keyset.add(schema.columns().get(schema.indexOf(k)));
            }
        }
        if (!table.hasIndexLeadingWith(key)) {
            warnOnce("index:" + id + ":" + key, "{}: no index starts with the replication key {}, so every INCREMENTAL page sorts all"
                    + " newer rows; create one: CREATE INDEX ON {} ({})", id, TableId.quoteIdent(key), id,
                    String.join(", ", keyset.stream().map(c -> TableId.quoteIdent(c.name())).toList()));
        }
        return new StreamTask(table, ReplicationMethod.INCREMENTAL, keyset, pageSize, upperBound(table, replicationKey, horizon), maxValueBytes);
    }

    private StreamTask fullTable(TableInfo table, int pageSize) {
        TableSchema schema = table.schema();
        List<Column> key = schema.key().stream().map(k -> schema.columns().get(schema.indexOf(k))).toList();
        return new StreamTask(table, ReplicationMethod.FULL_TABLE, key, pageSize, null, maxValueBytes);
    }

    private StreamTask.UpperBound upperBound(TableInfo table, Column key, TransactionHorizon.Horizon horizon) {
        StreamTask.UpperBound.KeyTime keyTime = StreamTask.UpperBound.KeyTime.of(key.baseTypeName());
        if (keyTime == null) {
            warnOnce("untimed:" + table.id(), "{}: the replication key {} is {}, not a date or timestamp, so INCREMENTAL cannot"
                    + " hold back for transactions still open: a row committed after a run read a higher value (a number taken"
                    + " by a transaction that commits late, or handed out from a cache) is never read. Use a timestamp key set"
                    + " by now() on every insert and update, or LOG_BASED", table.id().quoted(), TableId.quoteIdent(key.name()),
                    key.typeName());
            return null;
        }
        return new StreamTask.UpperBound(keyTime, horizon.minus(settings.incrementalLag()), settings.incrementalTimeZone());
    }

    /**
     * Checks {@code sync.incremental_timezone} once, where it is used: PostgreSQL decides which names it knows (tz
     * database names, abbreviations, POSIX specifications).
     */
    private void checkTimeZone(Connection c) throws SQLException {
        if (timeZoneChecked) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.now() AT TIME ZONE ?")) {
            ps.setString(1, settings.incrementalTimeZone());
            ps.executeQuery().close();
        } catch (SQLException e) {
            if ("22023".equals(e.getSQLState())) {
                throw new ConfigurationException("sync.incremental_timezone=" + settings.incrementalTimeZone() + " is not a time"
                        + " zone the source knows: use a name from pg_timezone_names, such as UTC or Europe/Berlin");
            }
            throw e;
        }
        timeZoneChecked = true;
    }

    private void warnOnce(String what, String message, Object... args) {
        if (warned.add(what)) {
            LOG.warn(message, args);
        }
    }
}
