package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The least-privilege source role of the README is enough for LOG_BASED (copy and stream) and INCREMENTAL, and each
 * missing privilege stops pgsource with the GRANT (or ALTER ROLE) to run, or for INCREMENTAL's pg_read_all_stats says
 * once what it cannot see. No role here is a superuser.
 */
class LeastPrivilegeTest {
    private static final String PASSWORD = "Least-Priv-Secret-5";
    private static final List<String> COLUMNS = List.of("id", "name", "price");
    private static TestPostgres pg;

    @BeforeAll
    static void server() {
        pg = TestPostgres.server();
    }

    /** A source database with shop.items (owned by the admin) and a role created per test. */
    private static String source(String prefix) throws Exception {
        String db = pg.createDatabase(prefix);
        SourceFixture.execute(pg, db, """
                CREATE SCHEMA shop;
                CREATE TABLE shop.items (id int PRIMARY KEY, name text, price numeric(10,2));
                INSERT INTO shop.items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 300) g;""");
        return db;
    }

    private static String role(String db, String attributes) throws Exception {
        String role = db + "_role";
        SourceFixture.execute(pg, db, "CREATE ROLE " + role + " LOGIN " + attributes + " PASSWORD '" + PASSWORD + "'");
        return role;
    }

    private static Map<String, String> env(String source, String role, String target) {
        Map<String, String> env = SourceFixture.env(pg, source, "shop");
        env.put("SOURCE_USERNAME", role);
        env.put("SOURCE_PASSWORD", PASSWORD);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", source + "_slot");
        env.put("SOURCE_PUBLICATION_NAME", source + "_pub");
        return SourceFixture.postgresDestination(pg, env, target);
    }

    private record Outcome(int exitCode, String log) {
    }

    private static Outcome run(Map<String, String> env) {
        try (LogCapture logs = new LogCapture()) {
            return new Outcome(PgSourceMain.run(env, new Properties()), logs.text());
        }
    }

    /** Copies, changes the source, streams, and compares source and destination. */
    private static void syncCopyAndStream(String source, String target, Map<String, String> env) throws Exception {
        assertThat(run(env).exitCode()).as("first run: slot created, tables copied").isZero();
        SourceFixture.execute(pg, source, """
                INSERT INTO shop.items SELECT g, 'new ' || g, g FROM generate_series(301, 350) g;
                UPDATE shop.items SET price = price + 1 WHERE id % 4 = 0;
                DELETE FROM shop.items WHERE id % 9 = 0;""");
        assertThat(run(env).exitCode()).as("second run: the changes streamed").isZero();
        try (Connection s = pg.connect(source); Connection t = pg.connect(target)) {
            assertThat(SourceFixture.rows(t, "shop.items", COLUMNS)).isEqualTo(SourceFixture.rows(s, "shop.items", COLUMNS))
                    .hasSize(350 - 350 / 9);
        }
    }

    @Test
    void aReplicationRoleThatOwnsItsTablesCreatesThePublicationAndTheSlotAndSyncs() throws Exception {
        String source = source("lp_owner");
        String role = role(source, "REPLICATION");
        // the README's role: REPLICATION, CONNECT, USAGE on the schema, the tables' owner, CREATE on the database
        SourceFixture.execute(pg, source, """
                GRANT CONNECT, CREATE ON DATABASE %1$s TO %2$s;
                GRANT USAGE ON SCHEMA shop TO %2$s;
                ALTER TABLE shop.items OWNER TO %2$s;""".formatted(source, role));
        String target = pg.createDatabase("lp_owner_dst");
        syncCopyAndStream(source, target, env(source, role, target));
        assertThat(query(source, "SELECT pubowner::regrole::text FROM pg_publication WHERE pubname = '" + source + "_pub'"))
                .as("pgsource created the publication as the role").isEqualTo(role);
        assertThat(query(source, "SELECT rolsuper::text FROM pg_roles WHERE rolname = '" + role + "'")).isEqualTo("false");
    }

    @Test
    void aReplicationRoleWithSelectOnlyWorksWithAPublicationAnAdministratorMade() throws Exception {
        String source = source("lp_select");
        String role = role(source, "REPLICATION");
        SourceFixture.execute(pg, source, """
                GRANT CONNECT ON DATABASE %1$s TO %2$s;
                GRANT USAGE ON SCHEMA shop TO %2$s;
                GRANT SELECT ON ALL TABLES IN SCHEMA shop TO %2$s;
                CREATE PUBLICATION %1$s_pub FOR TABLE shop.items;""".formatted(source, role));
        String target = pg.createDatabase("lp_select_dst");
        syncCopyAndStream(source, target, env(source, role, target));
    }

    @Test
    void withoutReplicationTheErrorSaysAlterRoleWithReplication() throws Exception {
        String source = source("lp_norepl");
        String role = role(source, "");
        SourceFixture.execute(pg, source, """
                GRANT USAGE ON SCHEMA shop TO %2$s;
                GRANT SELECT ON ALL TABLES IN SCHEMA shop TO %2$s;
                CREATE PUBLICATION %1$s_pub FOR TABLE shop.items;""".formatted(source, role));
        Map<String, String> env = env(source, role, pg.createDatabase("lp_norepl_dst"));
        Outcome created = run(env);
        assertThat(created.exitCode()).as("a new slot: the prerequisite check").isNotZero();
        assertThat(created.log()).contains("ALTER ROLE \"" + role + "\" WITH REPLICATION;").doesNotContain(PASSWORD);

        // an existing slot without a copy: the same check, before the copy's temporary slot is tried
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('" + source + "_slot', 'pgoutput')");
        Outcome existing = run(env);
        assertThat(existing.exitCode()).as("an existing slot: the prerequisite check, before any copy").isNotZero();
        assertThat(existing.log()).contains("may not start logical replication").contains("ALTER ROLE \"" + role + "\" WITH REPLICATION;")
                .doesNotContain("copying").doesNotContain(PASSWORD);
        SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot('" + source + "_slot')");
    }

