package io.pgsource.app;

import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.StreamTask;
import io.pgsource.catalog.CatalogException;
import io.pgsource.catalog.CatalogReader;
import io.pgsource.catalog.Publications;
import io.pgsource.catalog.TableInfo;
import io.pgsource.change.Column;
import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import io.pgsource.config.Sizes;
import io.pgsource.pgoutput.ReplicationSlots;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;

/**
 * {@code java -jar pgsource.jar discover}: what pgsource would capture with this configuration, read from the source
 * and nothing written: the server and its slot, then one line per selected table with its key, replica identity,
 * estimated rows and size, and how it would be captured (the batch query's keyset or ctid pages, INCREMENTAL's
 * replication key, or for log replication the publications that publish it and what they leave out). A user sees
 * before the first run which tables will stream inserts only, which need a key, and what the copy will cost.
 */
public final class DiscoverCommand {
    private DiscoverCommand() {
    }

    /** Runs the command; returns the exit code: 0 listed, 2 the configuration or the source cannot be used. */
    public static int run(List<String> args, Map<String, String> env, Properties system, PrintStream out, PrintStream err) {
        if (!args.isEmpty()) {
            err.println("discover takes no arguments (" + String.join(" ", args) + "): it lists the tables source.schema and "
                    + "source.tables select, with the configuration a run would use");
            return 2;
        }
        try {
            Properties props = EffectiveProperties.load(env, system);
            Settings settings = new SettingsLoader(props::getProperty).load();
            boolean createPublication = !"false".equalsIgnoreCase(props.getProperty("source.create_publication", "true").strip());
            List<String> publicationNames = Publications.names(settings.source().publicationName());
            if (settings.source().host() == null) {
                throw new ConfigurationException("discover reads your database: set source.host, source.database, "
                        + "source.username and source.password (the demo needs no discovery)");
            }
            PgSourceConnections connections = new PgSourceConnections(settings.source());
            ReplicationMethod method = settings.source().replicationMethod();
            try (Connection c = connections.open()) {
                out.println(server(c, settings));
                List<TableInfo> tables = CatalogReader.discover(c, settings.source().schemas(), settings.source().tables());
                Map<TableId, Size> sizes = sizes(c, tables);
                Publications publications = method == ReplicationMethod.LOG_BASED
                        ? Publications.read(c, publicationNames, tables.stream().map(TableInfo::id).toList())
                        : null;
                Map<TableId, StreamTask> batch = new HashMap<>();
                if (method != ReplicationMethod.LOG_BASED) {
                    for (StreamTask task : new BatchStreams(settings.source(), connections).streams()) {
                        batch.put(task.table().id(), task);
                    }
                }
                for (TableInfo table : tables) {
                    out.println(line(table, sizes.get(table.id()), method, batch.get(table.id()), publications, createPublication,
                            publicationNames.get(0)));
                }
                out.println(tables.size() + " table(s) selected by source.schema=" + String.join(",", settings.source().schemas())
                        + (settings.source().tables().isEmpty() ? "" : " and source.tables"));
            }
            return 0;
        } catch (ConfigurationException | CatalogException | IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        } catch (SQLException e) {
            err.println("cannot read the source: " + e.getMessage());
            return 2;
        }
    }

    private static String server(Connection c, Settings settings) throws SQLException {
        String version;
        String walLevel;
        try (PreparedStatement ps = c.prepareStatement("SELECT current_setting('server_version'), current_setting('wal_level')");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            version = rs.getString(1);
            walLevel = rs.getString(2);
        }
        StringBuilder sb = new StringBuilder("PostgreSQL ").append(version).append(", database ")
                .append(settings.source().database()).append(", wal_level=").append(walLevel)
                .append(", source.replication_method=").append(settings.source().replicationMethod());
        if (settings.source().replicationMethod() == ReplicationMethod.LOG_BASED) {
            String slot = settings.source().replicationSlot();
            ReplicationSlots.State state = ReplicationSlots.state(c, slot);
            sb.append(", slot ").append(slot).append(": ");
            if (!state.exists()) {
                sb.append("none yet (the first run creates it and copies every table)");
            } else if (state.invalidated()) {
                sb.append("invalidated (").append(state.invalidationReason() == null ? state.walStatus() : state.invalidationReason())
                        .append(")");
            } else {
                sb.append(state.activePid() == null ? "idle" : "in use by PID " + state.activePid())
                        .append(", confirmed at ").append(state.confirmedPoint()).append(", ")
                        .append(Sizes.human(state.lagBytes(0))).append(" behind");
            }
            if (!"logical".equals(walLevel)) {
                sb.append("; log replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then a restart)");
            }
        }
        return sb.toString();
    }

    private record Size(long totalBytes) {
    }

