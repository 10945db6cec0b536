package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import io.pgsource.testsupport.TlsPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS with {@code sslmode=verify-full} on both sides, against a server that accepts nothing but TLS and wants a client
 * certificate from pgsource's role: the catalog and copy connections, the replication connection and the destination
 * all verify the server against the CA made for this run. A wrong CA, a certificate for another host, a client
 * without TLS: each fails with a message that says what is wrong and which setting fixes it.
 */
class TlsEndToEndTest {
    private static final String PASSWORD = "Tls-Role-Secret-731";

    @TempDir
    static Path dir;
    private static TlsPostgres tls;
    private static TestPostgres pg;

    @BeforeAll
    static void start() throws Exception {
        tls = TlsPostgres.start(dir);
        pg = tls.server();
        SourceFixture.execute(pg, "postgres", "CREATE ROLE " + TlsPostgres.CLIENT_ROLE + " LOGIN REPLICATION PASSWORD '" + PASSWORD + "'");
    }

    @AfterAll
    static void stop() {
        if (tls != null) {
            tls.close();
        }
    }

    /** A source database whose table the client role owns (so pgsource may create the publication), and a destination. */
    private static String source(String prefix) throws Exception {
        String db = pg.createDatabase(prefix);
        SourceFixture.execute(pg, db, """
                CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2));
                INSERT INTO items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 500) g;
                ALTER TABLE items OWNER TO %1$s;
                GRANT CREATE ON DATABASE %2$s TO %1$s;""".formatted(TlsPostgres.CLIENT_ROLE, db));
        return db;
    }

    private static Map<String, String> env(String source, String target, String slot) {
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_HOST", pg.host()); // 127.0.0.1: the certificate names it in its subjectAltName
        env.put("SOURCE_PORT", Integer.toString(pg.port()));
        env.put("SOURCE_DATABASE", source);
        env.put("SOURCE_USERNAME", TlsPostgres.CLIENT_ROLE);
        env.put("SOURCE_PASSWORD", PASSWORD);
        env.put("SOURCE_SSLMODE", "verify-full");
        env.put("SOURCE_SSLROOTCERT", tls.caFile().toString());
        env.put("SOURCE_SSLCERT", tls.clientCert().toString());
        env.put("SOURCE_SSLKEY", tls.clientKey().toString());
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SYNC_ONCE", "true");
        env.put("DESTINATION", "postgres");
        env.put("DESTINATION_URL", pg.jdbcUrl(target));
        env.put("DESTINATION_USERNAME", pg.user());
        env.put("DESTINATION_PASSWORD", pg.password());
        env.put("DESTINATION_SSLMODE", "verify-full");
        env.put("DESTINATION_SSLROOTCERT", tls.caFile().toString());
        return env;
    }

    private record Outcome(int exitCode, String log) {
    }

    private static Outcome run(Map<String, String> env) {
        try (LogCapture logs = new LogCapture()) {
            int code = PgSourceMain.run(env, new Properties());
            return new Outcome(code, logs.text());
        }
    }

    /** A failure that names its fix in one readable message: no stack trace, no secret. */
    private static void assertClearFailure(Outcome o, String... expected) {
        assertThat(o.exitCode()).isNotZero();
        assertThat(o.log()).contains(expected).doesNotContain("\tat ").doesNotContain(PASSWORD).doesNotContain(pg.password());
    }

