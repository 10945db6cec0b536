package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import io.pgsource.testsupport.TlsPostgres;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code source.notify} over TLS: pgevent's own connection (pgjdbc-ng) gets the source's TLS settings, against a server
 * that accepts nothing but TLS with {@code sslmode=verify-full} and a client certificate. The timer waits ten minutes, so
 * a row that arrives was announced on the TLS connection.
 */
class NotifyTlsTest {
    private static final String PASSWORD = "Notify-Tls-Secret-3";

    @TempDir
    static Path dir;
    private static TlsPostgres tls;
    private static TestPostgres pg;

    @BeforeAll
    static void start() throws Exception {
        tls = TlsPostgres.start(dir);
        pg = tls.server();
        SourceFixture.execute(pg, "postgres", "CREATE ROLE " + TlsPostgres.CLIENT_ROLE + " LOGIN PASSWORD '" + PASSWORD + "'");
    }

    @AfterAll
    static void stop() {
        if (tls != null) {
            tls.close();
        }
    }

    /** A source whose items table the role owns, and the environment of an INCREMENTAL sync woken by NOTIFY. */
    private static Map<String, String> env(String prefix, String role, String password) throws Exception {
        String source = pg.createDatabase(prefix);
        String target = pg.createDatabase(prefix + "_dst");
        SourceFixture.execute(pg, source, """
                CREATE TABLE items (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now());
                INSERT INTO items (id, name) SELECT g, 'item ' || g FROM generate_series(1, 5) g;
                ALTER TABLE items OWNER TO %1$s;
                GRANT CREATE ON SCHEMA public TO %1$s;""".formatted(role));
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_HOST", pg.host());
        env.put("SOURCE_PORT", Integer.toString(pg.port()));
        env.put("SOURCE_DATABASE", source);
        env.put("SOURCE_USERNAME", role);
        env.put("SOURCE_PASSWORD", password);
        env.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        env.put("SOURCE_REPLICATION_KEY", "updated_at");
        env.put("SOURCE_NOTIFY", "true");
        env.put("SYNC_INTERVAL", "10m");
        env.put("DESTINATION", "postgres");
        env.put("DESTINATION_URL", pg.jdbcUrl(target));
        env.put("DESTINATION_USERNAME", pg.user());
        env.put("DESTINATION_PASSWORD", pg.password());
        return env;
    }

    @Test
    void aNotificationArrivesOverAVerifiedTlsConnectionWithAClientCertificate() throws Exception {
        Map<String, String> env = env("notify_tls", TlsPostgres.CLIENT_ROLE, PASSWORD);
        env.put("SOURCE_SSLMODE", "verify-full");
        env.put("SOURCE_SSLROOTCERT", tls.caFile().toString());
        env.put("SOURCE_SSLCERT", tls.clientCert().toString());
        env.put("SOURCE_SSLKEY", tls.clientKey().toString());
        notifiedOverTls(env);
    }

    @Test
    void withoutSslmodeBothDriversPreferTls() throws Exception {
        // pgjdbc's default is prefer: pgevent's connection must not fall back to plain text, which this server refuses
        notifiedOverTls(env("notify_tls_prefer", pg.user(), pg.password()));
    }

    /** Runs pgsource: the listening connection uses TLS, and a row inserted then arrives long before the timer. */
    private static void notifiedOverTls(Map<String, String> env) throws Exception {
        String source = env.get("SOURCE_DATABASE");
        String target = env.get("DESTINATION_URL").substring(env.get("DESTINATION_URL").lastIndexOf('/') + 1);
        ExecutorService thread = Executors.newSingleThreadExecutor();
        Future<Integer> exit = thread.submit(() -> PgSourceMain.run(env, new Properties()));
        try {
            awaitRows(target, 5, exit);
            assertThat(SourceFixture.query(pg, source, "SELECT ssl FROM pg_catalog.pg_stat_ssl s JOIN pg_catalog.pg_stat_activity a"
                    + " USING (pid) WHERE a.application_name = 'pgsource notify'")).as("pgevent's connection").containsExactly("t");
            SourceFixture.execute(pg, source, "INSERT INTO items (id, name) VALUES (6, 'announced over TLS')");
            awaitRows(target, 6, exit);
        } finally {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!exit.isDone() && !PgSourceMain.stopRunning("the test") && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(exit.get(60, TimeUnit.SECONDS)).isZero();
            thread.shutdownNow();
        }
    }

    private static void awaitRows(String target, int rows, Future<Integer> exit) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        while (true) {
            assertThat(exit.isDone()).as("pgsource still running").isFalse();
            try {
                List<String> count = SourceFixture.query(pg, target, "SELECT count(*) FROM public.items");
                if (count.equals(List.of(Integer.toString(rows)))) {
                    return;
                }
            } catch (java.sql.SQLException e) {
                // not created yet
            }
            assertThat(System.currentTimeMillis()).as("waited for %d rows", rows).isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
