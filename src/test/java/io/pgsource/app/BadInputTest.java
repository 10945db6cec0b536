package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.net.ServerSocket;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every bad input ends with a non-zero exit and a message that names the fix; no password in any log line. */
class BadInputTest {
    private static TestPostgres pg;
    private static String source;

    @BeforeAll
    static void setUp() throws Exception {
        pg = TestPostgres.server();
        source = SourceFixture.createSource(pg, "bad_input_src");
    }

    private record Outcome(int exitCode, String log) {
    }

    private static Outcome run(Map<String, String> env) {
        try (LogCapture logs = new LogCapture()) {
            int code = PgSourceMain.run(env, new Properties());
            return new Outcome(code, logs.text());
        }
    }

    private static Map<String, String> env() {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("DESTINATION", "log");
        return env;
    }

    private static void assertNoSecrets(Outcome o, String... secrets) {
        for (String secret : secrets) {
            assertThat(o.log()).as("log must not contain a password").doesNotContain(secret);
        }
    }

    @Test
    void unreachableHost() throws Exception {
        Map<String, String> env = env();
        env.put("SOURCE_HOST", "127.0.0.1");
        env.put("SOURCE_PORT", Integer.toString(freePort()));
        Outcome o = run(env);
        assertThat(o.exitCode()).isNotZero();
        assertThat(o.log()).contains("Cannot reach PostgreSQL at 127.0.0.1:").contains("Check source.host and source.port");
        assertNoSecrets(o, pg.password());
    }

    @Test
    void wrongPassword() {
        Map<String, String> env = env();
        env.put("SOURCE_PASSWORD", "Wr0ng-Secret-Value");
        Outcome o = run(env);
        assertThat(o.exitCode()).isNotZero();
        assertThat(o.log()).contains("rejected the password for user '" + pg.user() + "'").contains("source.password");
        assertNoSecrets(o, "Wr0ng-Secret-Value", pg.password());
    }

    @Test
    void missingDatabase() {
        Map<String, String> env = env();
        env.put("SOURCE_DATABASE", "no_such_database");
        Outcome o = run(env);
        assertThat(o.exitCode()).isNotZero();
        assertThat(o.log()).contains("no_such_database").contains("source.database");
        assertNoSecrets(o, pg.password());
    }

    @Test
    void missingSchema() {
        Map<String, String> env = env();
        env.put("SOURCE_SCHEMA", "public,nope");
        Outcome o = run(env);
        assertThat(o.exitCode()).isNotZero();
        assertThat(o.log()).contains("nope").contains("source.schema");
    }

    @Test
    void missingTable() {
        Map<String, String> env = env();
        env.put("SOURCE_TABLES", "public.customers,public.nope");
        Outcome o = run(env);
        assertThat(o.exitCode()).isNotZero();
        assertThat(o.log()).contains("\"nope\"").contains("source.tables");
    }

    @Test
    void missingReplicationKeyColumnForATable() {
        Map<String, String> env = env();
        env.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        env.put("SOURCE_TABLES", "public.customers");
        env.put("SOURCE_REPLICATION_KEYS", "public.customers:no_such_column");
        Outcome o = run(env);
        assertThat(o.exitCode()).isNotZero();
        assertThat(o.log()).contains("no_such_column").contains("source.replication_keys");
    }

    @Test
    void unreachableDestination() throws Exception {
        Map<String, String> env = env();
        env.put("DESTINATION", "postgres");
        env.put("DESTINATION_URL", "jdbc:postgresql://127.0.0.1:" + freePort() + "/warehouse");
        env.put("DESTINATION_USERNAME", "loader");
        env.put("DESTINATION_PASSWORD", "Dest-Secret-42");
        Outcome o = run(env);
        assertThat(o.exitCode()).isNotZero();
        assertThat(o.log()).contains("127.0.0.1").contains("destination.");
        assertNoSecrets(o, "Dest-Secret-42", pg.password());
    }

    @Test
    void unknownSettingsValues() {
        Map<String, String> env = env();
        env.put("SOURCE_REPLICATION_METHOD", "SOMETIMES");
        Outcome o = run(env);
        assertThat(o.exitCode()).isEqualTo(2);
        assertThat(o.log()).contains("source.replication_method=SOMETIMES").contains("FULL_TABLE, INCREMENTAL or LOG_BASED");
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
