package io.pgsource.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.pgoutput.protocol.CatalogColumnOrigins;
import io.pgsource.pgoutput.protocol.CatalogGeneratedColumns;
import io.pgsource.pgoutput.protocol.CatalogPartitionRoots;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The look-ups of a Relation message, tried on the published tables when a session opens so the first transaction does
 * not do their first-use work ({@link ReplicationSession#firstUse}): on a real server, on the shapes those look-ups
 * treat apart (a partition published by itself, generated columns), they all succeed and leave the catalog connection
 * as they found it (no transaction open, autocommit as it was).
 */
class RelationLookUpsFirstUseTest {
    private static PgOutputTestSupport db;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_first_use");
        db.execute("CREATE TABLE plain (id int PRIMARY KEY, v text)",
                "CREATE TABLE computed (id int PRIMARY KEY, n int, twice int GENERATED ALWAYS AS (n * 2) STORED)",
                "CREATE TABLE parted (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
                "CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
                "CREATE PUBLICATION first_use_pub FOR TABLE plain, computed, parted");
    }

    @Test
    void everyPublishedShapeIsAskedAboutAndTheConnectionIsLeftAsItWas() throws Exception {
        try (Connection c = db.connect()) {
            int asked = ReplicationSession.firstUse(c, List.of("first_use_pub"), new CatalogPartitionRoots(c),
                    new CatalogColumnOrigins(c), new CatalogGeneratedColumns(c));
            // plain, computed and the partition (a publication without publish_via_partition_root lists the leaves)
            assertThat(asked).isEqualTo(3);
            assertThat(c.getAutoCommit()).isTrue();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT current_setting('search_path')")) {
                rs.next();
                assertThat(rs.getString(1)).doesNotContain("pg_catalog"); // the catalog session's SET LOCAL is gone
            }
            assertThat(ReplicationSession.firstUse(c, List.of(), new CatalogPartitionRoots(c), new CatalogColumnOrigins(c),
                    new CatalogGeneratedColumns(c))).isZero();
        }
    }
}
