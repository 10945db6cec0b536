package io.pgsource.pgoutput.protocol;

import io.pgsource.catalog.CatalogSession;
import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashSet;
import java.util.Set;

/**
 * {@link PartitionRoots} from {@code pg_partition_root} and {@code pg_partition_tree} through an ordinary JDBC
 * connection to the source database. Asked once per Relation message (the cache keeps the schema made from it), and
 * for the leaves at a TRUNCATE of partitions. Not thread-safe; the connection is the caller's and stays open.
 */
public final class CatalogPartitionRoots implements PartitionRoots {
    private final Connection connection;

    public CatalogPartitionRoots(Connection connection) {
        this.connection = connection;
    }

    @Override
    public Root root(int relationOid) {
        try {
            return CatalogSession.run(connection, () -> {
                try (PreparedStatement ps = connection.prepareStatement("""
                        SELECT r.oid, n.nspname, r.relname FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
                        WHERE r.oid = pg_partition_root(?::oid)::oid""")) {
                    ps.setLong(1, Integer.toUnsignedLong(relationOid));
                    try (ResultSet rs = ps.executeQuery()) {
                        return rs.next() ? new Root((int) rs.getLong(1), new TableId(rs.getString(2), rs.getString(3))) : null;
                    }
                }
            });
        } catch (SQLException e) {
            throw new PgOutputException("cannot read the partitioned table of relation OID " + Integer.toUnsignedString(relationOid), e);
        }
    }

    @Override
    public Set<Integer> leaves(int rootOid) {
        try {
            return CatalogSession.run(connection, () -> {
                try (PreparedStatement ps = connection.prepareStatement(
                        "SELECT relid::oid FROM pg_partition_tree(?::oid) WHERE isleaf")) {
                    ps.setLong(1, Integer.toUnsignedLong(rootOid));
                    Set<Integer> leaves = new HashSet<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            leaves.add((int) rs.getLong(1));
                        }
                    }
                    return leaves;
                }
            });
        } catch (SQLException e) {
            throw new PgOutputException("cannot read the partitions of relation OID " + Integer.toUnsignedString(rootOid), e);
        }
    }
}