    @Test
    void logBasedSyncVerifiesTheServerOnEveryConnectionAndEncryptsEverySession() throws Exception {
        String source = source("tls_src");
        String target = pg.createDatabase("tls_dst");
        Map<String, String> env = env(source, target, "tls_slot");
        Set<String> sessions = ConcurrentHashMap.newKeySet();
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread sampler = new Thread(() -> sampleSessions(sessions, sampling), "pg_stat_ssl sampler");
        sampler.start();
        try {
            assertThat(run(env).exitCode()).as("first run: copy inside the new slot's snapshot").isZero();
            SourceFixture.execute(pg, source, """
                    INSERT INTO items SELECT g, 'new ' || g, g FROM generate_series(501, 600) g;
                    UPDATE items SET price = price * 2 WHERE id % 3 = 0;
                    DELETE FROM items WHERE id % 7 = 0;""");
            assertThat(run(env).exitCode()).as("second run: the changes through the replication connection").isZero();
        } finally {
            sampling.set(false);
            sampler.join();
        }
        try (Connection s = pg.connect(source); Connection t = pg.connect(target)) {
            assertThat(SourceFixture.rows(t, "public.items", List.of("id", "name", "price")))
                    .isEqualTo(SourceFixture.rows(s, "public.items", List.of("id", "name", "price")))
                    .hasSize(600 - 600 / 7);
        }
        // every session pgsource opened was encrypted: the catalog/copy sessions and the walsender at the source,
        // the destination's session (pg_hba.conf would have refused any other, this shows it from the server's side)
        assertThat(sessions).as("sessions seen in pg_stat_activity/pg_stat_ssl").isNotEmpty().allMatch(s -> s.endsWith("|ssl=true"));
        assertThat(sessions).anyMatch(s -> s.startsWith("walsender|" + source + "|" + TlsPostgres.CLIENT_ROLE + "|"));
        assertThat(sessions).anyMatch(s -> s.startsWith("client backend|" + source + "|" + TlsPostgres.CLIENT_ROLE + "|"));
        assertThat(sessions).anyMatch(s -> s.startsWith("client backend|" + target + "|" + pg.user() + "|"));
    }

    /** Polls pg_stat_ssl for pgsource's sessions while a sync runs. */
    private static void sampleSessions(Set<String> seen, AtomicBoolean running) {
        try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
            while (running.get()) {
                try (ResultSet rs = s.executeQuery("SELECT a.backend_type, a.datname, a.usename, s.ssl, s.version FROM pg_stat_activity a"
                        + " JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name LIKE 'pgsource%'")) {
                    while (rs.next()) {
                        seen.add(rs.getString(1) + "|" + rs.getString(2) + "|" + rs.getString(3) + "|ssl=" + rs.getBoolean(4));
                    }
                }
                Thread.sleep(20);
            }
        } catch (Exception e) {
            seen.add("sampler failed: " + e);
        }
    }

    @Test
    void aCaThatDidNotSignTheServerCertificateIsNamed() throws Exception {
        Map<String, String> env = env(source("tls_wrong_ca"), pg.createDatabase("tls_wrong_ca_dst"), "tls_wrong_ca");
        env.put("SOURCE_SSLROOTCERT", tls.otherCaFile().toString());
        assertClearFailure(run(env), "TLS connection to PostgreSQL at " + pg.host(), "not signed by a CA in source.sslrootcert");
    }

    @Test
    void aCertificateForAnotherHostIsNamed() throws Exception {
        Map<String, String> env = env(source("tls_wrong_host"), pg.createDatabase("tls_wrong_host_dst"), "tls_wrong_host");
        tls.serveWrongHostCertificate(true);
        Outcome o;
        try {
            o = run(env);
        } finally {
            tls.serveWrongHostCertificate(false);
        }
        assertClearFailure(o, "does not name the host", "source.host", "source.sslmode=verify-ca");
    }

    @Test
    void theDestinationsCaIsCheckedToo() throws Exception {
        Map<String, String> env = env(source("tls_dst_ca"), "postgres", "tls_dst_ca");
        env.remove("DESTINATION_SSLMODE");
        env.remove("DESTINATION_SSLROOTCERT");
        // the URL's own parameters work as well as the destination.ssl* keys
        env.put("DESTINATION_URL", pg.jdbcUrl(pg.createDatabase("tls_dst_ca_dst")) + "?sslmode=verify-full&sslrootcert="
                + tls.otherCaFile());
        Outcome o = run(env);
        // the destination is checked at start, before any route runs: one line, exit code 2
        assertThat(o.exitCode()).isEqualTo(2);
        assertClearFailure(o, "TLS connection to PostgreSQL at jdbc:postgresql://", "the server's certificate is not signed by a CA"
                + " in destination.sslrootcert");
    }

    @Test
    void aClientWithoutTlsOrWithoutItsCertificateIsTurnedAwayWithTheSettingToFix() throws Exception {
        String source = source("tls_plain");
        Map<String, String> env = env(source, pg.createDatabase("tls_plain_dst"), "tls_plain");
        env.put("SOURCE_SSLMODE", "disable");
        assertClearFailure(run(env), "pg_hba.conf", "source.sslmode");

        env = env(source, pg.createDatabase("tls_nocert_dst"), "tls_nocert");
        env.remove("SOURCE_SSLCERT");
        env.remove("SOURCE_SSLKEY");
        assertClearFailure(run(env), "client certificate", "source.sslcert");
    }
}
