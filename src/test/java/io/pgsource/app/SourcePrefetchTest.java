package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.batch.BatchStreams;
import io.pgsource.batch.StreamTask;
import io.pgsource.catalog.TableInfo;
import io.pgsource.change.TableId;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The start-up's prefetch (java -jar): the first connection and the discovery of the selected tables while Camel boots,
 * taken by the configuration class only for the same source and the same selection, and by the first discovery only.
 */
class SourcePrefetchTest {
    private static String database;

    @BeforeAll
    static void tables() throws SQLException {
        TestPostgres pg = TestPostgres.server();
        database = pg.createDatabase("prefetch");
        try (Connection c = pg.connect(database); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA shop; CREATE TABLE shop.items (id int PRIMARY KEY, v text); CREATE TABLE shop.orders (id int PRIMARY KEY)");
        }
    }

    private static Settings settings(Map<String, String> more) {
        TestPostgres pg = TestPostgres.server();
        Properties p = EffectiveProperties.load(Map.of(), new Properties());
        p.setProperty("source.host", pg.host());
        p.setProperty("source.port", Integer.toString(pg.port()));
        p.setProperty("source.database", database);
        p.setProperty("source.username", pg.user());
        p.setProperty("source.password", pg.password() == null ? "" : pg.password());
        p.setProperty("source.schema", "shop");
        p.setProperty("source.replication_method", "FULL_TABLE");
        p.putAll(more);
        return new SettingsLoader(p::getProperty).load();
    }

    private static List<String> names(List<TableInfo> tables) {
        return tables.stream().map(t -> t.id().toString()).toList();
    }

    @Test
    void theConfigurationClassTakesTheTablesDiscoveredWhileCamelBooted() throws Exception {
        Settings settings = settings(Map.of());
        PgSourceConnections connections = new PgSourceConnections(settings.source());
        SourcePrefetch.start(connections, settings.source().schemas(), settings.source().tables());
        SourcePrefetch.Source source = SourcePrefetch.take(connections);
        assertThat(source.serverMajor()).isEqualTo(TestPostgres.server().majorVersion());
        assertThat(names(source.tables(List.of("shop"), List.of()))).containsExactlyInAnyOrder("shop.items", "shop.orders");
        assertThat(source.tables(List.of("public"), List.of())).as("another selection discovers again").isNull();
        assertThat(source.tables(List.of("shop"), List.of(new TableId("shop", "items")))).isNull();
        assertThat(SourcePrefetch.take(connections).discovery()).as("taken once: later a connection of its own").isNull();
    }

    @Test
    void onlyTheFirstDiscoveryUsesThem() throws Exception {
        Settings settings = settings(Map.of());
        PgSourceConnections connections = new PgSourceConnections(settings.source());
        SourcePrefetch.start(connections, settings.source().schemas(), settings.source().tables());
        SourcePrefetch.Source source = SourcePrefetch.take(connections);
        BatchStreams streams = new BatchStreams(settings.source(), connections);
        streams.discovered(source.tables(settings.source().schemas(), settings.source().tables()));
        firstWithoutThenWithATableCreatedNow(streams, "the prefetched tables");
    }

    /** Creates shop.later, then: the next streams() leaves it out (what was found before), the one after has it. */
    private static void firstWithoutThenWithATableCreatedNow(BatchStreams streams, String first) throws Exception {
        try (Connection c = TestPostgres.server().connect(database); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE shop.later (id int PRIMARY KEY)");
        }
        try {
            assertThat(streams.streams().stream().map(StreamTask::stream).toList()).as(first)
                    .noneMatch(name -> name.contains("later")).hasSize(2);
            assertThat(streams.streams().stream().map(StreamTask::stream).toList()).as("then the catalog, as always")
                    .anyMatch(name -> name.contains("later")).hasSize(3);
        } finally {
            try (Connection c = TestPostgres.server().connect(database); Statement s = c.createStatement()) {
                s.execute("DROP TABLE shop.later");
            }
        }
    }

    @Test
    void theStartsCheckServesTheFirstRunOnly() throws Exception {
        Settings settings = settings(Map.of());
        PgSourceConnections connections = new PgSourceConnections(settings.source());
        BatchStreams streams = new BatchStreams(settings.source(), connections);
        assertThat(streams.streamsAtStart()).as("the start's check, which discovers (no prefetch here)").hasSize(2);
        firstWithoutThenWithATableCreatedNow(streams, "the first run: what the check found");
    }

    @Test
    void aDiscoveryThatFailsIsLeftToTheConfigurationClass() throws Exception {
        Settings settings = settings(Map.of("source.schema", "nowhere"));
        PgSourceConnections connections = new PgSourceConnections(settings.source());
        SourcePrefetch.start(connections, settings.source().schemas(), settings.source().tables());
        SourcePrefetch.Source source = SourcePrefetch.take(connections);
        assertThat(source.types()).isNotNull();
        assertThat(source.discovery()).isNull();
    }
}
