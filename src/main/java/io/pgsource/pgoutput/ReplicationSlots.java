package io.pgsource.pgoutput;

import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place pgsource creates a logical replication slot: a pgoutput slot created over a replication connection,
 * where alone a new slot exports the snapshot its stream starts from.
 *
 * <p>On PostgreSQL 17 and newer a permanent slot is a failover slot: a standby running with
 * {@code sync_replication_slots = on} keeps a copy of it, so streaming resumes from the promoted standby after a
 * failover (managed servers fail over this way). A temporary slot, which ends with its session, cannot be one, nor a
 * slot created on a standby.
 */
public final class ReplicationSlots {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicationSlots.class);

    private ReplicationSlots() {
    }

    /**
     * Creates the slot and returns its exported snapshot, valid until the connection runs its next command.
     *
     * @param replication a {@code replication=database} connection
     * @param temporary   a slot dropped when the connection closes (never a failover slot)
     */
    public static SlotCreated create(Connection replication, String slot, boolean temporary) throws SQLException {
        int major = replication.getMetaData().getDatabaseMajorVersion();
        boolean failover = !temporary && major >= 17 && !inRecovery(replication);
        SlotCreated created;
        try (Statement s = replication.createStatement(); ResultSet rs = s.executeQuery(command(slot, temporary, major, failover))) {
            rs.next();
            created = new SlotCreated(rs.getString("slot_name"), rs.getString("snapshot_name"),
                    LogSequenceNumber.valueOf(rs.getString("consistent_point")).asLong());
        }
        if (!temporary) {
            LOG.info("Created replication slot {} at consistent point {} (exported snapshot {}{})", slot, created.consistentPoint(),
                    created.snapshotName(), failover ? "; a failover slot: standbys with sync_replication_slots = on keep it"
                            : major >= 17 ? "; not a failover slot: the server is a standby" : "");
        }
        return created;
    }

    /** The CREATE_REPLICATION_SLOT command; its option list came with PostgreSQL 15, FAILOVER with 17. */
    static String command(String slot, boolean temporary, int major, boolean failover) {
        String head = "CREATE_REPLICATION_SLOT " + TableId.quoteIdent(slot) + (temporary ? " TEMPORARY" : "") + " LOGICAL pgoutput";
        if (major < 15) {
            return head + " EXPORT_SNAPSHOT";
        }
        return head + " (SNAPSHOT 'export'" + (failover ? ", FAILOVER true" : "") + ")";
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
