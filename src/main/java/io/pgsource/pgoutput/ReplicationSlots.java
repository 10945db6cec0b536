package io.pgsource.pgoutput;

import io.pgsource.change.TableId;
import io.pgsource.pgoutput.protocol.PgOutputDecoder;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place pgsource touches logical replication slots: it creates them (permanent, or temporary for a copy),
 * drops them, reads their state and lag, and words the SQL a user runs to fix one. Every other class asks here.
 *
 * <p>A slot is created over a replication connection, where alone a new slot exports the snapshot its stream starts
 * from. On PostgreSQL 17 and newer a permanent slot is a failover slot: a standby running with
 * {@code sync_replication_slots = on} keeps a copy of it, so streaming resumes from the promoted standby after a
 * failover (managed servers fail over this way). A temporary slot, which ends with its session, cannot be one, nor a
 * slot created on a standby.
 */
public final class ReplicationSlots {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicationSlots.class);

    private ReplicationSlots() {
    }

    /**
     * A slot as {@code pg_replication_slots} shows it (and {@code pg_stat_activity} its holder), read in one query with
     * the server's WAL position.
     *
     * @param exists             false when there is no slot of that name (every slot field is null then)
     * @param serverLsn          the server's WAL position (its replay position on a standby)
     * @param currentDatabase    the database of the connection that read it
     * @param type               {@code slot_type} (logical, physical)
     * @param plugin             the output plugin
     * @param database           the database a logical slot reads
     * @param activePid          the process streaming from it, or null
     * @param clientAddr         that process's client address, or null
     * @param applicationName    that process's application_name, or null
     * @param confirmedFlush     {@code confirmed_flush_lsn}, or null
     * @param walStatus          {@code wal_status} (reserved, extended, unreserved, lost), null before PostgreSQL 13
     * @param safeWalSize        bytes that can still be written before the slot is in danger of invalidation, or null
     * @param invalidationReason why the server invalidated it (PostgreSQL 17+), or null
     */
    public record State(boolean exists, long serverLsn, String currentDatabase, String type, String plugin, String database,
            Integer activePid, String clientAddr, String applicationName, Long confirmedFlush, String walStatus, Long safeWalSize,
            String invalidationReason) {

        /** Whether the server removed WAL the slot still needed: it can no longer deliver every change. */
        public boolean invalidated() {
            return "lost".equals(walStatus) || invalidationReason != null;
        }

        /**
         * WAL bytes between the server's position and what was applied: the later of {@code acknowledged} (what a
         * consumer acknowledged, 0 when none) and the slot's confirmed position.
         */
        public long lagBytes(long acknowledged) {
            long applied = Math.max(acknowledged, confirmedFlush == null ? 0 : confirmedFlush);
            return Math.max(0, serverLsn - applied);
        }

        /** The confirmed position in PostgreSQL's X/X form, or "null". */
        public String confirmedPoint() {
            return confirmedFlush == null ? "null" : PgOutputDecoder.lsn(confirmedFlush);
        }
    }

    /** The slot's state, on an ordinary connection (or a replication connection, which runs it in simple query mode). */
    public static State state(Connection c, String slot) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
                + " ELSE pg_current_wal_lsn() END) - '0/0'::pg_lsn, current_database(), s.slot_name IS NOT NULL, s.slot_type,"
                + " s.plugin, s.database, s.active_pid, host(a.client_addr), a.application_name,"
                + " s.confirmed_flush_lsn - '0/0'::pg_lsn, to_jsonb(s) ->> 'wal_status', to_jsonb(s) ->> 'safe_wal_size',"
                + " to_jsonb(s) ->> 'invalidation_reason'"
                + " FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = ?"
                + " LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                String safe = rs.getString(12);
                return new State(rs.getBoolean(3), rs.getLong(1), rs.getString(2), rs.getString(4), rs.getString(5), rs.getString(6),
                        (Integer) rs.getObject(7), rs.getString(8), rs.getString(9), rs.getObject(10) == null ? null : rs.getLong(10),
                        rs.getString(11), safe == null ? null : Long.valueOf(safe), rs.getString(13));
            }
        }
    }

    /**
     * Creates the slot and returns its exported snapshot, valid until the connection runs its next command.
     *
     * @param replication a {@code replication=database} connection
     * @param temporary   a slot dropped when the connection closes (never a failover slot)
     */
    public static SlotCreated create(Connection replication, String slot, boolean temporary) throws SQLException {
        return create(replication, slot, temporary, true);
    }

    /**
     * Creates the slot, exporting its snapshot or not.
     *
     * @param export false: the slot exports no snapshot (its {@link SlotCreated#snapshotName()} is null), for a stream
     *               whose copy does not need one (chunked backfills)
     */
    public static SlotCreated create(Connection replication, String slot, boolean temporary, boolean export) throws SQLException {
        int major = replication.getMetaData().getDatabaseMajorVersion();
        boolean failover = !temporary && major >= 17 && !inRecovery(replication);
        SlotCreated created;
        try (Statement s = replication.createStatement(); ResultSet rs = s.executeQuery(command(slot, temporary, major, failover, export))) {
            rs.next();
            created = new SlotCreated(rs.getString("slot_name"), rs.getString("snapshot_name"),
                    LogSequenceNumber.valueOf(rs.getString("consistent_point")).asLong());
        }
        if (!temporary) {
            LOG.info("Created replication slot {} at consistent point {} ({}{})", slot, created.consistentPoint(),
                    created.snapshotName() == null ? "no snapshot exported" : "exported snapshot " + created.snapshotName(), failover ? "; a failover slot: standbys with sync_replication_slots = on keep it"
                            : major >= 17 ? "; not a failover slot: the server is a standby" : "");
        }
        return created;
    }

    /**
     * Creates a temporary slot for a copy, named after this process: its exported snapshot is what the copy reads, its
     * consistent point where the copy and the stream meet. Closing the replication connection drops it.
     */
    public static SlotCreated createForCopy(Connection replication) throws SQLException {
        return create(replication, "pgsource_copy_" + ProcessHandle.current().pid(), true);
    }

    /** The CREATE_REPLICATION_SLOT command; its option list came with PostgreSQL 15, FAILOVER with 17. */
    static String command(String slot, boolean temporary, int major, boolean failover) {
        return command(slot, temporary, major, failover, true);
    }

    static String command(String slot, boolean temporary, int major, boolean failover, boolean export) {
        String head = "CREATE_REPLICATION_SLOT " + TableId.quoteIdent(slot) + (temporary ? " TEMPORARY" : "") + " LOGICAL pgoutput";
        if (major < 15) {
            return head + (export ? " EXPORT_SNAPSHOT" : " NOEXPORT_SNAPSHOT");
        }
        return head + " (SNAPSHOT '" + (export ? "export" : "nothing") + "'" + (failover ? ", FAILOVER true" : "") + ")";
    }

    /** Drops the slot, on an ordinary connection; it must not be in use. */
    public static void drop(Connection c, String slot) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
            ps.setString(1, slot);
            ps.execute();
        }
    }

    /** Drops a slot over the replication connection that created it (its snapshot is of no use any more). */
    static void dropOnReplication(Connection replication, String slot) throws SQLException {
        try (Statement s = replication.createStatement()) {
            s.execute("DROP_REPLICATION_SLOT " + TableId.quoteIdent(slot));
        }
    }

    /** Fails with the fix when every slot the server allows ({@code max_replication_slots}) is taken. */
    static void requireFree(Connection c, String slot) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT (SELECT count(*) FROM pg_replication_slots),"
                     + " current_setting('max_replication_slots')::int")) {
            rs.next();
            long used = rs.getLong(1);
            int max = rs.getInt(2);
            if (used >= max) {
                throw new PrerequisiteException("cannot create replication slot " + TableId.quoteIdent(slot) + ": all "
                        + max + " replication slots (max_replication_slots) are in use. Drop slots no longer used"
                        + " (SELECT slot_name, active FROM pg_replication_slots; " + dropSql("name") + ")"
                        + " or raise max_replication_slots in postgresql.conf and restart PostgreSQL");
            }
        }
    }

    /** The statement a user runs to drop the slot: {@code SELECT pg_drop_replication_slot('slot');}. */
    public static String dropSql(String slot) {
        return "SELECT pg_drop_replication_slot('" + slot.replace("'", "''") + "');";
    }

    /**
     * The SQL a user runs to create the slot by hand, as pgsource would create it: a failover slot on PostgreSQL 17+
     * (the function's fifth argument), a plain one before; for messages that tell the fix.
     */
    public static String createSqlForUsers(String slot, int major) {
        String literal = "'" + slot.replace("'", "''") + "'";
        return "SELECT pg_create_logical_replication_slot(" + literal + ", 'pgoutput'" + (major >= 17 ? ", false, false, true" : "")
                + ");";
    }

    /** Whether the server is a standby; the replication connection runs SQL in simple query mode. */
    private static boolean inRecovery(Connection replication) throws SQLException {
        try (Statement s = replication.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_is_in_recovery()")) {
            return rs.next() && rs.getBoolean(1);
        }
    }
}