    private static Map<TableId, Size> sizes(Connection c, List<TableInfo> tables) throws SQLException {
        Map<TableId, Size> out = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT o.oid, pg_catalog.pg_total_relation_size(o.oid)"
                + " + COALESCE((SELECT sum(pg_catalog.pg_total_relation_size(t.relid)) FROM pg_catalog.pg_partition_tree(o.oid) t"
                + " WHERE t.relid <> o.oid), 0) FROM unnest(?::oid[]) AS o(oid)")) {
            ps.setArray(1, c.createArrayOf("oid", tables.stream().map(TableInfo::oid).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                Map<Long, Long> byOid = new HashMap<>();
                while (rs.next()) {
                    byOid.put(rs.getLong(1), rs.getLong(2));
                }
                for (TableInfo t : tables) {
                    out.put(t.id(), new Size(byOid.getOrDefault(t.oid(), 0L)));
                }
            }
        }
        return out;
    }

    private static String line(TableInfo table, Size size, ReplicationMethod method, StreamTask task, Publications publications,
                               boolean createPublication, String firstPublication) {
        StringBuilder sb = new StringBuilder(name(table.id())).append(table.partitioned() ? " (partitioned)" : "")
                .append(": key ").append(table.primaryKey().isEmpty() ? "none" : "(" + String.join(", ", table.primaryKey()) + ")")
                .append(", replica identity ").append(table.replicaIdentity().toString().toLowerCase(Locale.ROOT))
                .append(", ").append(table.estimatedRows() < 0 ? "rows unknown (never analyzed)" : "~" + String.format(Locale.ROOT,
                        "%,d", table.estimatedRows()) + " rows")
                .append(", ").append(Sizes.human(size == null ? 0 : size.totalBytes())).append(" -> ");
        if (method != ReplicationMethod.LOG_BASED) {
            if (task == null) {
                return sb.append("not read").toString();
            }
            if (task.method() == ReplicationMethod.INCREMENTAL) {
                List<Column> keys = task.keyColumns();
                return sb.append("INCREMENTAL by ").append(keys.get(0).name())
                        .append(table.hasIndexLeadingWith(keys.get(0).name()) ? " (indexed)" : " (no index leading with it: "
                                + "each run scans the table; CREATE INDEX ON " + table.id().quoted() + " ("
                                + TableId.quoteIdent(keys.get(0).name()) + "))").toString();
            }
            return sb.append("FULL_TABLE").append(method == ReplicationMethod.INCREMENTAL ? " (no replication key set for it)" : "")
                    .append(task.keyless() ? ", read in ctid ranges and replaced as a whole each run (no primary key)"
                            : ", read in key order by (" + String.join(", ", task.keyColumnNames()) + ")").toString();
        }
        Publications.Coverage coverage = publications.coverage(table.id());
        if (coverage == null || !coverage.published()) {
            boolean keyless = table.primaryKey().isEmpty() && table.replicaIdentity() == io.pgsource.catalog.ReplicaIdentity.DEFAULT
                    || table.replicaIdentity() == io.pgsource.catalog.ReplicaIdentity.NOTHING;
            return sb.append(createPublication
                    ? "not published yet: the first run publishes it in " + (keyless
                            ? Publications.keylessCompanion(firstPublication) + " (no key: inserts and truncates only)"
                            : firstPublication)
                    : "not published: add it to a publication of source.publication_name, or take it out of source.tables")
                    .toString();
        }
        sb.append("LOG_BASED, published by ").append(String.join(", ", coverage.publishedBy()));
        List<String> unpublished = publications.unpublishedActions(coverage);
        if (!unpublished.isEmpty()) {
            sb.append(" (not published: ").append(String.join(", ", unpublished)).append(")");
        }
        List<String> rejecting = coverage.isKeyless() ? publications.rejectingUpdates(coverage) : List.of();
        if (!rejecting.isEmpty()) {
            sb.append("; no replica identity while ").append(String.join(", ", rejecting))
                    .append(" publish updates and deletes: PostgreSQL rejects UPDATE and DELETE on it (ALTER TABLE ")
                    .append(table.id().quoted()).append(" REPLICA IDENTITY FULL, or a primary key)");
        }
        if (!coverage.unpublishedPartitions().isEmpty()) {
            sb.append("; partitions no publication covers: ").append(coverage.unpublishedPartitions().stream()
                    .map(TableId::quoted).collect(Collectors.joining(", ")));
        }
        Publications.Scope scope = coverage.scope(table.columns().stream().map(c -> c.name()).toList());
        if (scope.rowFilter() != null) {
            sb.append("; rows WHERE ").append(scope.rowFilter());
        }
        if (scope.columns() != null) {
            sb.append("; columns ").append(String.join(", ", scope.columns().stream().sorted().toList()));
        }
        return sb.toString();
    }

    /** As source.tables takes it: quoted only where a name needs it. */
    private static String name(TableId id) {
        return part(id.schema()) + "." + part(id.name());
    }

    private static String part(String identifier) {
        return identifier.matches("[a-z_][a-z0-9_$]*") ? identifier : TableId.quoteIdent(identifier);
    }
}
