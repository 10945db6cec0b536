package io.pgsource.pgoutput;

import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks, on an ordinary connection, that the server, the role, the publication and the slot are ready for this
 * endpoint, and fails with the exact fix when not ({@link PrerequisiteException}). Creates the publication when
 * {@code createPublication=true}. The slot itself is created over the replication connection (see
 * {@link ReplicationSession}), because only there it exports a snapshot.
 */
final class Prerequisites {
    private static final Logger LOG = LoggerFactory.getLogger(Prerequisites.class);

    /**
     * What the consumer needs to know after the checks.
     *
     * @param serverVersion   server_version_num
     * @param protocolVersion the pgoutput protocol version to use
     * @param slotExists      false when the slot is to be created (createSlot=true)
     * @param confirmedFlush  the slot's confirmed_flush_lsn, 0 when unknown
     */
    record Outcome(int serverVersion, int protocolVersion, boolean slotExists, long confirmedFlush) {
    }

    private final PgOutputConfiguration options;

    Prerequisites(PgOutputConfiguration options) {
        this.options = options;
    }

    Outcome check(Connection c) throws SQLException {
        requireLogicalWal(string(c, "SHOW wal_level"));
        int version = Integer.parseInt(string(c, "SHOW server_version_num"));
        requireReplicationRole(c);
        int protocol = protocolVersion(version, options.getProtocolVersion());
        SlotState slot = slot(c);
        checkPublication(c);
        return new Outcome(version, protocol, slot != null, slot == null ? 0 : slot.confirmedFlush);
    }

    /** The newest pgoutput protocol the server speaks. */
    static int newestProtocol(int serverVersion) {
        if (serverVersion >= 160000) {
            return 4;
        } else if (serverVersion >= 150000) {
            return 3;
        } else if (serverVersion >= 140000) {
            return 2;
        }
        return 1;
    }

    static int protocolVersion(int serverVersion, int requested) {
        int newest = newestProtocol(serverVersion);
        if (requested == 0) {
            return newest;
        }
        if (requested > newest) {
            throw new PrerequisiteException("pgoutput protocolVersion=" + requested + " needs a newer PostgreSQL: this server ("
                    + serverVersion + ") supports up to " + newest + ". Remove the option to use the newest it supports.");
        }
        return requested;
    }

    static void requireLogicalWal(String walLevel) {
        if (!"logical".equals(walLevel)) {
            throw new PrerequisiteException("PostgreSQL runs with wal_level = " + walLevel + "; logical replication needs"
                    + " wal_level = logical, which takes a server restart. Self-managed: set wal_level = logical in"
                    + " postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL, then check with"
                    + " SHOW wal_level. AWS RDS/Aurora: set rds.logical_replication = 1 in the DB parameter group and reboot."
                    + " Azure Database for PostgreSQL: set the server parameter wal_level = logical in the portal and restart.");
        }
    }

