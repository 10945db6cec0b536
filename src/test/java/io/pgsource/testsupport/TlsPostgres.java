package io.pgsource.testsupport;

import io.pgsource.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * A PostgreSQL of its own that accepts only TLS: certificates from a CA made for this run, a {@code pg_hba.conf} with
 * {@code hostssl} rules only (a connection without TLS finds no rule and is refused), and client certificates required
 * for every role but the superuser ({@code clientcert=verify-full}: the certificate's CN must be the role). The files
 * a client needs are written to {@code dir}.
 */
public final class TlsPostgres implements AutoCloseable {
    /** The role the client certificate is for. */
    public static final String CLIENT_ROLE = "pgsource_tls";

    private final EmbeddedPostgres server;
    private final TestPostgres test;
    private final Path caFile;
    private final Path otherCaFile;
    private final Path clientCert;
    private final Path clientKey;

    private TlsPostgres(EmbeddedPostgres server, Path caFile, Path otherCaFile, Path clientCert, Path clientKey) {
        this.server = server;
        this.test = TestPostgres.of(server);
        this.caFile = caFile;
        this.otherCaFile = otherCaFile;
        this.clientCert = clientCert;
        this.clientKey = clientKey;
    }

    public static TlsPostgres start(Path dir) {
        TestCertificates.Issued ca = TestCertificates.ca("pgsource test CA");
        TestCertificates.Issued other = TestCertificates.ca("some other CA");
        TestCertificates.Issued server = TestCertificates.server(ca, List.of("localhost"), List.of("127.0.0.1"));
        TestCertificates.Issued wrongHost = TestCertificates.server(ca, List.of("db.example.invalid"), List.of());
        TestCertificates.Issued client = TestCertificates.client(ca, CLIENT_ROLE);
        EmbeddedPostgres pg = EmbeddedPostgres.builder().testMode(true)
                .dataFile("server.crt", server.certificatePem())
                .dataFile("server.key", server.keyPem())
                .dataFile("wronghost.crt", wrongHost.certificatePem())
                .dataFile("wronghost.key", wrongHost.keyPem())
                .dataFile("ca.crt", ca.certificatePem())
                .dataFile("pg_hba.conf", """
                        # TLS only: a connection without it matches no rule and is refused
                        hostssl all postgres 127.0.0.1/32 scram-sha-256
                        hostssl replication postgres 127.0.0.1/32 scram-sha-256
                        hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-full
                        hostssl replication all 127.0.0.1/32 scram-sha-256 clientcert=verify-full
                        """)
                .setting("ssl", "on")
                .setting("ssl_cert_file", "server.crt")
                .setting("ssl_key_file", "server.key")
                .setting("ssl_ca_file", "ca.crt")
                .start();
        return new TlsPostgres(pg, ca.writeCertificate(dir.resolve("ca.pem")), other.writeCertificate(dir.resolve("other-ca.pem")),
                client.writeCertificate(dir.resolve("client.crt")), client.writeKeyDer(dir.resolve("client.pk8")));
    }

    /** The server as the tests' usual handle (superuser connections, databases). */
    public TestPostgres server() {
        return test;
    }

    /** The CA that signed the server's certificate (PEM): what {@code sslrootcert} must name. */
    public Path caFile() {
        return caFile;
    }

    /** A CA that signed nothing of this server. */
    public Path otherCaFile() {
        return otherCaFile;
    }

    /** The client certificate of {@link #CLIENT_ROLE} (PEM). */
    public Path clientCert() {
        return clientCert;
    }

    /** The client key of {@link #CLIENT_ROLE} (PKCS-8 DER). */
    public Path clientKey() {
        return clientKey;
    }

    /**
     * Serves a certificate that names only {@code db.example.invalid} (true), or the right one again (false): the
     * server reloads its TLS files on SIGHUP, and new sessions get the new certificate.
     */
    public void serveWrongHostCertificate(boolean wrong) throws SQLException, InterruptedException {
        String cert = wrong ? "wronghost.crt" : "server.crt";
        try (Connection c = test.connect("postgres"); Statement s = c.createStatement()) {
            s.execute("ALTER SYSTEM SET ssl_cert_file = '" + cert + "'");
            s.execute("ALTER SYSTEM SET ssl_key_file = '" + (wrong ? "wronghost.key" : "server.key") + "'");
            s.execute("SELECT pg_reload_conf()");
        }
        // the postmaster reloads asynchronously: a new session shows the new value once it has
        for (int i = 0; i < 200; i++) {
            try (Connection c = test.connect("postgres"); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW ssl_cert_file")) {
                rs.next();
                if (cert.equals(rs.getString(1))) {
                    return;
                }
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("the TLS server did not reload ssl_cert_file = " + cert);
    }

    @Override
    public void close() {
        server.close();
    }
}
