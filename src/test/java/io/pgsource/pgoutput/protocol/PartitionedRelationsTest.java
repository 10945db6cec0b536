package io.pgsource.pgoutput.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.TableId;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.SessionSettings;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Partitions' changes over real pgoutput output: a publication without publish_via_partition_root sends them under the
 * leaves' names (at any depth, in each leaf's own column order), and they become the root's; changes of tables not
 * captured are dropped; TRUNCATE of the root empties the root, TRUNCATE of some partitions is not applied to it.
 */
class PartitionedRelationsTest {
    private static final TableId ROOT = new TableId("public", "m");
    private static Connection c;
    /** The newest pgoutput protocol of the server. */
    private static int protocol;

    @TempDir
    Path spool;

    private final List<String> slots = new ArrayList<>();

    @BeforeAll
    static void setUp() throws SQLException {
        c = TestPostgres.server().connect(TestPostgres.server().createDatabase("pgoutput_parts"));
        SessionSettings.apply(c);
        int major = c.getMetaData().getDatabaseMajorVersion();
        protocol = major >= 16 ? 4 : major >= 15 ? 3 : major >= 14 ? 2 : 1;
        sql("""
                CREATE TABLE m (id int NOT NULL, region text NOT NULL, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
                CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu') PARTITION BY RANGE (id);
                CREATE TABLE m_eu_low PARTITION OF m_eu FOR VALUES FROM (0) TO (100);
                CREATE TABLE m_eu_high PARTITION OF m_eu FOR VALUES FROM (100) TO (MAXVALUE);
                CREATE TABLE m_us (v text, region text NOT NULL, id int NOT NULL);
                ALTER TABLE m ATTACH PARTITION m_us FOR VALUES IN ('us');
                CREATE TABLE other (id int PRIMARY KEY);
                CREATE PUBLICATION leaves FOR ALL TABLES;
                CREATE PUBLICATION root FOR TABLE m, other WITH (publish_via_partition_root = true);""");
    }

    @AfterAll
    static void tearDown() throws SQLException {
        c.close();
    }

    @AfterEach
    void dropSlots() throws SQLException {
        for (String slot : slots) {
            Wal.dropSlot(c, slot);
        }
    }

    private String slot() throws SQLException {
        String slot = Wal.createSlot(c, "parts");
        slots.add(slot);
        return slot;
    }

    private Wal.Assembled assemble(String slot, String publication, int maxBatchSize) throws SQLException {
        RelationCache relations = new RelationCache(new CatalogTypeNames(c), new CatalogPrimaryKeys(c), GeneratedColumns.NONE, new CatalogPartitionRoots(c), ColumnOrigins.NONE,
                oid -> true, ROOT::equals);
        return new Wal.Assembled(protocol, relations, maxBatchSize, spool).feed(Wal.read(c, slot, "proto_version",
                Integer.toString(protocol), "publication_names", publication));
    }

    @Test
    void leavesChangesBecomeTheRootsAndOtherTablesAreDropped() throws SQLException {
        String slot = slot();
        sql("""
                INSERT INTO m VALUES (1, 'eu', 'a'), (150, 'eu', 'b'), (2, 'us', 'c');
                INSERT INTO other VALUES (1);
                UPDATE m SET v = 'moved', region = 'us' WHERE id = 1;
                CREATE TABLE m_asia PARTITION OF m FOR VALUES IN ('asia');
                INSERT INTO m VALUES (3, 'asia', 'new partition');
                DELETE FROM m WHERE id = 150;""");
        List<ChangeEvent> events = assemble(slot, "leaves", 100).events();

        assertThat(events).allSatisfy(e -> assertThat(e.tableId()).isEqualTo(ROOT));
        assertThat(events).extracting(ChangeEvent::op)
                .containsExactly(Op.INSERT, Op.INSERT, Op.INSERT, Op.DELETE, Op.INSERT, Op.INSERT, Op.DELETE);
        // a leaf keeps its own column order: consumers match by name
        ChangeEvent us = events.get(2);
        assertThat(us.table().columns()).extracting(Column::name).containsExactly("v", "region", "id");
        assertThat(us.after().asMap()).containsEntry("id", "2").containsEntry("v", "c");
        assertThat(us.table().key()).containsExactly("id", "region");
        assertThat(events.get(5).after().asMap()).containsEntry("v", "new partition");
    }

    @Test
    void truncatesOfTheRootEmptyItTruncatesOfSomePartitionsAreNotApplied() throws SQLException {
        sql("INSERT INTO m VALUES (7, 'eu', 'x'), (8, 'us', 'y')");
        String leavesSlot = slot();
        String rootSlot = slot();
        sql("TRUNCATE m");
        sql("INSERT INTO m VALUES (9, 'eu', 'x'), (10, 'us', 'y')");
        sql("TRUNCATE m_us");
        sql("TRUNCATE m_eu");

        Logger logger = (Logger) LoggerFactory.getLogger(TransactionAssembler.class);
        ListAppender<ILoggingEvent> warnings = new ListAppender<>();
        warnings.start();
        logger.addAppender(warnings);
        List<TransactionPart> leaves;
        try {
            leaves = assemble(leavesSlot, "leaves", 100).parts;
        } finally {
            logger.detachAppender(warnings);
        }
        assertThat(leaves).hasSize(4);
        assertThat(leaves.get(0).batch()).singleElement().satisfies(e -> {
            assertThat(e.op()).isEqualTo(Op.TRUNCATE);
            assertThat(e.tableId()).isEqualTo(ROOT);
        });
        assertThat(leaves.get(2).batch()).as("TRUNCATE of one partition").isEmpty();
        assertThat(leaves.get(3).batch()).as("TRUNCATE of a sub-partitioned partition").isEmpty();
        assertThat(warnings.list).filteredOn(e -> e.getLevel() == Level.WARN).singleElement()
                .extracting(ILoggingEvent::getFormattedMessage).asString()
                .contains("TRUNCATE of partition(s) [\"public\".\"m_us\"] of \"public\".\"m\"").contains("is not applied")
                .contains("sync.resnapshot=true");

        // through the root: PostgreSQL publishes the root's TRUNCATE, and none of a partition
        List<ChangeEvent> root = assemble(rootSlot, "root", 100).events();
        assertThat(root).filteredOn(e -> e.op() == Op.TRUNCATE).singleElement().isSameAs(root.get(0));
    }

    @Test
    void partsSayWhereTheyStartInTheirTransactionCountingOnlyDeliveredChanges() throws SQLException {
        String slot = slot();
        c.setAutoCommit(false);
        try {
            sql("INSERT INTO m SELECT g, 'us', 'v' FROM generate_series(1000, 1003) g");
            sql("INSERT INTO other SELECT generate_series(1000, 1010)");
            sql("INSERT INTO m SELECT g, 'eu', 'v' FROM generate_series(1000, 1002) g");
            c.commit();
        } finally {
            c.setAutoCommit(true);
        }
        List<TransactionPart> parts = assemble(slot, "leaves", 3).parts;
        assertThat(parts).extracting(p -> p.batch().size()).containsExactly(3, 3, 1);
        assertThat(parts).extracting(TransactionPart::changesBefore).containsExactly(0L, 3L, 6L);
        assertThat(parts).extracting(TransactionPart::index).containsExactly(0, 1, 2);
        assertThat(parts.stream().flatMap(p -> p.batch().stream()).map(ChangeEvent::tableId).distinct()).containsExactly(ROOT);
        assertThat(parts).extracting(TransactionPart::last).containsExactly(false, false, true);
    }

    private static void sql(String statements) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(statements);
        }
    }
}
