package io.pgsource.batch;

import com.impossibl.postgres.jdbc.PGDataSource;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.SourceSettings;
import java.sql.Connection;
import java.sql.SQLException;
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
}
