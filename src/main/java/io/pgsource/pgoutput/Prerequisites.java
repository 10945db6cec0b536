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

    /** The checks before this consumer first streams from the slot. */
    Outcome check(Connection c) throws SQLException {
        return check(c, null);
    }

    /**
     * The checks before a session starts.
     *
     * @param streamedUpTo null before this consumer first streamed from the slot; after that, the LSN it acknowledged
     *                     (0 when none yet). Then a missing slot or a captured table missing from the publication is no
     *                     longer a setup step to fix but lost changes ({@link SlotLostException}): the slot is not
     *                     created again, and the publication not recreated.
     */
    Outcome check(Connection c, Long streamedUpTo) throws SQLException {
        requireLogicalWal(string(c, "SHOW wal_level"));
        int version = Integer.parseInt(string(c, "SHOW server_version_num"));
        requireReplicationRole(c);
        int protocol = protocolVersion(version, options.getProtocolVersion());
        SlotState slot = slot(c, streamedUpTo);
        checkPublication(c, streamedUpTo);
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

    private SlotState slot(Connection c, Long streamedUpTo) throws SQLException {
        String slot = options.getSlot();
        try (PreparedStatement ps = c.prepareStatement("SELECT s.slot_type, s.plugin, s.database, current_database(),"
                + " to_jsonb(s) ->> 'wal_status', to_jsonb(s) ->> 'invalidation_reason', s.confirmed_flush_lsn::text"
                + " FROM pg_replication_slots s WHERE s.slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    if (streamedUpTo != null) {
                        throw dropped(slot, streamedUpTo);
                    }
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
                    throw invalidated(slot, invalidation);
                }
                String confirmed = rs.getString(7);
                return new SlotState(confirmed == null ? 0 : LogSequenceNumber.valueOf(confirmed).asLong());
            }
        }
    }

    /** The slot is gone after this consumer streamed from it: what was committed after its last acknowledgement is lost. */
    static SlotLostException dropped(String slot, long acknowledged) {
        return new SlotLostException(SlotLostException.Reason.DROPPED, "replication slot " + TableId.quoteIdent(slot)
                + " no longer exists: it was dropped while this consumer was streaming from it (everything up to LSN "
                + PgOutputEndpoint.lsn(acknowledged) + " was applied and acknowledged). The changes committed after that were"
                + " kept only by the slot: they cannot be streamed any more and may be missing downstream. Create a new slot and"
                + " copy the tables again before streaming (createSlot=true with a snapshotHandler does both)");
    }

    /** The server removed WAL the slot still needed (max_slot_wal_keep_size, or another invalidation cause). */
    static SlotLostException invalidated(String slot, String cause) {
        String drop = "SELECT pg_drop_replication_slot('" + slot.replace("'", "''") + "');";
        return new SlotLostException(SlotLostException.Reason.INVALIDATED, "replication slot " + TableId.quoteIdent(slot)
                + " is invalidated (" + (cause != null ? cause : "wal_status = lost") + "): the server removed WAL it still"
                + " needed (usually because it fell further behind than max_slot_wal_keep_size allows), so changes were lost."
                + " Drop it (" + drop + "), create it again (or set createSlot=true), and copy the data again (initial"
                + " snapshot) before streaming");
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

    private void checkPublication(Connection c, Long streamedUpTo) throws SQLException {
        String pub = options.getPublication();
        List<TableId> wanted = tables(options.getPublicationTables());
        if (streamedUpTo != null) {
            // the publication and its tables were fine when this consumer started streaming: a change since lost changes
            PublicationState state = publicationState(c, pub, wanted);
            if (!state.exists() || !state.unpublished().isEmpty()) {
                throw unpublished(pub, state, streamedUpTo);
            }
            if (state.updatesOrDeletes()) {
                requireReplicaIdentities(c, pub, wanted);
            }
            return;
        }
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
            } catch (SQLException e) {
                if ("42501".equals(e.getSQLState())) {
                    throw cannotCreatePublication(c, create, e);
                }
                throw e;
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

    /**
     * CREATE PUBLICATION needs CREATE on the database, and ownership of every listed table (FOR ALL TABLES: superuser).
     * Says which is missing, and the alternative: an administrator creates the publication once.
     */
    private static PrerequisiteException cannotCreatePublication(Connection c, String create, SQLException e) throws SQLException {
        String role;
        String database;
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT current_user, current_database()")) {
            rs.next();
            role = TableId.quoteIdent(rs.getString(1));
            database = TableId.quoteIdent(rs.getString(2));
        }
        String reason = String.valueOf(e.getMessage());
        String fix = reason.contains("for database") ? " Give the role the CREATE privilege on the database: GRANT CREATE ON DATABASE "
                + database + " TO " + role + ";"
                : reason.contains("must be owner") ? " A table may be published only by its owner: make " + role
                + " the owner of the tables (ALTER TABLE ... OWNER TO " + role + ";)."
                : reason.contains("superuser") ? " FOR ALL TABLES needs a superuser: list the tables instead (publicationTables)."
                : "";
        return new PrerequisiteException("role " + role + " may not create the publication (" + reason.strip() + ")." + fix
                + " Or have an administrator (a superuser, or the tables' owner) run " + create
                + "; once: with the publication in place the role needs only REPLICATION and SELECT on the tables.");
    }

    /**
     * Where the tables a consumer captures stand in its publication.
     *
     * @param exists      whether the publication exists
     * @param updatesOrDeletes whether it publishes updates or deletes (replica identities matter then)
     * @param unpublished captured tables that exist but are not published
     * @param missing     captured tables that no longer exist under their name (dropped or renamed)
     */
    record PublicationState(boolean exists, boolean updatesOrDeletes, List<TableId> unpublished, List<TableId> missing) {
    }

    static PublicationState publicationState(Connection c, String pub, List<TableId> wanted) throws SQLException {
        boolean exists;
        boolean updatesOrDeletes;
        try (PreparedStatement ps = c.prepareStatement("SELECT pubupdate OR pubdelete FROM pg_publication WHERE pubname = ?")) {
            ps.setString(1, pub);
            try (ResultSet rs = ps.executeQuery()) {
                exists = rs.next();
                updatesOrDeletes = exists && rs.getBoolean(1);
            }
        }
        List<TableId> unpublished = new ArrayList<>();
        List<TableId> missing = new ArrayList<>();
        if (!exists || wanted.isEmpty()) {
            return new PublicationState(exists, updatesOrDeletes, unpublished, missing);
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT w.s, w.t, c.oid IS NOT NULL, EXISTS (SELECT 1 FROM pg_publication_tables pt"
                + " WHERE pt.pubname = ? AND pt.schemaname = w.s AND pt.tablename = w.t)"
                + " FROM unnest(?::text[], ?::text[]) AS w(s, t)"
                + " LEFT JOIN pg_namespace n ON n.nspname = w.s"
                + " LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.t AND c.relkind IN ('r', 'p')")) {
            ps.setString(1, pub);
            ps.setArray(2, c.createArrayOf("text", wanted.stream().map(TableId::schema).toArray()));
            ps.setArray(3, c.createArrayOf("text", wanted.stream().map(TableId::name).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    TableId t = new TableId(rs.getString(1), rs.getString(2));
                    if (!rs.getBoolean(3)) {
                        missing.add(t);
                    } else if (!rs.getBoolean(4)) {
                        unpublished.add(t);
                    }
                }
            }
        }
        return new PublicationState(true, updatesOrDeletes, unpublished, missing);
    }

    /** Captured tables left the publication (or it was dropped) after this consumer streamed from it. */
    static SlotLostException unpublished(String pub, PublicationState state, long acknowledged) {
        String p = TableId.quoteIdent(pub);
        if (!state.exists()) {
            return new SlotLostException(SlotLostException.Reason.UNPUBLISHED, "publication " + p + " no longer exists: it was"
                    + " dropped while this consumer was streaming it (applied and acknowledged up to LSN " + PgOutputEndpoint.lsn(acknowledged)
                    + "). PostgreSQL cannot decode the changes made since through it, so they may be missing downstream. Create the"
                    + " publication again, then a new slot, and copy the tables again before streaming");
        }
        List<String> names = state.unpublished().stream().map(TableId::quoted).toList();
        String list = String.join(", ", names);
        boolean one = names.size() == 1;
        return new SlotLostException(SlotLostException.Reason.UNPUBLISHED, (one ? "table " : "tables ") + list + (one ? " was" : " were")
                + " taken out of publication " + p + " while this consumer was streaming it (applied and acknowledged up to LSN "
                + PgOutputEndpoint.lsn(acknowledged) + "). PostgreSQL sends no changes of unpublished tables and never sends the"
                + " ones made meanwhile later, so changes to " + (one ? "it" : "them") + " may be missing downstream. Either add "
                + (one ? "it" : "them") + " back (ALTER PUBLICATION " + p + " ADD TABLE " + list + ";) and copy the tables again"
                + " from a new slot, or stop capturing " + (one ? "it" : "them") + " (take " + (one ? "it" : "them")
                + " out of publicationTables)");
    }

    /** {@code a.b, "x,y"."z", c} → tables; a name without schema is in public; surrounding double quotes are dropped. */
    static List<TableId> tables(String list) {
        List<TableId> tables = new ArrayList<>();
        if (list == null || list.isBlank()) {
            return tables;
        }
        // quote-aware: a quoted name may hold commas, dots and doubled quotes
        for (String name : TableId.splitList(list)) {
            try {
                tables.add(TableId.parse(name));
            } catch (IllegalArgumentException noSchema) {
                tables.add(TableId.parse("public." + name));
            }
        }
        return tables;
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
