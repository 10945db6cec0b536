package io.pgsource.verify;

import io.pgsource.backfill.BackfillCommand;
import io.pgsource.backfill.BackfillProgress;
import io.pgsource.backfill.BackfillRequest;
import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.StreamTask;
import io.pgsource.catalog.ColumnInfo;
import io.pgsource.catalog.Publications;
import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import io.pgsource.state.Positions;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.SQLException;
import java.text.NumberFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.postgresql.replication.LogSequenceNumber;

/**
 * {@code java -jar pgsource.jar verify [schema.table,...]} and {@code ... repair [schema.table,...]}: compares the
 * captured tables (or those named) at the source with their destination tables ({@link TableVerifier}), one line per
 * table; repair then backfills exactly the differing keys through the running instance (a {@link BackfillRequest} with
 * the keys: rows the source holds are copied, keys it does not hold are deleted at the destination) and verifies again.
 *
 * <p>Exit codes: 0 every table equal, 3 something differs, 2 bad input or a side that cannot be read (one line), 1 an
 * unexpected failure.
 */
public final class VerifyCommand {
    /** Differing keys kept per table (and repaired by one repair). */
    static final int KEY_CAP = 10_000;
    /** Differing keys printed per table. */
    static final int KEYS_SHOWN = 20;
    private static final Duration DEFAULT_WAIT = Duration.ofSeconds(60);

    private final PrintStream out;
    private final Settings settings;
    private final Duration wait;
    private final Side side;
    private Queries queries;
    private java.util.concurrent.Executor sourceThread;
    /** Whether no instance streamed the slot when verify first had to wait; null before. */
    private Boolean idle;

    private VerifyCommand(PrintStream out, Settings settings, Duration wait) {
        this.out = out;
        this.settings = settings;
        this.wait = wait;
        this.side = Side.of(settings);
    }

    /**
     * For the command line: the command's output is its lines, so the Camel context, the connection pools and the
     * catalog it starts log nothing below WARN.
     */
    public static void quiet() {
        for (String name : List.of("org.apache.camel", "org.apache.camel.impl.engine.AbstractCamelContext", "com.zaxxer.hikari",
                "io.pgsource.batch", "io.pgsource.catalog")) {
            if (org.slf4j.LoggerFactory.getLogger(name) instanceof ch.qos.logback.classic.Logger logger) {
                logger.setLevel(ch.qos.logback.classic.Level.WARN);
            }
        }
    }

