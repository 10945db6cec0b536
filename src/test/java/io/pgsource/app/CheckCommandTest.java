package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code check}: every prerequisite of a run tried, nothing left behind, each failure one line with its fix. */
class CheckCommandTest {
    private static TestPostgres pg;
    private static String db;
    private static String target;

    @BeforeAll
    static void source() throws Exception {
        pg = TestPostgres.server();
        db = pg.createDatabase("check_src");
        target = pg.createDatabase("check_dst");
        SourceFixture.execute(pg, db, """
                CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric);
                CREATE TABLE public.history (tid int, delta int);
                CREATE TABLE public.secret (id int PRIMARY KEY);""");
    }

    private record Result(int code, String out) {
    }

    private static Result check(Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(SourceFixture.env(pg, db, "public"));
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", "check_slot");
        SourceFixture.postgresDestination(pg, env, target);
        env.putAll(extra);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = CheckCommand.run(List.of(), env, new Properties(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(out, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aReadySetupPassesAndWhatAStartWouldCreateIsTriedAndRolledBack() throws Exception {
        Result r = check(Map.of());
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(r.out()).contains("ok   source: connected to", "ok   tables: 3 selected by source.schema=public",
                "slot check_slot is created by the first run",
                "a start runs (tried here and rolled back): CREATE PUBLICATION",
                "ok   destination postgres: connected to", "Every check passed: a run can start");
        assertThat(SourceFixture.query(pg, db, "SELECT count(*) FROM pg_publication")).as("nothing left behind").containsExactly("0");
        assertThat(SourceFixture.query(pg, db, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'check_slot'"))
                .containsExactly("0");
        assertThat(SourceFixture.query(pg, target, "SELECT count(*) FROM pg_namespace WHERE nspname = '_pgsource'"))
                .containsExactly("0");
    }

    @Test
    void whatARunWouldStopWithIsOneLineEachWithTheFixAndNoSecret() throws Exception {
        String role = "check_reader_" + db.replaceAll("\\W", "_");
        SourceFixture.execute(pg, db, "CREATE ROLE " + role + " LOGIN PASSWORD 'role-secret-123'; "
                + "GRANT SELECT ON public.orders, public.history TO " + role);
        Result r = check(Map.of("SOURCE_USERNAME", role, "SOURCE_PASSWORD", "role-secret-123",
                "DESTINATION_PASSWORD", "wrong-secret-456"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).contains("FAIL tables: Role \"" + role + "\" (source.username) lacks SELECT on \"public\".\"secret\"",
                        "GRANT SELECT ON \"public\".\"secret\" TO \"" + role + "\";")
                .contains("FAIL destination postgres:", "Check destination.password", "A run would stop")
                .doesNotContain("role-secret-123", "wrong-secret-456");
        assertThat(r.out().lines().filter(l -> l.startsWith("FAIL")).count()).isEqualTo(2);

        SourceFixture.execute(pg, db, "GRANT SELECT ON public.secret TO " + role);
        r = check(Map.of("SOURCE_USERNAME", role, "SOURCE_PASSWORD", "role-secret-123"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).contains("ok   tables: 3", "FAIL log replication: role \"" + role
                + "\" may not start logical replication: run ALTER ROLE \"" + role + "\" WITH REPLICATION;");
    }

    @Test
    void anUnwritableJsonlDirectoryIsSaid(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("a-file"), "x");
        Result r = check(Map.of("DESTINATION", "jsonl", "DESTINATION_DIRECTORY", file.resolve("out").toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).contains("FAIL destination jsonl: destination.directory=" + file.resolve("out") + " cannot be written ("
                + file + " is not a directory)");
    }
}
