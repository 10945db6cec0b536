package io.pgsource.batch;

import com.impossibl.postgres.jdbc.PGDataSource;
import io.pgsource.config.SourceSettings;
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
        if (ssl.sslmode() != null && !ssl.sslmode().isEmpty()) {
            ds.setSslMode(ssl.sslmode());
        }
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
