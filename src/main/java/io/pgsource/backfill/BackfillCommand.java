package io.pgsource.backfill;

import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;

/**
 * {@code java -jar pgsource.jar backfill schema.table[,schema.table...] [--where "<condition>"]}: asks the instance
 * that streams the slot to copy these tables again in chunks while the others keep streaming.
 *
 * <p>The request is a transactional logical decoding message in the source's WAL ({@link BackfillRequest}), not a row of
 * a signal table: it needs no table created at the source and nothing added to the publication (a FOR ALL TABLES or
 * FOR TABLES IN SCHEMA one would publish a signal table to every other subscriber, and one made by hand would need it
 * added), it reaches exactly the slots that decode this database, and a slot keeps it until applied, so an instance
 * that is down, or a standby that takes over (sync.ha), still meets it. The watermarks the backfill writes need
 * the same pgoutput messages (PostgreSQL 14+); any role may write one (no privilege beyond connecting).
 *
 * <p>Every table and the condition are checked at the source first (the condition with {@code EXPLAIN}, in a
 * read-only transaction): an unknown table, one pgsource does not capture, or a condition PostgreSQL refuses ends the
 * command with exit code 2 and one line saying why, and nothing is requested.
 */
public final class BackfillCommand {
    private BackfillCommand() {
    }

    /** Runs the command ({@code args} without the word backfill); returns the exit code: 0 requested, 2 refused. */
    public static int run(List<String> args, Map<String, String> env, Properties system, PrintStream out, PrintStream err) {
        try {
            Request request = parse(args);
            Settings settings = new SettingsLoader(EffectiveProperties.load(env, system)::getProperty).load();
            if (settings.source().replicationMethod() != ReplicationMethod.LOG_BASED) {
                throw new ConfigurationException("backfill copies tables while log replication streams, but source.replication_method="
                        + settings.source().replicationMethod() + ": set it to LOG_BASED (FULL_TABLE copies every table on each run anyway)");
            }
            if (settings.source().host() == null) {
                throw new ConfigurationException("backfill needs the source: set source.host, source.database, source.username and"
                        + " source.password as for the running instance");
            }
            String lsn;
            try (Connection c = new PgSourceConnections(settings.source()).open()) {
                check(c, settings, request);
                lsn = request(c, settings, new BackfillRequest(request.tables, request.where));
            }
            out.println("Backfill requested at LSN " + lsn + " for " + request.tables.stream().map(TableId::quoted)
                    .collect(Collectors.joining(", ")) + (request.where == null ? "" : " (rows where " + request.where + ")")
                    + ": the instance streaming slot " + settings.source().replicationSlot() + " copies them in chunks of"
                    + " source.backfill_chunk_size rows while the other tables stream");
            return 0;
        } catch (ConfigurationException | IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        } catch (SQLException e) {
            err.println("cannot request the backfill at the source: " + e.getMessage());
            return 2;
        }
    }

    /**
     * Writes a request, signed with the source's credentials, into the source's WAL; returns the LSN of its message, by
     * which the destination's backfill progress names it ({@link BackfillProgress#request()}).
     */
    public static String request(Connection c, Settings settings, BackfillRequest request) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.pg_logical_emit_message(true, ?, ?)::text")) {
            ps.setString(1, BackfillRequest.PREFIX);
            ps.setString(2, request.content(BackfillRequest.key(settings.source().username(), settings.source().password())));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private record Request(List<TableId> tables, String where) {
    }

    private static Request parse(List<String> args) {
        List<TableId> tables = new ArrayList<>();
        String where = null;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--where")) {
                if (i + 1 >= args.size() || args.get(i + 1).isBlank()) {
                    throw new IllegalArgumentException("--where needs a condition: backfill schema.table --where \"id > 1000\"");
                }
                where = args.get(++i).strip();
            } else if (a.startsWith("--where=")) {
                where = a.substring("--where=".length()).strip();
            } else if (a.startsWith("--")) {
                throw new IllegalArgumentException("unknown option " + a + ": use backfill schema.table[,schema.table...] [--where \"<condition>\"]");
            } else {
                for (String name : TableId.splitList(a)) {
                    tables.add(TableId.parse(name));
                }
            }
        }
        if (tables.isEmpty()) {
            throw new IllegalArgumentException("backfill needs the tables to copy again: backfill schema.table[,schema.table...]"
                    + " [--where \"<condition>\"]");
        }
        return new Request(tables, where == null || where.isEmpty() ? null : where);
    }

    private static void check(Connection c, Settings settings, Request request) throws SQLException {
        int major = c.getMetaData().getDatabaseMajorVersion();
        if (major < 14) {
            throw new ConfigurationException("backfill needs PostgreSQL 14 or newer (the source is " + major + "): pgoutput delivers no"
                    + " logical decoding messages before 14, which carry the request and the chunks' watermarks; on " + major
                    + " copy every table again with sync.resnapshot=true");
        }
        List<String> schemas = settings.source().schemas();
        List<TableId> selected = settings.source().tables();
        for (TableId table : request.tables) {
            Boolean keyed = null;
            try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = r.oid"
                    + " AND i.indisprimary) FROM pg_catalog.pg_class r JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
                    + " WHERE n.nspname = ? AND r.relname = ? AND r.relkind IN ('r', 'p')")) {
                ps.setString(1, table.schema());
                ps.setString(2, table.name());
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        keyed = rs.getBoolean(1);
                    }
                }
            }
            if (keyed == null) {
                throw new IllegalArgumentException(table.quoted() + " is not a table of source database " + settings.source().database()
                        + ": name an existing table as schema.table (quote a name with capitals or dots: \"My Schema\".\"T\")");
            }
            if (!schemas.contains(table.schema()) || !(selected.isEmpty() || selected.contains(table))) {
                throw new IllegalArgumentException(table.quoted() + " is not captured (source.schema=" + String.join(",", schemas)
                        + (selected.isEmpty() ? "" : ", source.tables=" + selected.stream().map(TableId::toString).collect(Collectors.joining(",")))
                        + "): add it there first; a backfill copies captured tables only");
            }
            if (request.where != null) {
                if (!keyed) {
                    throw new IllegalArgumentException(table.quoted() + " has no primary key, so it is copied whole inside an exported"
                            + " snapshot, not in chunks: drop --where for it");
                }
                explain(c, table, request.where);
            }
        }
    }

    /** Plans the chunk's query with the condition, read-only and rolled back: PostgreSQL says what is wrong with it. */
    private static void explain(Connection c, TableId table, String where) throws SQLException {
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try (var s = c.createStatement()) {
            s.execute("SET TRANSACTION READ ONLY");
            // a prepared statement holds one command only: the condition cannot end it and start another
            try (PreparedStatement ps = c.prepareStatement("EXPLAIN SELECT 1 FROM " + table.quoted() + " WHERE (" + where + ")")) {
                ps.executeQuery().close();
            }
        } catch (SQLException e) {
            throw new IllegalArgumentException("--where \"" + where + "\" is not a condition on " + table.quoted() + ": "
                    + firstLine(e.getMessage()) + " — write it as in WHERE ... of a SELECT from that table", e);
        } finally {
            c.rollback();
            c.setAutoCommit(auto);
        }
    }

    private static String firstLine(String message) {
        String m = message == null ? "" : message.strip();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
