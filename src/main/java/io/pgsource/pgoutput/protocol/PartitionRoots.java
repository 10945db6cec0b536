package io.pgsource.pgoutput.protocol;

import io.pgsource.change.TableId;
import java.util.Set;

/**
 * Where a partition's changes belong. A publication without {@code publish_via_partition_root} (FOR ALL TABLES and
 * FOR TABLES IN SCHEMA ones by default) sends a partition's changes under the partition's own name; they are the
 * changes of its partitioned table, whose copy holds the rows of all its partitions. The component implements it with
 * a catalog query ({@link CatalogPartitionRoots}).
 */
public interface PartitionRoots {
    /** Knows no partitions: every relation keeps its own name. */
    PartitionRoots NONE = new PartitionRoots() {
        @Override
        public Root root(int relationOid) {
            return null;
        }

        @Override
        public Set<Integer> leaves(int rootOid) {
            return Set.of();
        }
    };

    /**
     * The root of a partition tree.
     *
     * @param oid its OID
     * @param id  its schema and name
     */
    record Root(int oid, TableId id) {
    }

    /**
     * @param relationOid a relation a Relation message describes
     * @return the root of its partition tree (at any depth; itself for a partitioned table that is no partition), or
     *         null when it is no partition (or no longer exists)
     */
    Root root(int relationOid);

    /**
     * @param rootOid a partitioned table
     * @return the OIDs of its leaf partitions now (the relations that hold its rows)
     */
    Set<Integer> leaves(int rootOid);
}
