package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.testsupport.TestPostgres;
import java.net.ServerSocket;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every bad input ends at start with exit code 2 and one error line that begins with the cause and names the setting
 * to fix: no stack trace, no Java class name, no password. The same in every replication method, also when pgsource
 * runs continuously (nothing is retried). {@code DemoRunIT} checks the same through the packaged jar's output.
 */
class BadInputTest {
    private static final String DESTINATION_SECRET = "Dest-Secret-42";
    /** A Java class name in a message ({@code java.sql.SQLException}, {@code org.postgresql.util.PSQLException}). */
    private static final String CLASS_NAME = "\\b[a-z]+(\\.[a-z0-9_]+)+\\.[A-Z]\\w*(Exception|Error)\\b";

    private static TestPostgres pg;
    private static String source;
    private static String target;
    private static ExecutorService runner;

    @BeforeAll
    static void setUp() throws Exception {
        pg = TestPostgres.server();
        source = SourceFixture.createSource(pg, "bad_input_src");
        target = pg.createDatabase("bad_input_dst");
        runner = Executors.newSingleThreadExecutor();
    }

    @AfterAll
    static void tearDown() {
        runner.shutdownNow();
    }

    private record Outcome(int exitCode, String log, List<String> errors, List<String> stackTraces) {
    }

    /** Runs pgsource in this JVM; a run that does not end by itself within a minute fails the test. */
    private static Outcome run(Map<String, String> env) throws Exception {
        try (LogCapture logs = new LogCapture()) {
            Future<Integer> code = runner.submit(() -> PgSourceMain.run(env, new Properties()));
            int exit = code.get(60, TimeUnit.SECONDS);
            return new Outcome(exit, logs.text(), logs.lines(Level.ERROR), logs.withStackTrace());
        }
    }

    private static Map<String, String> env() {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("DESTINATION", "log");
        return env;
    }

    /** Exit code 2 and one error line: the cause first (it starts with {@code start}), then the fix, each text in it. */
    private static void assertOneClearLine(Outcome o, String start, String... contains) {
        assertThat(o.exitCode()).as(o.log()).isEqualTo(2);
        assertThat(o.errors()).as(o.log()).hasSize(1);
        assertThat(o.errors().get(0)).as(o.log()).startsWith(start).contains(contains).doesNotContainPattern(CLASS_NAME);
        assertThat(o.stackTraces()).as("lines with a stack trace").isEmpty();
        assertThat(o.log()).doesNotContain(pg.password()).doesNotContain(DESTINATION_SECRET);
    }

    /** A wrong setting of a connection, the key it sets, and how the error line starts and what it names. */
    enum WrongConnection {
        SOURCE_PASSWORD("SOURCE_PASSWORD", "Wr0ng-Secret-Value", "PostgreSQL at ", "rejected the password", "source.password"),
        SOURCE_HOST("SOURCE_HOST", "no-such-host.invalid", "Cannot resolve the host of no-such-host.invalid", "source.host"),
        SOURCE_DATABASE("SOURCE_DATABASE", "no_such_database", "Database missing at ", "no_such_database", "source.database"),
        SOURCE_PORT("SOURCE_PORT", null, "Cannot reach PostgreSQL at ", "source.host and source.port"),
        DESTINATION_PASSWORD("DESTINATION_PASSWORD", "Wr0ng-Secret-Value", "PostgreSQL at jdbc:postgresql://", "rejected the password",
                "destination.password"),
        DESTINATION_URL("DESTINATION_URL", null, "Cannot reach PostgreSQL at jdbc:postgresql://127.0.0.1:", "destination.url"),
        DESTINATION_URL_OF_ANOTHER_DATABASE("DESTINATION_URL", "jdbc:mysql://127.0.0.1/warehouse",
                "destination.url=jdbc:mysql://127.0.0.1/warehouse is not a PostgreSQL JDBC URL", "jdbc:postgresql://");

        final String key;
        /** null: a port nobody listens on */
        final String value;
        final String start;
        final String[] contains;

        WrongConnection(String key, String value, String start, String... contains) {
            this.key = key;
            this.value = value;
            this.start = start;
            this.contains = contains;
        }
    }

    static Stream<Arguments> wrongConnections() {
        return Arrays.stream(WrongConnection.values()).flatMap(w -> Stream.of(ReplicationMethod.values()).map(m -> Arguments.of(w, m)));
    }

    @ParameterizedTest(name = "{0} under {1}")
    @MethodSource("wrongConnections")
    void aWrongConnectionSettingIsOneLineWithTheCauseFirstAndExitCode2(WrongConnection wrong, ReplicationMethod method) throws Exception {
        Map<String, String> env = SourceFixture.postgresDestination(pg, env(), target);
        env.put("DESTINATION_USERNAME", pg.user());
        env.put("DESTINATION_PASSWORD", pg.password());
        env.remove("SYNC_ONCE"); // continuously: a connection error must not be retried forever either
        env.put("SOURCE_REPLICATION_METHOD", method.name());
        env.put("SOURCE_REPLICATION_KEY", "updated_at");
        env.put("SOURCE_REPLICATION_SLOT", "bad_input_" + method.name().toLowerCase());
        String value = wrong.value;
        if (value == null) {
            int port = freePort();
            value = wrong.key.equals("SOURCE_PORT") ? Integer.toString(port) : "jdbc:postgresql://127.0.0.1:" + port + "/warehouse?password="
                    + DESTINATION_SECRET;
        }
        env.put(wrong.key, value);
        assertOneClearLine(run(env), wrong.start, wrong.contains);
    }

    @Test
    void missingSchema() throws Exception {
        Map<String, String> env = env();
        env.put("SOURCE_SCHEMA", "public,nope");
        Outcome o = run(env);
        assertOneClearLine(o, "", "nope", "source.schema");
    }

    @Test
    void missingTable() throws Exception {
        Map<String, String> env = env();
        env.put("SOURCE_TABLES", "public.customers,public.nope");
        assertOneClearLine(run(env), "", "\"nope\"", "source.tables");
    }

    @Test
    void missingReplicationKeyColumnForATable() throws Exception {
        Map<String, String> env = env();
        env.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        env.put("SOURCE_TABLES", "public.customers");
        env.put("SOURCE_REPLICATION_KEYS", "public.customers:no_such_column");
        assertOneClearLine(run(env), "", "no_such_column", "source.replication_keys");
    }

    @Test
    void unknownSettingsValues() throws Exception {
        Map<String, String> env = env();
        env.put("SOURCE_REPLICATION_METHOD", "SOMETIMES");
        assertOneClearLine(run(env), "source.replication_method=SOMETIMES", "FULL_TABLE, INCREMENTAL or LOG_BASED");
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
