package io.pgsource.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.pgsource.change.Column;
import io.pgsource.change.TableId;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class CatalogReaderTest {
    private static Connection connection;

    @BeforeAll
    static void createTables() throws SQLException {
        String db = TestPostgres.server().createDatabase("catalog");
        connection = TestPostgres.server().connect(db);
        try (Statement s = connection.createStatement()) {
            s.execute("""
                    CREATE SCHEMA a;
                    CREATE SCHEMA b;
                    CREATE SCHEMA empty;
                    CREATE SCHEMA "Mixed Schema";
                    CREATE TABLE a.items (id int PRIMARY KEY, name text NOT NULL);
                    CREATE TABLE b.items (code text PRIMARY KEY, qty numeric(12,2));
                    CREATE VIEW a.items_view AS SELECT * FROM a.items;
                    CREATE TABLE a.measures (at timestamptz NOT NULL, device int NOT NULL, value float8) PARTITION BY RANGE (at);
                    CREATE TABLE a.measures_2024 PARTITION OF a.measures FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
                    CREATE TABLE a.measures_2025 PARTITION OF a.measures FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
                    CREATE TYPE a.mood AS ENUM ('sad', 'happy');
                    CREATE DOMAIN a.price AS numeric(10,2) CHECK (VALUE >= 0);
                    CREATE DOMAIN a.cheap AS a.price CHECK (VALUE < 10);
                    CREATE TABLE a.shapes (
                      b int, a text, dropped int, mood a.mood, moods a.mood[], price a.price, cheap a.cheap, prices a.price[],
                      ints int[], width numeric(8,3), label varchar(20),
                      doubled int GENERATED ALWAYS AS (b * 2) STORED,
                      PRIMARY KEY (b, a));
                    ALTER TABLE a.shapes DROP COLUMN dropped;
                    ALTER TABLE a.shapes REPLICA IDENTITY FULL;
                    CREATE INDEX ON a.shapes (mood, b) INCLUDE (label);
                    CREATE INDEX ON a.shapes (label) WHERE label IS NOT NULL;
                    CREATE INDEX ON a.shapes (lower(a));
                    CREATE TABLE a.keyless (x int);
                    INSERT INTO a.keyless SELECT generate_series(1, 1000);
                    ANALYZE a.keyless;
                    CREATE TABLE "Mixed Schema"."Order Lines ü" ("Select" int PRIMARY KEY, "quote""d" text, "ñame" text);
                    CREATE TYPE a.addr AS (street text, zip int);
                    CREATE TYPE a.floatrange AS RANGE (subtype = float8);
                    CREATE DOMAIN a.home AS a.addr;
                    CREATE TABLE a.typed (id int PRIMARY KEY, home a.addr, homes a.addr[], span a.floatrange, spans a.floatrange[],
                      domained a.home, item a.items, builtin int4range);
                    CREATE TABLE a.coded (id int, code text NOT NULL, region text NOT NULL, v int, PRIMARY KEY (id));
                    CREATE UNIQUE INDEX coded_code ON a.coded (region, code);
                    ALTER TABLE a.coded REPLICA IDENTITY USING INDEX coded_code;
                    CREATE TABLE a.unique_only (code text NOT NULL UNIQUE, v int);
                    CREATE TABLE a.generated_key (a int, b int GENERATED ALWAYS AS (a * 2) STORED PRIMARY KEY);
                    """);
        }
    }

    @AfterAll
    static void close() throws SQLException {
        connection.close();
    }

    private static List<TableInfo> discover(List<String> schemas, List<TableId> include) throws SQLException {
        return CatalogReader.discover(connection, schemas, include);
    }

    @Test
    void findsTablesAndPartitionedRootsOfEverySchemaSortedAndKeepsSameNamesApart() throws SQLException {
        List<TableInfo> tables = discover(List.of("b", "a"), List.of());

        assertThat(tables).extracting(TableInfo::id).containsExactly(
                new TableId("a", "coded"), new TableId("a", "generated_key"), new TableId("a", "items"), new TableId("a", "keyless"),
                new TableId("a", "measures"), new TableId("a", "shapes"), new TableId("a", "typed"), new TableId("a", "unique_only"),
                new TableId("b", "items"));
        TableInfo measures = tables.get(4);
        assertThat(measures.partitioned()).isTrue();
        assertThat(tables.get(2).partitioned()).isFalse();
        assertThat(tables.get(2).schema().columns()).extracting(Column::name).containsExactly("id", "name");
        assertThat(tables.get(8).schema().columns()).extracting(Column::name).containsExactly("code", "qty");
        assertThat(tables.get(8).columns().get(1).column().typeName()).isEqualTo("numeric(12,2)");
    }

    @Test
    void describesColumnsKeysTypesAndGeneratedColumns() throws SQLException {
        TableInfo shapes = discover(List.of("a"), List.of(new TableId("a", "shapes"))).get(0);

        assertThat(shapes.columns()).extracting(ColumnInfo::name)
                .containsExactly("b", "a", "mood", "moods", "price", "cheap", "prices", "ints", "width", "label", "doubled");
        // the batch query reads generated columns too, marked with their expression
        assertThat(shapes.schema().columns()).extracting(Column::name)
                .containsExactly("b", "a", "mood", "moods", "price", "cheap", "prices", "ints", "width", "label", "doubled");
        assertThat(shapes.schema().columns()).filteredOn(Column::generated).extracting(Column::generation).containsExactly("(b * 2)");
        assertThat(shapes.schema().generatedNotInRows()).isEmpty();
        assertThat(shapes.generatedColumns()).singleElement().satisfies(c -> {
            assertThat(c.name()).isEqualTo("doubled");
            assertThat(c.generationExpression()).isEqualTo("(b * 2)");
        });
        assertThat(shapes.primaryKey()).containsExactly("b", "a");
        assertThat(shapes.schema().key()).containsExactly("b", "a");
        assertThat(shapes.column("b").orElseThrow().notNull()).isTrue();
        assertThat(shapes.column("mood").orElseThrow().notNull()).isFalse();
        assertThat(shapes.replicaIdentity()).isEqualTo(ReplicaIdentity.FULL);
        assertThat(shapes.indexes()).containsExactlyInAnyOrder(List.of("b", "a"), List.of("mood", "b"));
        assertThat(shapes.hasIndexLeadingWith("mood")).isTrue();
        assertThat(shapes.hasIndexLeadingWith("label")).isFalse();

        assertThat(type(shapes, "mood")).isEqualTo(new String[] {"a.mood", "text"});
        assertThat(type(shapes, "moods")).isEqualTo(new String[] {"a.mood[]", "text[]"});
        assertThat(type(shapes, "price")).isEqualTo(new String[] {"a.price", "numeric(10,2)"});
        assertThat(type(shapes, "cheap")).isEqualTo(new String[] {"a.cheap", "numeric(10,2)"});
        assertThat(type(shapes, "prices")).isEqualTo(new String[] {"a.price[]", "numeric(10,2)[]"});
        assertThat(type(shapes, "ints")).isEqualTo(new String[] {"integer[]", "integer[]"});
        assertThat(type(shapes, "width")).isEqualTo(new String[] {"numeric(8,3)", "numeric(8,3)"});
        assertThat(type(shapes, "label")).isEqualTo(new String[] {"character varying(20)", "character varying(20)"});
        assertThat(shapes.column("b").orElseThrow().column().typeOid()).isEqualTo(23);
    }

    @Test
    void userDefinedCompositeAndRangeTypesAreTextAtADestination() throws SQLException {
        TableInfo typed = discover(List.of("a"), List.of(new TableId("a", "typed"))).get(0);

        assertThat(type(typed, "home")).isEqualTo(new String[] {"a.addr", "text"});
        assertThat(type(typed, "homes")).isEqualTo(new String[] {"a.addr[]", "text[]"});
        assertThat(type(typed, "span")).isEqualTo(new String[] {"a.floatrange", "text"});
        assertThat(type(typed, "spans")).isEqualTo(new String[] {"a.floatrange[]", "text[]"});
        assertThat(type(typed, "domained")).isEqualTo(new String[] {"a.home", "text"});
        // a table's row type is a composite type of the source's own too
        assertThat(type(typed, "item")).isEqualTo(new String[] {"a.items", "text"});
        // built-in ranges exist everywhere
        assertThat(type(typed, "builtin")).isEqualTo(new String[] {"int4range", "int4range"});
    }

    @Test
    void theKeyIsTheReplicaIdentityIndexWhenThereIsOne() throws SQLException {
        List<TableInfo> tables = discover(List.of("a"), List.of(new TableId("a", "coded"), new TableId("a", "unique_only"),
                new TableId("a", "generated_key")));

        TableInfo coded = tables.get(0);
        assertThat(coded.replicaIdentity()).isEqualTo(ReplicaIdentity.INDEX);
        assertThat(coded.identityIndex()).containsExactly("region", "code");
        assertThat(coded.primaryKey()).containsExactly("id");
        // the key log replication identifies changes by, in index order
        assertThat(coded.schema().key()).containsExactly("region", "code");
        // a unique index without REPLICA IDENTITY USING INDEX is no key: the stream has none for that table
        assertThat(tables.get(2).schema().hasKey()).isFalse();
        // nor is a primary key on a generated column, which a stream before PostgreSQL 18 does not carry
        assertThat(tables.get(1).primaryKey()).containsExactly("b");
        assertThat(tables.get(1).schema().hasKey()).isFalse();
    }

    private static String[] type(TableInfo table, String column) {
        Column c = table.column(column).orElseThrow().column();
        return new String[] {c.typeName(), c.baseTypeName()};
    }

    @Test
    void reportsEstimatesAndMissingKey() throws SQLException {
        TableInfo keyless = discover(List.of("a"), List.of(new TableId("a", "keyless"))).get(0);

        assertThat(keyless.primaryKey()).isEmpty();
        assertThat(keyless.schema().hasKey()).isFalse();
        assertThat(keyless.estimatedRows()).isEqualTo(1000);
        assertThat(keyless.pages()).isPositive();
        assertThat(keyless.replicaIdentity()).isEqualTo(ReplicaIdentity.DEFAULT);
    }

    @Test
    void quotedMixedCaseReservedAndNonAsciiNames() throws SQLException {
        TableInfo t = discover(List.of("Mixed Schema"), List.of(TableId.parse("\"Mixed Schema\".\"Order Lines ü\""))).get(0);

        assertThat(t.id()).isEqualTo(new TableId("Mixed Schema", "Order Lines ü"));
        assertThat(t.schema().columns()).extracting(Column::name).containsExactly("Select", "quote\"d", "ñame");
        assertThat(t.primaryKey()).containsExactly("Select");
    }

    @Test
    void aMissingSchemaNamesTheExistingOnes() {
        assertThatThrownBy(() -> discover(List.of("a", "nope"), List.of()))
                .isInstanceOf(CatalogException.class)
                .hasMessageContaining("\"nope\" does not exist")
                .hasMessageContaining("source.schema")
                .hasMessageContaining("\"Mixed Schema\"")
                .hasMessageContaining("\"empty\"");
    }

    @Test
    void aMissingIncludedTableSaysWhatToFix() {
        assertThatThrownBy(() -> discover(List.of("a"), List.of(new TableId("a", "ITEMS"))))
                .isInstanceOf(CatalogException.class)
                .hasMessageContaining("\"a\".\"ITEMS\"")
                .hasMessageContaining("does not exist")
                .hasMessageContaining("Did you mean \"a\".\"items\"");
        assertThatThrownBy(() -> discover(List.of("a"), List.of(new TableId("a", "measures_2024"))))
                .isInstanceOf(CatalogException.class)
                .hasMessageContaining("is a partition of a.measures");
        assertThatThrownBy(() -> discover(List.of("a"), List.of(new TableId("a", "items_view"))))
                .isInstanceOf(CatalogException.class)
                .hasMessageContaining("is a view");
        assertThatThrownBy(() -> discover(List.of("a"), List.of(new TableId("b", "items"))))
                .isInstanceOf(CatalogException.class)
                .hasMessageContaining("not in source.schema");
    }

    @Test
    void aSchemaWithoutTablesIsAWarningNotAnError() throws SQLException {
        Logger logger = (Logger) LoggerFactory.getLogger(CatalogReader.class);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            assertThat(discover(List.of("empty"), List.of())).isEmpty();
        } finally {
            logger.detachAppender(appender);
        }
        assertThat(appender.list).anySatisfy(e -> {
            assertThat(e.getLevel()).isEqualTo(Level.WARN);
            assertThat(e.getFormattedMessage()).contains("\"empty\" has no tables");
        });
    }

    @Test
    void leavesTheConnectionAsItFoundIt() throws SQLException {
        discover(List.of("a"), List.of());
        assertThat(connection.getAutoCommit()).isTrue();
        try (Statement s = connection.createStatement(); var rs = s.executeQuery("SHOW search_path")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("\"$user\", public");
        }
    }
}
