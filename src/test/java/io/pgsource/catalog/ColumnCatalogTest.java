package io.pgsource.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link ColumnCatalog#readAll}, which a copy of many tables reads their catalog with, says of each table exactly what
 * {@link ColumnCatalog#read} says of it alone: dropped columns and the last column number, a partitioned table's leaves
 * at any depth with their missing values (the same in each, or mixed), a table listed twice, one that does not exist.
 */
class ColumnCatalogTest {

    @Test
    void readAllSaysOfEachTableWhatReadSaysOfItAlone() throws Exception {
        String db = TestPostgres.server().createDatabase("column_catalog");
        try (Connection c = TestPostgres.server().connect(db); Statement s = c.createStatement()) {
            s.execute("""
                    CREATE SCHEMA cc;
                    CREATE TABLE cc.plain (id int PRIMARY KEY, gone int, name text);
                    INSERT INTO cc.plain VALUES (1, 1, 'a');
                    ALTER TABLE cc.plain DROP COLUMN gone;
                    ALTER TABLE cc.plain ADD COLUMN flag boolean DEFAULT true, ADD COLUMN nothing text DEFAULT NULL;
                    CREATE TABLE cc.parts (at int NOT NULL, region text NOT NULL, v int) PARTITION BY RANGE (at);
                    CREATE TABLE cc.parts_1 PARTITION OF cc.parts FOR VALUES FROM (0) TO (10);
                    CREATE TABLE cc.parts_2 PARTITION OF cc.parts FOR VALUES FROM (10) TO (20) PARTITION BY LIST (region);
                    CREATE TABLE cc.parts_2_eu PARTITION OF cc.parts_2 FOR VALUES IN ('eu');
                    INSERT INTO cc.parts VALUES (1, 'eu', 1), (11, 'eu', 2);
                    ALTER TABLE cc.parts ADD COLUMN same int DEFAULT 7;
                    ALTER TABLE cc.parts_1 ALTER COLUMN same SET DEFAULT 8;
                    CREATE TABLE cc.empty ();
                    """);
            c.setAutoCommit(false);
            List<TableId> ids = new ArrayList<>(List.of(TableId.parse("cc.plain"), TableId.parse("cc.parts"), TableId.parse("cc.parts_1"),
                    TableId.parse("cc.parts_2_eu"), TableId.parse("cc.empty"), TableId.parse("cc.missing")));
            ids.add(TableId.parse("cc.plain"));
            Map<TableId, SourceColumns> all = ColumnCatalog.readAll(c, ids);

            assertThat(all).doesNotContainKey(TableId.parse("cc.missing")).hasSize(5);
            for (TableId id : ids) {
                assertThat(all.get(id)).as(id.toString()).isEqualTo(ColumnCatalog.read(c, id));
            }
            SourceColumns plain = all.get(TableId.parse("cc.plain"));
            assertThat(plain.columns()).containsOnlyKeys("id", "name", "flag", "nothing");
            assertThat(plain.lastNumber()).isEqualTo(5);
            assertThat(plain.columns().get("flag").missingValue()).isEqualTo("t");
            assertThat(all.get(TableId.parse("cc.parts")).storage()).hasSize(2);
            assertThat(all.get(TableId.parse("cc.parts")).columns().get("same").missingValue()).isEqualTo("7");
            assertThat(all.get(TableId.parse("cc.empty")).columns()).isEmpty();
            c.rollback();
        }
    }
}