    private void requireReplicationRole(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_user, r.rolreplication OR r.rolsuper OR EXISTS (SELECT 1 FROM pg_roles g"
                     + " WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, 'MEMBER'))"
                     + " FROM pg_roles r WHERE r.rolname = current_user")) {
            if (rs.next() && !rs.getBoolean(2)) {
                String role = rs.getString(1);
                throw new PrerequisiteException("role " + TableId.quoteIdent(role) + " may not start logical replication: run "
                        + "ALTER ROLE " + TableId.quoteIdent(role) + " WITH REPLICATION; as a superuser (on RDS: GRANT rds_replication TO "
                        + TableId.quoteIdent(role) + ";)");
            }
        }
    }

    private record SlotState(long confirmedFlush) {
    }

    private SlotState slot(Connection c) throws SQLException {
        String slot = options.getSlot();
        try (PreparedStatement ps = c.prepareStatement("SELECT s.slot_type, s.plugin, s.database, current_database(),"
                + " to_jsonb(s) ->> 'wal_status', to_jsonb(s) ->> 'invalidation_reason', s.confirmed_flush_lsn::text"
                + " FROM pg_replication_slots s WHERE s.slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    if (!options.isCreateSlot()) {
                        throw new PrerequisiteException("replication slot " + TableId.quoteIdent(slot) + " does not exist: create it with"
                                + " SELECT pg_create_logical_replication_slot('" + slot.replace("'", "''") + "', 'pgoutput');"
                                + " or set createSlot=true");
                    }
                    requireFreeSlot(c);
                    return null;
                }
                String type = rs.getString(1);
                String plugin = rs.getString(2);
                String database = rs.getString(3);
                String current = rs.getString(4);
                String walStatus = rs.getString(5);
                String invalidation = rs.getString(6);
                String drop = "SELECT pg_drop_replication_slot('" + slot.replace("'", "''") + "');";
                if (!"logical".equals(type) || !"pgoutput".equals(plugin)) {
                    throw new PrerequisiteException("replication slot " + TableId.quoteIdent(slot) + " is a " + type + " slot"
                            + (plugin == null ? "" : " of plugin " + plugin) + ", not a logical slot of plugin pgoutput: pick"
                            + " another slot name, or drop it (" + drop + ") if nothing else uses it");
                }
                if (!current.equals(database)) {
                    throw new PrerequisiteException("replication slot " + TableId.quoteIdent(slot) + " belongs to database "
                            + TableId.quoteIdent(database) + ", not " + TableId.quoteIdent(current)
                            + ": a logical slot reads one database; pick another slot name for this one");
                }
                if ("lost".equals(walStatus) || invalidation != null) {
                    throw new PrerequisiteException("replication slot " + TableId.quoteIdent(slot) + " is invalidated ("
                            + (invalidation != null ? invalidation : "wal_status = lost") + "): the WAL it needed was removed,"
                            + " so changes were lost. Drop it (" + drop + "), create it again (or set createSlot=true),"
                            + " and copy the data again (initial snapshot) before streaming");
                }
                String confirmed = rs.getString(7);
                return new SlotState(confirmed == null ? 0 : LogSequenceNumber.valueOf(confirmed).asLong());
            }
        }
    }

    private void requireFreeSlot(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT (SELECT count(*) FROM pg_replication_slots),"
                     + " current_setting('max_replication_slots')::int")) {
            rs.next();
            long used = rs.getLong(1);
            int max = rs.getInt(2);
            if (used >= max) {
                throw new PrerequisiteException("cannot create replication slot " + TableId.quoteIdent(options.getSlot()) + ": all "
                        + max + " replication slots (max_replication_slots) are in use. Drop slots no longer used"
                        + " (SELECT slot_name, active FROM pg_replication_slots; SELECT pg_drop_replication_slot('name');)"
                        + " or raise max_replication_slots in postgresql.conf and restart PostgreSQL");
            }
        }
    }

    private void checkPublication(Connection c) throws SQLException {
        String pub = options.getPublication();
        List<TableId> wanted = tables(options.getPublicationTables());
        Boolean allTables = null;
        boolean updatesOrDeletes = true;
        try (PreparedStatement ps = c.prepareStatement("SELECT puballtables, pubupdate OR pubdelete FROM pg_publication WHERE pubname = ?")) {
            ps.setString(1, pub);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    allTables = rs.getBoolean(1);
                    updatesOrDeletes = rs.getBoolean(2);
                }
            }
        }
        for (TableId t : wanted) {
            requireTable(c, t);
        }
        String create = "CREATE PUBLICATION " + TableId.quoteIdent(pub) + (wanted.isEmpty() ? " FOR ALL TABLES"
                : " FOR TABLE " + String.join(", ", wanted.stream().map(TableId::quoted).toList()));
        if (allTables == null) {
            if (!options.isCreatePublication()) {
                throw new PrerequisiteException("publication " + TableId.quoteIdent(pub) + " does not exist: create it with "
                        + create + "; or set createPublication=true");
            }
            try (Statement s = c.createStatement()) {
                s.execute(create);
            }
            LOG.info("Created publication {}: {}", pub, create);
        } else if (!allTables) {
            for (TableId t : wanted) {
                requirePublished(c, pub, t);
            }
        }
        if (updatesOrDeletes) {
            requireReplicaIdentities(c, pub, wanted);
        }
    }

    /** {@code a.b, c} → tables; a name without schema is in public; surrounding double quotes are dropped. */
    static List<TableId> tables(String list) {
        List<TableId> tables = new ArrayList<>();
        if (list == null || list.isBlank()) {
            return tables;
        }
        for (String item : list.split(",")) {
            String name = item.trim();
            if (name.isEmpty()) {
                continue;
            }
            int dot = name.startsWith("\"") ? name.indexOf("\".") + 1 : name.indexOf('.');
            String schema = dot > 0 ? name.substring(0, dot) : "public";
            String table = dot > 0 ? name.substring(dot + 1) : name;
            tables.add(new TableId(unquote(schema), unquote(table)));
        }
        return tables;
    }

    private static String unquote(String s) {
        return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1).replace("\"\"", "\"") : s;
    }

    private static void requireTable(Connection c, TableId t) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = ? AND c.relname = ? AND c.relkind IN ('r', 'p')")) {
            ps.setString(1, t.schema());
            ps.setString(2, t.name());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new PrerequisiteException("publicationTables names " + t.quoted() + ", which is not a table of this database");
                }
            }
        }
    }

    private static void requirePublished(Connection c, String pub, TableId t) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT 1 FROM pg_publication_tables WHERE pubname = ? AND schemaname = ? AND tablename = ?")) {
            ps.setString(1, pub);
            ps.setString(2, t.schema());
            ps.setString(3, t.name());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new PrerequisiteException("publication " + TableId.quoteIdent(pub) + " does not include table " + t.quoted()
                            + ": run ALTER PUBLICATION " + TableId.quoteIdent(pub) + " ADD TABLE " + t.quoted() + ";");
                }
            }
        }
    }

    /**
     * Published tables without a key or replica identity: an error for the tables this consumer captures
     * ({@code publicationTables}, or every published table when that is empty), a warning for the others.
     */
    private static void requireReplicaIdentities(Connection c, String pub, List<TableId> wanted) throws SQLException {
        List<String> bad = new ArrayList<>();
        List<String> others = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, c.relname FROM pg_publication_tables pt"
                + " JOIN pg_namespace n ON n.nspname = pt.schemaname"
                + " JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename"
                + " WHERE pt.pubname = ? AND (c.relreplident = 'n'"
                + " OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))"
                + " OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))"
                + " ORDER BY 1, 2")) {
            ps.setString(1, pub);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    TableId t = new TableId(rs.getString(1), rs.getString(2));
                    (wanted.isEmpty() || wanted.contains(t) ? bad : others).add(t.quoted());
                }
            }
        }
        if (!others.isEmpty()) {
            LOG.warn("Publication {} also publishes {} without a primary key or replica identity: PostgreSQL rejects UPDATE and"
                    + " DELETE on them while published. Add a primary key or REPLICA IDENTITY FULL, or take them out of the publication",
                    pub, others);
        }
        if (!bad.isEmpty()) {
            StringBuilder fix = new StringBuilder();
            for (String t : bad) {
                fix.append(" ALTER TABLE ").append(t).append(" REPLICA IDENTITY FULL;");
            }
            throw new PrerequisiteException("published table" + (bad.size() > 1 ? "s " : " ") + String.join(", ", bad)
                    + (bad.size() > 1 ? " have" : " has") + " neither a primary key nor a usable replica identity, so PostgreSQL"
                    + " rejects their UPDATEs and DELETEs while published and cannot say which row changed. Add a primary key,"
                    + " or run:" + fix);
        }
    }

    private static String string(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
