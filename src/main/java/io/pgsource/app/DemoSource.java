package io.pgsource.app;

import io.pgsource.config.DestinationSettings;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
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

    /**
     * The properties that point the source (and an unset postgres destination) at the embedded server; they
     * override what the user configured for the source, which names no server in demo mode.
     */
    Properties overrides(Settings configured) throws SQLException {
        Properties p = new Properties();
        p.setProperty("source.host", postgres.host());
        p.setProperty("source.port", Integer.toString(postgres.port()));
        p.setProperty("source.database", DATABASE);
        p.setProperty("source.username", postgres.superuser());
        p.setProperty("source.password", postgres.password());
        p.setProperty("source.password_file", "");
        p.setProperty("source.schema", String.join(",", SCHEMAS));
        p.setProperty("source.sslmode", "");
        if (configured.source().replicationKey() == null && configured.source().replicationMethod() == ReplicationMethod.INCREMENTAL) {
            p.setProperty("source.replication_key", "updated_at");
        }
        DestinationSettings d = configured.destination();
        if ("postgres".equals(d.kind()) && d.url() == null) {
            postgres.createDatabase("demo_copy");
            p.setProperty("destination.url", postgres.jdbcUrl("demo_copy"));
            p.setProperty("destination.username", postgres.superuser());
            p.setProperty("destination.password", postgres.password());
            p.setProperty("destination.password_file", "");
            LOG.info("destination.url is not set: the demo copies into database demo_copy on the embedded server ({}).",
                    postgres.jdbcUrl("demo_copy"));
        }
        return p;
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
