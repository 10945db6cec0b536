package io.pgsource.app;

import io.pgsource.config.DestinationSettings;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.config.SourceSettings;
import io.pgsource.config.SslSettings;
import io.pgsource.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The zero-config run: an embedded PostgreSQL with a demo database (schemas shop and crm) standing in for
 * the source that {@code source.host} would name.
 */
final class DemoSource implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DemoSource.class);
    static final String DATABASE = "demo";
    static final List<String> SCHEMAS = List.of("shop", "crm");

    private final EmbeddedPostgres postgres;

    private DemoSource(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    static DemoSource start() throws SQLException, IOException {
        LOG.info("source.host is not set: starting an embedded PostgreSQL with a demo database ({} with schemas {}).", DATABASE, SCHEMAS);
        EmbeddedPostgres postgres = EmbeddedPostgres.builder().start();
        DemoSource demo = new DemoSource(postgres);
        try {
            postgres.createDatabase(DATABASE);
            try (Connection c = DriverManager.getConnection(postgres.jdbcUrl(DATABASE), postgres.superuser(), postgres.password());
                 Statement s = c.createStatement();
                 InputStream sql = DemoSource.class.getResourceAsStream("/demo/demo.sql")) {
                s.execute(new String(sql.readAllBytes(), StandardCharsets.UTF_8));
            }
        } catch (SQLException | IOException | RuntimeException e) {
            demo.close();
            throw e;
        }
        return demo;
    }

    /** The user's settings with the source (and an unset postgres destination) pointed at the embedded server. */
    Settings settings(Settings configured) throws SQLException {
        SourceSettings c = configured.source();
        String replicationKey = c.replicationKey() == null && c.replicationMethod() == ReplicationMethod.INCREMENTAL
                ? "updated_at" : c.replicationKey();
        SourceSettings source = new SourceSettings(postgres.host(), postgres.port(), DATABASE, postgres.superuser(), postgres.password(),
                SCHEMAS, c.tables(), c.replicationSlot(), c.publicationName(), c.batchFetchLimit(), c.replicationMethod(),
                replicationKey, c.replicationKeys(), c.incrementalLag(), SslSettings.NONE);
        DestinationSettings d = configured.destination();
        if ("postgres".equals(d.kind()) && d.url() == null) {
            postgres.createDatabase("demo_copy");
            d = new DestinationSettings(d.kind(), postgres.jdbcUrl("demo_copy"), postgres.superuser(), postgres.password(), d.schema(), d.directory());
            LOG.info("destination.url is not set: the demo copies into database demo_copy on the embedded server ({}).", d.url());
        }
        return new Settings(source, d, configured.sync());
    }

    String describe() {
        return "embedded PostgreSQL at " + postgres.host() + ":" + postgres.port() + " (user " + postgres.superuser()
                + "; it is removed when pgsource stops)";
    }

    @Override
    public void close() {
        postgres.close();
    }
}
