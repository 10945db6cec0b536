package io.pgsource.pgoutput;

import io.pgsource.types.SessionSettings;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.SQLException;
import java.util.Properties;
import javax.sql.DataSource;
import org.postgresql.PGProperty;
import org.postgresql.ds.common.BaseDataSource;

/**
 * Where and how to connect: the endpoint's options, completed from a pgjdbc data source when one is given. Opens the
 * catalog connection (from the data source if any) and the replication connection (always pgjdbc's driver:
 * {@code replication=database} cannot come from a pool).
 */
final class ConnectionSettings {
    /** pgjdbc itself, not DriverManager, whose first use loads every JDBC driver on the classpath. */
    private static final Driver DRIVER = new org.postgresql.Driver();
    /** The TLS properties taken over from a pgjdbc data source. */
    private static final PGProperty[] SSL_PROPERTIES = {PGProperty.SSL, PGProperty.SSL_MODE, PGProperty.SSL_ROOT_CERT,
            PGProperty.SSL_CERT, PGProperty.SSL_KEY, PGProperty.SSL_PASSWORD, PGProperty.SSL_PASSWORD_CALLBACK, PGProperty.SSL_FACTORY,
            PGProperty.SSL_FACTORY_ARG, PGProperty.SSL_HOSTNAME_VERIFIER, PGProperty.SSL_NEGOTIATION};
    private final String host;
    private final int port;
    private final String database;
    private final String user;
    private final String password;
    private final PgOutputConfiguration options;
    private final DataSource dataSource;
    /** TLS properties of a pgjdbc data source: the replication connection must be as protected as the catalog one. */
    private final Properties dataSourceSsl = new Properties();

    ConnectionSettings(PgOutputConfiguration c) {
        this.options = c;
        this.dataSource = c.getDataSource();
        BaseDataSource pg = dataSource instanceof BaseDataSource b ? b : null;
        this.host = first(c.getHost(), pg != null && pg.getServerNames().length > 0 ? pg.getServerNames()[0] : null, "localhost");
        int dsPort = pg != null && pg.getPortNumbers().length > 0 ? pg.getPortNumbers()[0] : 0;
        this.port = c.getHost() == null && dsPort > 0 ? dsPort : c.getPort();
        this.database = first(c.getDatabase(), pg != null ? pg.getDatabaseName() : null, null);
        this.user = first(c.getUser(), pg != null ? pg.getUser() : null, null);
        this.password = first(c.getPassword(), pg != null ? pg.getPassword() : null, null);
        if (pg != null) {
            for (PGProperty property : SSL_PROPERTIES) {
                String value = pg.getProperty(property);
                if (value != null && !value.equals(property.getDefaultValue())) {
                    property.set(dataSourceSsl, value);
                }
            }
        }
    }

    private static String first(String a, String b, String fallback) {
        if (a != null && !a.isEmpty()) {
            return a;
        }
        return b != null && !b.isEmpty() ? b : fallback;
    }

    String user() {
        return user;
    }

    String database() {
        return database;
    }

    /** {@code host:port/database}, safe to log. */
    String target() {
        return host + ":" + port + "/" + database;
    }

    private String url() {
        String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
        return "jdbc:postgresql://" + h + ":" + port + "/";
    }

    private Properties properties() {
        Properties p = SessionSettings.jdbcProperties();
        PGProperty.PG_DBNAME.set(p, database);
        if (user != null) {
            PGProperty.USER.set(p, user);
        }
        if (password != null) {
            PGProperty.PASSWORD.set(p, password);
        }
        p.putAll(dataSourceSsl); // the endpoint's own ssl options below win
        setIfPresent(p, PGProperty.SSL_MODE, options.getSslmode());
        setIfPresent(p, PGProperty.SSL_ROOT_CERT, options.getSslrootcert());
        setIfPresent(p, PGProperty.SSL_CERT, options.getSslcert());
        setIfPresent(p, PGProperty.SSL_KEY, options.getSslkey());
        PGProperty.APPLICATION_NAME.set(p, "pgsource pgoutput " + options.getSlot());
        PGProperty.CONNECT_TIMEOUT.set(p, 10);
        return p;
    }

    private static void setIfPresent(Properties p, PGProperty property, String value) {
        if (value != null && !value.isEmpty()) {
            property.set(p, value);
        }
    }

    private static Connection connect(String url, Properties properties) throws SQLException {
        Connection c = DRIVER.connect(url, properties);
        if (c == null) {
            throw new SQLException("not a pgjdbc URL: " + url, "08001");
        }
        return c;
    }

    /** An ordinary connection for catalog queries, autocommit on, with the shared session settings. */
    Connection openCatalog() throws SQLException {
        if (database == null) {
            throw new IllegalArgumentException("pgoutput:" + options.getSlot() + " needs the database option");
        }
        Connection c = dataSource != null ? dataSource.getConnection() : connect(url(), properties());
        try {
            c.setAutoCommit(true);
            SessionSettings.apply(c);
            return c;
        } catch (SQLException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /**
     * A {@code replication=database} connection in simple query mode with the shared session settings, so the
     * walsender prints values exactly as the batch path reads them.
     */
    Connection openReplication() throws SQLException {
        Properties p = properties();
        PGProperty.REPLICATION.set(p, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "10");
        PGProperty.PREFER_QUERY_MODE.set(p, "simple");
        Connection c = connect(url(), p);
        try {
            SessionSettings.apply(c);
            return c;
        } catch (SQLException | RuntimeException e) {
            c.close();
            throw e;
        }
    }
}