    /**
     * Runs verify or repair ({@code args} without the command's word).
     *
     * @param repair whether to repair what differs
     */
    public static int run(boolean repair, List<String> args, Map<String, String> env, Properties system, PrintStream out,
            PrintStream err) {
        String command = repair ? "repair" : "verify";
        try {
            List<TableId> named = new ArrayList<>();
            Duration wait = DEFAULT_WAIT;
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                if (a.equals("--wait") || a.startsWith("--wait=")) {
                    String v = a.equals("--wait") ? (i + 1 < args.size() ? args.get(++i) : "") : a.substring("--wait=".length());
                    wait = SettingsLoader.duration("--wait", v, "write how long to wait for the destination to apply what the source"
                            + " committed, e.g. --wait 2m");
                } else if (a.startsWith("--")) {
                    throw new IllegalArgumentException("unknown option " + a + ": use " + command + " [schema.table,...] [--wait 60s]");
                } else {
                    for (String name : TableId.splitList(a)) {
                        named.add(TableId.parse(name));
                    }
                }
            }
            Settings settings = new SettingsLoader(EffectiveProperties.load(env, system)::getProperty).load();
            Side.of(settings); // an event destination first: nothing else matters then
            if (settings.source().host() == null) {
                throw new ConfigurationException(command + " needs the source: set source.host, source.database, source.username and"
                        + " source.password as for a run");
            }
            if (repair && settings.source().replicationMethod() != ReplicationMethod.LOG_BASED) {
                throw new ConfigurationException("repair backfills the differing keys through log replication, but"
                        + " source.replication_method=" + settings.source().replicationMethod() + ": the next "
                        + settings.source().replicationMethod() + " run copies the tables again anyway");
            }
            return new VerifyCommand(out, settings, wait).run(repair, named);
        } catch (ConfigurationException | IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        } catch (SQLException e) {
            err.println(command + " cannot read the source or the destination: " + firstLine(e.getMessage()));
            return 2;
        } catch (Exception e) {
            err.println(command + " failed: " + firstLine(String.valueOf(e.getMessage())));
            return 1;
        }
    }

    private int run(boolean repair, List<TableId> named) throws Exception {
        PgSourceConnections connections = new PgSourceConnections(settings.source());
        BatchStreams streams = new BatchStreams(settings.source(), connections);
        if (settings.source().replicationMethod() == ReplicationMethod.LOG_BASED) {
            List<String> publications = new ArrayList<>(Publications.names(settings.source().publicationName()));
            if (publications.size() == 1) {
                publications.add(Publications.keylessCompanion(publications.get(0)));
            }
            streams.publishedBy(publications); // the destination holds what the publications publish
        }
        List<StreamTask> tasks = new ArrayList<>(streams.streams());
        for (TableId t : named) {
            if (tasks.stream().noneMatch(task -> task.table().id().equals(t))) {
                throw new IllegalArgumentException(t.quoted() + " is not a captured table of source database " + settings.source().database()
                        + " (source.schema=" + String.join(",", settings.source().schemas()) + "): name captured tables as schema.table");
            }
        }
        if (!named.isEmpty()) {
            tasks.removeIf(task -> !named.contains(task.table().id()));
        }
        java.util.concurrent.ExecutorService thread = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "pgsource-verify-source");
            t.setDaemon(true);
            return t;
        });
        sourceThread = thread;
        try (Queries q = new Queries(sourceDataSource(connections), side.dataSource(settings.destination()))) {
            queries = q;
            Map<TableId, TableVerifier.Result> results = verify(tasks, true);
            boolean equal = results.values().stream().allMatch(r -> r != null && r.equal());
            if (!repair || equal) {
                return equal ? 0 : 3;
            }
            return repair(tasks, results) ? 0 : 3;
        } finally {
            thread.shutdownNow();
        }
    }

    /** Compares each table; prints its line when asked to. A null result: the destination has no such table. */
    private Map<TableId, TableVerifier.Result> verify(List<StreamTask> tasks, boolean print) throws SQLException {
        Map<TableId, TableVerifier.Result> results = new LinkedHashMap<>();
        for (StreamTask task : tasks) {
            TableId id = task.table().id();
            TableId target = settings.destination().table(id);
            Map<String, String> destinationTypes = side.columns(queries, target, settings.destination());
            if (destinationTypes.isEmpty()) {
                results.put(id, null);
                out.println(id + ": differs: the destination has no table " + side.display(target) + " (pgsource creates it when it copies "
                        + id + ")");
                continue;
            }
            List<Dialect.Col> sourceCols = new ArrayList<>();
            List<Dialect.Col> targetCols = new ArrayList<>();
            for (ColumnInfo c : task.table().columns()) {
                String there = destinationTypes.get(side.columnName(c.name()));
                if (there == null) {
                    continue; // not (yet) at the destination: the stream adds it with its first change
                }
                String base = c.column().baseTypeName() == null || c.column().baseTypeName().isBlank() ? c.column().typeName()
                        : c.column().baseTypeName();
                sourceCols.add(new Dialect.Col(c.name(), task.table().readExpression(c.name()), c.column().typeName(), base, there));
                targetCols.add(new Dialect.Col(c.name(), side.quoteColumn(c.name()), there, base, there));
            }
            List<Dialect.Col> sourceKey = new ArrayList<>();
            List<Dialect.Col> targetKey = new ArrayList<>();
            for (String k : task.keyColumnNames()) {
                for (int i = 0; i < sourceCols.size(); i++) {
                    if (sourceCols.get(i).name().equals(k)) {
                        sourceKey.add(sourceCols.get(i));
                        targetKey.add(targetCols.get(i));
                    }
                }
            }
            if (sourceKey.size() != task.keyColumnNames().size()) {
                sourceKey.clear();
                targetKey.clear();
            }
            Dialect.Table s = new Dialect.Table(id.quoted(), sourceCols, sourceKey, task.table().rowFilter());
            Dialect.Table d = new Dialect.Table(side.quoteTable(target), targetCols, targetKey,
                    settings.destination().softDelete() && destinationTypes.containsKey("_deleted_at")
                            ? side.quoteColumn("_deleted_at") + " IS NULL" : null);
            TableVerifier.Result r = new TableVerifier(queries, side.sourceDialect(), s, side.dialect(), d, KEY_CAP, sourceThread)
                    .compare(catchUp());
            results.put(id, r);
            if (print) {
                out.println(line(id, task, r));
            }
        }
        return results;
    }

    private String line(TableId id, StreamTask task, TableVerifier.Result r) {
        NumberFormat n = NumberFormat.getIntegerInstance(Locale.ROOT);
        n.setGroupingUsed(true);
        if (task.keyless()) {
            return id + (r.equal() ? ": equal (" + n.format(r.sourceRows()) + " rows" : ": differs (" + n.format(r.sourceRows())
                    + " rows at the source, " + n.format(r.destinationRows()) + " at the destination")
                    + "; no primary key: compared by the count and checksum of all rows, without key ranges"
                    + (r.equal() ? ")" : ", so the differing rows are not named; backfill " + id + " copies it whole)");
        }
        if (r.equal()) {
            return id + ": equal (" + n.format(r.sourceRows()) + " rows)";
        }
        String keys = r.differing().stream().limit(KEYS_SHOWN)
                .map(k -> "(" + String.join(", ", task.keyColumnNames()) + ")=(" + String.join(", ", k.key()) + ") " + k.kind().text)
                .collect(Collectors.joining("; "));
        int count = r.differing().size();
        return id + ": differs: " + (r.capped() ? "more than " + n.format(count) : n.format(count)) + " key" + (count == 1 && !r.capped() ? "" : "s")
                + (count == 0 ? "" : ": " + keys + (count > KEYS_SHOWN ? "; …" : ""));
    }

    /**
     * Backfills the differing keys of each table through the running instance, waits until it applied them, and verifies
     * those tables again; true when they are equal then.
     */
    private boolean repair(List<StreamTask> tasks, Map<TableId, TableVerifier.Result> results) throws Exception {
        PgSourceConnections connections = new PgSourceConnections(settings.source());
        Map<TableId, String> requested = new LinkedHashMap<>();
        List<StreamTask> again = new ArrayList<>();
        try (Connection c = connections.open()) {
            for (StreamTask task : tasks) {
                TableId id = task.table().id();
                TableVerifier.Result r = results.get(id);
                if (r != null && r.equal()) {
                    continue;
                }
                if (task.keyless() || r == null || r.differing().isEmpty()) {
                    out.println(id + ": not repaired: " + (r == null ? "the destination has no table for it; restart pgsource, which copies it"
                            : task.keyless() ? "it has no primary key; run backfill " + id + " to copy it whole"
                            : "the differences were not narrowed to keys"));
                    continue;
                }
                List<List<String>> keys = sourceKeys(task, r.differing());
                BackfillRequest request = new BackfillRequest(List.of(id), where(task, keys), keys);
                requested.put(id, BackfillCommand.request(c, settings, request));
                again.add(task);
            }
            if (requested.isEmpty()) {
                return false;
            }
            Boolean active = slotActive(c);
            for (Map.Entry<TableId, String> e : requested.entrySet()) {
                out.println(e.getKey() + ": repair requested at LSN " + e.getValue() + " for " + results.get(e.getKey()).differing().size()
                        + " key(s)");
            }
            if (!Boolean.TRUE.equals(active)) {
                out.println("No pgsource instance streams slot " + settings.source().replicationSlot() + " now: the repair waits in the slot,"
                        + " and the next run applies it (before the changes committed after it); run verify after that run caught up");
                return false;
            }
        }
        long deadline = System.nanoTime() + wait.toNanos();
        for (Map.Entry<TableId, String> e : requested.entrySet()) {
            while (!repaired(e.getKey(), e.getValue())) {
                if (System.nanoTime() > deadline) {
                    out.println(e.getKey() + ": the repair was not applied within " + wait.toSeconds() + "s; it stays requested: run verify"
                            + " later, or repair again with a longer --wait");
                    return false;
                }
                Thread.sleep(200);
            }
        }
        out.println("Repair applied; verifying again:");
        Map<TableId, TableVerifier.Result> after = verify(again, true);
        boolean othersEqual = results.entrySet().stream().filter(e -> !after.containsKey(e.getKey()))
                .allMatch(e -> e.getValue() != null && e.getValue().equal());
        return othersEqual && after.values().stream().allMatch(r -> r != null && r.equal());
    }

    /** The condition on the differing keys: {@code ("id") IN ((CAST('5' AS integer)), ...)}, the source's types. */
    /** The differing keys as PostgreSQL's text forms (what a backfill reads and the instance decodes). */
    private List<List<String>> sourceKeys(StreamTask task, List<TableVerifier.KeyDiff> differing) {
        List<String> types = new ArrayList<>();
        for (String k : task.keyColumnNames()) {
            task.table().columns().stream().filter(c -> c.name().equals(k)).findFirst().ifPresent(c -> types.add(
                    c.column().baseTypeName() == null || c.column().baseTypeName().isBlank() ? c.column().typeName() : c.column().baseTypeName()));
        }
        List<List<String>> out = new ArrayList<>(differing.size());
        for (TableVerifier.KeyDiff d : differing) {
            List<String> key = new ArrayList<>(d.key().size());
            for (int i = 0; i < d.key().size(); i++) {
                key.add(side.sourceText(i < types.size() ? types.get(i) : "", d.key().get(i)));
            }
            out.add(key);
        }
        return out;
    }

    private static String where(StreamTask task, List<List<String>> keys) {
        List<String> columns = task.keyColumnNames();
        Map<String, String> types = new HashMap<>();
        task.table().columns().forEach(c -> types.put(c.name(), c.column().typeName()));
        StringBuilder sql = new StringBuilder("(");
        sql.append(columns.stream().map(TableId::quoteIdent).collect(Collectors.joining(", "))).append(") IN (");
        for (int k = 0; k < keys.size(); k++) {
            sql.append(k == 0 ? "(" : ", (");
            List<String> key = keys.get(k);
            for (int i = 0; i < columns.size(); i++) {
                sql.append(i == 0 ? "" : ", ").append("CAST('").append(key.get(i).replace("'", "''")).append("' AS ")
                        .append(types.get(columns.get(i))).append(')');
            }
            sql.append(')');
        }
        return sql.append(')').toString();
    }

    /** Whether the destination holds the backfill of this request as done. */
    private boolean repaired(TableId table, String request) throws SQLException {
        String stored = side.storedPosition(queries, settings.destination(), Positions.backfill(table));
        BackfillProgress p = stored == null ? null : BackfillProgress.parse(stored);
        return p != null && p.done() && p.request().equals(request);
    }

    private Boolean slotActive(Connection c) throws SQLException {
        try (var ps = c.prepareStatement("SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, settings.source().replicationSlot());
            try (var rs = ps.executeQuery()) {
                return rs.next() ? rs.getBoolean(1) : null;
            }
        }
    }

    /** Log replication: waits for the destination to apply what the source committed; batch methods: no waiting. */
    private TableVerifier.CatchUp catchUp() {
        boolean streaming = settings.source().replicationMethod() == ReplicationMethod.LOG_BASED;
        return new TableVerifier.CatchUp() {
            @Override
            public String position() throws SQLException {
                if (!streaming) {
                    return null;
                }
                return String.valueOf(queries.one(Queries.SOURCE, "SELECT pg_catalog.pg_current_wal_lsn()::text AS l", Map.of()).get("l"));
            }

            @Override
            public boolean await(String lsn) throws SQLException {
                long target = LogSequenceNumber.valueOf(lsn).asLong();
                long deadline = System.nanoTime() + wait.toNanos();
                while (applied() < target) {
                    if (System.nanoTime() > deadline || !streaming()) {
                        return false; // nothing applies the source's changes now: what differs is reported as it is
                    }
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return false;
                    }
                }
                return true;
            }
        };
    }

    /** Whether a pgsource instance streams the slot now (else nobody applies the source's changes: no use waiting). */
    private boolean streaming() throws SQLException {
        if (idle == null) {
            Object active = queries.one(Queries.SOURCE, "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = :?slot",
                    Map.of("slot", settings.source().replicationSlot())).get("active");
            idle = !Boolean.TRUE.equals(active);
            if (idle) {
                out.println("No pgsource instance streams slot " + settings.source().replicationSlot() + " now: differences the stream"
                        + " would still bring are reported too");
            }
        }
        return !idle;
    }

    /**
     * How far the destination applied the source: the commit LSN it stores for the slot, or the slot's confirmed flush
     * position (which pgsource moves only past what the destination made durable, and on keepalives while idle).
     */
    private long applied() throws SQLException {
        String slot = settings.source().replicationSlot();
        long best = 0;
        String stored = side.storedPosition(queries, settings.destination(), "slot:" + slot);
        if (stored != null && !stored.contains("#")) { // X/X#n: a part of a transaction, not all of it
            best = LogSequenceNumber.valueOf(stored).asLong();
        }
        Map<String, Object> row = queries.one(Queries.SOURCE,
                "SELECT confirmed_flush_lsn::text AS l FROM pg_catalog.pg_replication_slots WHERE slot_name = :?slot", Map.of("slot", slot));
        Object flushed = row.get("l");
        if (flushed != null) {
            best = Math.max(best, LogSequenceNumber.valueOf(flushed.toString()).asLong());
        }
        return best;
    }

    private static javax.sql.DataSource sourceDataSource(PgSourceConnections connections) throws SQLException {
        org.postgresql.ds.PGSimpleDataSource ds = connections.dataSource();
        Properties p = connections.jdbcProperties();
        for (String k : p.stringPropertyNames()) {
            if (!k.equals("user") && !k.equals("password")) {
                ds.setProperty(k, p.getProperty(k));
            }
        }
        ds.setApplicationName("pgsource verify");
        return ds;
    }

    private static String firstLine(String message) {
        String m = message == null ? "" : message.strip();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