    @Test
    void withoutSelectTheErrorGivesTheGrants() throws Exception {
        String source = source("lp_nosel");
        String role = role(source, "REPLICATION");
        SourceFixture.execute(pg, source, "CREATE PUBLICATION " + source + "_pub FOR TABLE shop.items");
        Map<String, String> env = env(source, role, pg.createDatabase("lp_nosel_dst"));
        Outcome noUsage = run(env);
        assertThat(noUsage.exitCode()).isEqualTo(2);
        assertThat(noUsage.log()).contains("lacks USAGE on schema \"shop\" and SELECT on \"shop\".\"items\"")
                .contains("GRANT USAGE ON SCHEMA \"shop\" TO \"" + role + "\"; GRANT SELECT ON \"shop\".\"items\" TO \"" + role + "\";");

        SourceFixture.execute(pg, source, "GRANT USAGE ON SCHEMA shop TO " + role);
        Outcome noSelect = run(env);
        assertThat(noSelect.exitCode()).isEqualTo(2);
        assertThat(noSelect.log()).contains("GRANT SELECT ON \"shop\".\"items\" TO \"" + role + "\";").doesNotContain("GRANT USAGE")
                .doesNotContain(PASSWORD);
    }

    /** The README's role for the batch query: CONNECT, USAGE, SELECT, and for INCREMENTAL pg_read_all_stats. */
    private static Map<String, String> incremental(String source, String role, String target) throws Exception {
        SourceFixture.execute(pg, source, """
                ALTER TABLE shop.items ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
                GRANT CONNECT ON DATABASE %1$s TO %2$s;
                GRANT USAGE ON SCHEMA shop TO %2$s;
                GRANT SELECT ON ALL TABLES IN SCHEMA shop TO %2$s;""".formatted(source, role));
        Map<String, String> env = SourceFixture.env(pg, source, "shop");
        env.put("SOURCE_USERNAME", role);
        env.put("SOURCE_PASSWORD", PASSWORD);
        env.put("SOURCE_REPLICATION_METHOD", "INCREMENTAL");
        env.put("SOURCE_REPLICATION_KEY", "updated_at");
        return SourceFixture.postgresDestination(pg, env, target);
    }

    private static List<String> rows(String db) throws Exception {
        try (Connection c = pg.connect(db)) {
            return SourceFixture.rows(c, "shop.items", List.of("id", "name", "price", "updated_at"));
        }
    }

    @Test
    void incrementalWithPgReadAllStatsWaitsForAnotherRolesOpenTransaction() throws Exception {
        String source = source("lp_inc");
        String role = role(source, "");
        String target = pg.createDatabase("lp_inc_dst");
        Map<String, String> env = incremental(source, role, target);
        SourceFixture.execute(pg, source, "GRANT pg_read_all_stats TO " + role);

        try (Connection application = pg.connect(source)) {
            // the administrator's (another role's) transaction writes early and commits after a run
            application.setAutoCommit(false);
            try (var s = application.createStatement()) {
                s.execute("INSERT INTO shop.items VALUES (1001, 'written early', 1)");
            }
            SourceFixture.execute(pg, source, "INSERT INTO shop.items VALUES (1002, 'committed first', 2)");
            Outcome held = run(env);
            assertThat(held.exitCode()).isZero();
            assertThat(held.log()).doesNotContain("pg_read_all_stats");
            assertThat(rows(target)).as("row 1002 waits for the transaction that began before it").hasSize(300);
            application.commit();
        }
        assertThat(run(env).exitCode()).isZero();
        assertThat(rows(target)).isEqualTo(rows(source)).hasSize(302);
    }

    @Test
    void incrementalWithoutPgReadAllStatsSaysWhatToGrantAndSyncsWhatIsCommitted() throws Exception {
        String source = source("lp_incnostats");
        String role = role(source, "");
        String target = pg.createDatabase("lp_incnostats_dst");
        Map<String, String> env = incremental(source, role, target);

        try (Connection application = pg.connect(source)) {
            application.setAutoCommit(false);
            try (var s = application.createStatement()) {
                s.execute("INSERT INTO shop.items VALUES (1001, 'hidden from the role', 1)");
            }
            Outcome blind = run(env);
            assertThat(blind.exitCode()).isZero();
            assertThat(blind.log()).contains("cannot see when other roles' transactions began")
                    .contains("GRANT pg_read_all_stats TO \"" + role + "\";").contains("sync.incremental_lag").doesNotContain(PASSWORD);
            assertThat(rows(target)).isEqualTo(rows(source)).hasSize(300);
            application.rollback();
        }
    }

    private static String query(String db, String sql) throws Exception {
        try (Connection c = pg.connect(db); var s = c.createStatement(); var rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
