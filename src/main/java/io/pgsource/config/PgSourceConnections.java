package io.pgsource.config;

import java.sql.Connection;
import java.sql.Driver;
import java.sql.SQLException;
import java.util.Properties;
import org.postgresql.ds.PGSimpleDataSource;

/** Opens source connections from {@link SourceSettings}: SSL options, session settings, explained failures. */
public final class PgSourceConnections implements SourceConnections {
    /**
     * pgjdbc itself, not DriverManager: DriverManager's first use loads every JDBC driver on the classpath (pgjdbc-ng,
     * MariaDB), about 40 ms of each start that needs none of them.
     */
    private static final Driver DRIVER = new org.postgresql.Driver();

    private final SourceSettings settings;

    public PgSourceConnections(SourceSettings settings) {
        this.settings = settings;
    }

    /** {@code host:port/database}, safe to log. */
    public String target() {
        return settings.host() + ":" + settings.port() + "/" + settings.database();
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://" + hostForUrl(settings.host()) + ":" + settings.port() + "/" + settings.database();
    }

    private static String hostForUrl(String host) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    /** The pgjdbc properties: credentials, SSL and the session settings that fix the text form of values. */
    public Properties jdbcProperties() {
        Properties p = new Properties();
        p.setProperty("user", settings.username());
        if (settings.password() != null) {
            p.setProperty("password", settings.password());
        }
        settings.ssl().applyTo(p);
        p.setProperty("ApplicationName", "pgsource");
        p.setProperty("connectTimeout", "10");
        p.putAll(io.pgsource.types.SessionSettings.jdbcProperties());
        return p;
    }

    /**
     * A pgjdbc DataSource with the same server, credentials and SSL settings, for components that take one
     * (the {@code pgoutput:} consumer).
     */
    public PGSimpleDataSource dataSource() {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setServerNames(new String[] {settings.host()});
        ds.setPortNumbers(new int[] {settings.port()});
        ds.setDatabaseName(settings.database());
        ds.setUser(settings.username());
        ds.setPassword(settings.password());
        SslSettings ssl = settings.ssl();
        if (ssl.sslmode() != null) {
            ds.setSslMode(ssl.sslmode());
        }
        if (ssl.sslrootcert() != null) {
            ds.setSslRootCert(ssl.sslrootcert());
        }
        if (ssl.sslcert() != null) {
            ds.setSslCert(ssl.sslcert());
        }
        if (ssl.sslkey() != null) {
            ds.setSslKey(ssl.sslkey());
        }
        ds.setApplicationName("pgsource");
        return ds;
    }

    /**
     * A {@code replication=database} connection in simple query mode (for replication commands such as
     * {@code CREATE_REPLICATION_SLOT}), with the same credentials, SSL and session settings.
     */
    public Connection openReplication() throws SQLException {
        Properties p = jdbcProperties();
        p.setProperty("replication", "database");
        p.setProperty("assumeMinServerVersion", "10");
        p.setProperty("preferQueryMode", "simple");
        Connection c;
        try {
            c = connect(jdbcUrl(), p);
        } catch (SQLException e) {
            throw ConnectionErrors.explain(e, "source", target(), settings.username(), settings.password());
        }
        io.pgsource.types.SessionSettings.apply(c);
        return c;
    }

    @Override
    public Connection open() throws SQLException {
        Connection c;
        try {
            c = connect(jdbcUrl(), jdbcProperties());
        } catch (SQLException e) {
            throw ConnectionErrors.explain(e, "source", target(), settings.username(), settings.password());
        }
        io.pgsource.types.SessionSettings.apply(c);
        return c;
    }

    /** A pgjdbc connection to a {@code jdbc:postgresql:} URL, as DriverManager would open it. */
    private static Connection connect(String url, Properties properties) throws SQLException {
        Connection c = DRIVER.connect(url, properties);
        if (c == null) {
            throw new SQLException("not a pgjdbc URL: " + url, "08001");
        }
        return c;
    }
}
