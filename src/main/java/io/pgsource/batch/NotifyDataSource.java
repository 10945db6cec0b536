package io.pgsource.batch;

import com.impossibl.postgres.jdbc.PGDataSource;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.SourceSettings;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.function.Supplier;
import java.util.logging.Logger;
import javax.sql.DataSource;
import io.pgsource.config.SslSettings;

/**
 * {@code source.notify}: the connection Camel's {@code pgevent:} consumer listens on. pgevent needs pgjdbc-ng (it waits
 * for notifications without polling), so its data source is built here from the same source settings pgsource's own
 * connections use: host, port, database, user, password and the TLS settings. The password stays in the bean, never in
 * an endpoint URI.
 */
public final class NotifyDataSource {
    private NotifyDataSource() {
    }

    /**
     * Connects once as pgevent will, so a listening connection that cannot be made stops the start with what to fix
     * (pgsource's other connections, through pgjdbc, worked already with the same settings).
     *
     * @throws ConfigurationException when it cannot connect
     */
    public static void check(PGDataSource ds, SourceSettings settings) {
        try (Connection c = ds.getConnection()) {
            c.isValid(10);
        } catch (SQLException e) {
            String m = String.valueOf(e.getMessage());
            int nl = m.indexOf('\n');
            throw new ConfigurationException("source.notify=true: the LISTEN connection (Camel's pgevent, through pgjdbc-ng) to "
                    + settings.host() + ":" + settings.port() + "/" + settings.database() + " failed: " + (nl < 0 ? m : m.substring(0, nl))
                    + ". It uses the source.* settings that pgsource's other connections use: check what differs for this client"
                    + " (pg_hba.conf, source.sslmode), or unset source.notify");
        }
    }

    public static PGDataSource of(SourceSettings settings) {
        PGDataSource ds = new PGDataSource();
        if (settings.host() != null) {
            ds.setServerName(settings.host());
        }
        ds.setPortNumber(settings.port());
        ds.setDatabaseName(settings.database());
        if (settings.username() != null) {
            ds.setUser(settings.username());
        }
        if (settings.password() != null) {
            ds.setPassword(settings.password());
        }
        ds.setApplicationName("pgsource notify");
        SslSettings ssl = settings.ssl();
        // pgjdbc-ng's own default is disable: pgjdbc's (prefer) keeps both drivers on TLS where the server offers it
        ds.setSslMode(ssl.sslmode() != null && !ssl.sslmode().isEmpty() ? ssl.sslmode() : "prefer");
        if (ssl.sslrootcert() != null && !ssl.sslrootcert().isEmpty()) {
            ds.setSslCaCertificateFile(ssl.sslrootcert());
        }
        if (ssl.sslcert() != null && !ssl.sslcert().isEmpty()) {
            ds.setSslCertificateFile(ssl.sslcert());
        }
        if (ssl.sslkey() != null && !ssl.sslkey().isEmpty()) {
            ds.setSslKeyFile(ssl.sslkey());
        }
        return ds;
    }

    /**
     * The same data source, made when pgevent first connects: without source.notify the batch-notify route is created but
     * never started, and pgjdbc-ng's data source alone costs about 30 ms of every start.
     */
    public static DataSource lazy(SourceSettings settings) {
        return new Lazy(() -> of(settings));
    }

    private static final class Lazy implements DataSource {
        private final Supplier<PGDataSource> make;
        private PGDataSource made;

        Lazy(Supplier<PGDataSource> make) {
            this.make = make;
        }

        private synchronized PGDataSource target() {
            if (made == null) {
                made = make.get();
            }
            return made;
        }

        @Override
        public Connection getConnection() throws SQLException {
            return target().getConnection();
        }

        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            return target().getConnection(username, password);
        }

        @Override
        public PrintWriter getLogWriter() throws SQLException {
            return target().getLogWriter();
        }

        @Override
        public void setLogWriter(PrintWriter out) throws SQLException {
            target().setLogWriter(out);
        }

        @Override
        public void setLoginTimeout(int seconds) throws SQLException {
            target().setLoginTimeout(seconds);
        }

        @Override
        public int getLoginTimeout() throws SQLException {
            return target().getLoginTimeout();
        }

        @Override
        public Logger getParentLogger() {
            return Logger.getLogger(Logger.GLOBAL_LOGGER_NAME);
        }

        @Override
        public <T> T unwrap(Class<T> type) throws SQLException {
            return type.isInstance(this) ? type.cast(this) : target().unwrap(type);
        }

        @Override
        public boolean isWrapperFor(Class<?> type) throws SQLException {
            return type.isInstance(this) || target().isWrapperFor(type);
        }
    }
}
