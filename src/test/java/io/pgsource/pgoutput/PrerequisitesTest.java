package io.pgsource.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every setup problem fails at start with the exact fix in the message. */
class PrerequisitesTest extends CamelTestSupport {
    private static PgOutputTestSupport db;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_prereq");
        db.execute("CREATE TABLE keyed (id int PRIMARY KEY)", "CREATE TABLE other (id int PRIMARY KEY)",
                "CREATE TABLE keyless (v text)", "CREATE TABLE \"Mixed Case\" (id int PRIMARY KEY)",
                "CREATE PUBLICATION keyed_pub FOR TABLE keyed", "CREATE PUBLICATION keyless_pub FOR TABLE keyed, keyless");
    }

    @AfterAll
    static void dropSlots() throws Exception {
        db.dropSlots();
    }

    private static PgOutputConfiguration options(String slot, String publication) {
        PgOutputConfiguration c = new PgOutputConfiguration();
        c.setSlot(slot);
        c.setPublication(publication);
        return c;
    }

    private static Prerequisites.Outcome check(PgOutputConfiguration options) throws Exception {
        try (Connection c = db.connect()) {
            return new Prerequisites(options).check(c);
        }
    }

    @Test
    void walLevelOtherThanLogicalSaysToSetItAndRestart() {
        // the test server must stay logical (its logical slots would stop it from starting), so this checks the rule
        assertThatThrownBy(() -> Prerequisites.requireLogicalWal("replica")).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("wal_level = replica").hasMessageContaining("wal_level = logical")
                .hasMessageContaining("restart PostgreSQL").hasMessageContaining("rds.logical_replication = 1")
                .hasMessageContaining("Azure");
    }

    @Test
    void aSetUpServerPassesAndPicksTheNewestProtocol() throws Exception {
        String slot = db.createSlot("ok");
        Prerequisites.Outcome outcome = check(options(slot, "keyed_pub"));
        assertThat(outcome.slotExists()).isTrue();
        assertThat(outcome.protocolVersion()).isEqualTo(Prerequisites.newestProtocol(outcome.serverVersion()));
        assertThat(outcome.confirmedFlush()).isPositive();
        assertThat(Prerequisites.newestProtocol(170000)).isEqualTo(4);
        assertThat(Prerequisites.newestProtocol(150004)).isEqualTo(3);
        assertThat(Prerequisites.newestProtocol(140010)).isEqualTo(2);
        assertThat(Prerequisites.newestProtocol(130000)).isEqualTo(1);
    }

    @Test
    void aRoleWithoutReplicationIsToldToAlterIt() throws Exception {
        String role = db.newSlotName("norepl");
        db.execute("CREATE ROLE " + role + " LOGIN PASSWORD 'pw'");
        String slot = db.createSlot("role");
        try (Connection c = DriverManager.getConnection(db.pg.jdbcUrl(db.database), role, "pw")) {
            assertThatThrownBy(() -> new Prerequisites(options(slot, "keyed_pub")).check(c)).isInstanceOf(PrerequisiteException.class)
                    .hasMessageContaining("ALTER ROLE \"" + role + "\" WITH REPLICATION;");
        } finally {
            db.execute("DROP ROLE " + role);
        }
    }

    @Test
    void aMissingSlotGivesTheCreateCommand() {
        String slot = db.newSlotName("missing");
        assertThatThrownBy(() -> check(options(slot, "keyed_pub"))).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput');")
                .hasMessageContaining("createSlot=true");
    }

    @Test
    void noFreeSlotWhenOneIsToBeCreatedSaysToDropOrRaiseMaxReplicationSlots() throws Exception {
        int free = Integer.parseInt(db.query("SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots"));
        List<String> fillers = new ArrayList<>();
        try {
            for (int i = 0; i < free; i++) {
                String filler = db.newSlotName("filler");
                db.query("SELECT pg_create_physical_replication_slot('" + filler + "')");
                fillers.add(filler);
            }
            PgOutputConfiguration options = options(db.newSlotName("new"), "keyed_pub");
            options.setCreateSlot(true);
            assertThatThrownBy(() -> check(options)).isInstanceOf(PrerequisiteException.class)
                    .hasMessageContaining("replication slots (max_replication_slots) are in use")
                    .hasMessageContaining("pg_drop_replication_slot").hasMessageContaining("raise max_replication_slots");
        } finally {
            for (String f : fillers) {
                db.query("SELECT pg_drop_replication_slot('" + f + "')");
            }
        }
    }

    @Test
    void aSlotOfAnotherKindIsRefused() throws Exception {
        String slot = db.newSlotName("physical");
        db.query("SELECT pg_create_physical_replication_slot('" + slot + "')");
        assertThatThrownBy(() -> check(options(slot, "keyed_pub"))).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("is a physical slot").hasMessageContaining("not a logical slot of plugin pgoutput")
                .hasMessageContaining("pg_drop_replication_slot('" + slot + "')");
        String other = db.newSlotName("decoding");
        try {
            db.query("SELECT pg_create_logical_replication_slot('" + other + "', 'test_decoding')");
        } catch (java.sql.SQLException e) {
            return; // test_decoding is not installed here
        }
        assertThatThrownBy(() -> check(options(other, "keyed_pub"))).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("of plugin test_decoding, not a logical slot of plugin pgoutput");
    }

    @Test
    void aMissingPublicationGivesTheCreateCommand() throws Exception {
        String slot = db.createSlot("nopub");
        assertThatThrownBy(() -> check(options(slot, "nopub"))).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("CREATE PUBLICATION \"nopub\" FOR ALL TABLES;").hasMessageContaining("createPublication=true");
        PgOutputConfiguration some = options(slot, "nopub");
        some.setPublicationTables("keyed, public.other");
        assertThatThrownBy(() -> check(some)).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("CREATE PUBLICATION \"nopub\" FOR TABLE \"public\".\"keyed\", \"public\".\"other\";");
    }

    @Test
    void aPublicationNotCoveringASelectedTableSaysToAddIt() throws Exception {
        String slot = db.createSlot("cover");
        PgOutputConfiguration options = options(slot, "keyed_pub");
        options.setPublicationTables("keyed,other");
        assertThatThrownBy(() -> check(options)).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("ALTER PUBLICATION \"keyed_pub\" ADD TABLE \"public\".\"other\";");
    }

    @Test
    void aPublishedTableWithoutKeyOrReplicaIdentitySaysReplicaIdentityFull() throws Exception {
        String slot = db.createSlot("keyless");
        assertThatThrownBy(() -> check(options(slot, "keyless_pub"))).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("\"public\".\"keyless\"").hasMessageContaining("neither a primary key nor a usable replica identity")
                .hasMessageContaining("ALTER TABLE \"public\".\"keyless\" REPLICA IDENTITY FULL;");
    }

    @Test
    void createPublicationCreatesItForTheQuotedTables() throws Exception {
        String slot = db.createSlot("createpub");
        PgOutputConfiguration options = options(slot, "created pub");
        options.setCreatePublication(true);
        options.setPublicationTables("\"Mixed Case\", keyed");
        check(options);
        assertThat(db.query("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'created pub'"))
                .isEqualTo("Mixed Case,keyed");
        check(options); // exists now: checked, not created again
    }

    @Test
    void aRoleThatMayNotCreateThePublicationIsToldWhatToGrantOrWhoShouldCreateIt() throws Exception {
        String role = db.newSlotName("nopubrole");
        db.execute("CREATE ROLE " + role + " LOGIN REPLICATION PASSWORD 'pw'", "GRANT SELECT ON keyed TO " + role);
        String slot = db.createSlot("nopub");
        PgOutputConfiguration options = options(slot, "role_pub");
        options.setCreatePublication(true);
        options.setPublicationTables("keyed");
        try (Connection c = DriverManager.getConnection(db.pg.jdbcUrl(db.database), role, "pw")) {
            // no CREATE on the database
            assertThatThrownBy(() -> new Prerequisites(options).check(c)).isInstanceOf(PrerequisiteException.class)
                    .hasMessageContaining("may not create the publication")
                    .hasMessageContaining("GRANT CREATE ON DATABASE \"" + db.database + "\" TO \"" + role + "\";")
                    .hasMessageContaining("CREATE PUBLICATION \"role_pub\" FOR TABLE \"public\".\"keyed\";");
            // CREATE on the database, but the table belongs to someone else
            db.execute("GRANT CREATE ON DATABASE " + db.database + " TO " + role);
            assertThatThrownBy(() -> new Prerequisites(options).check(c)).isInstanceOf(PrerequisiteException.class)
                    .hasMessageContaining("must be owner of table keyed")
                    .hasMessageContaining("ALTER TABLE ... OWNER TO \"" + role + "\";")
                    .hasMessageContaining("with the publication in place the role needs only REPLICATION and SELECT on the tables");
        } finally {
            db.execute("REVOKE ALL ON DATABASE " + db.database + " FROM " + role, "REVOKE ALL ON keyed FROM " + role, "DROP ROLE " + role);
        }
    }

    @Test
    void anInvalidatedSlotMustBeDroppedRecreatedAndRecopied() throws Exception {
        String slot = db.createSlot("lost");
        db.execute("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", "SELECT pg_reload_conf()");
        try {
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!"lost".equals(db.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '" + slot + "'"))) {
                assertThat(System.nanoTime()).as("the slot is invalidated").isLessThan(end);
                db.execute("SELECT pg_logical_emit_message(false, 'filler', repeat('x', 1000))", "SELECT pg_switch_wal()",
                        "SELECT pg_logical_emit_message(false, 'filler', 'y')", "SELECT pg_switch_wal()", "CHECKPOINT");
            }
        } finally {
            db.execute("ALTER SYSTEM RESET max_slot_wal_keep_size", "SELECT pg_reload_conf()");
        }
        assertThatThrownBy(() -> check(options(slot, "keyed_pub"))).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("is invalidated").hasMessageContaining("pg_drop_replication_slot('" + slot + "')")
                .hasMessageContaining("create it again").hasMessageContaining("copy the data again");
    }

    @Test
    void aRouteWhoseSetupIsWrongDoesNotStartAndSaysWhy() {
        String slot = db.newSlotName("route");
        assertThatThrownBy(() -> context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from(db.uri(slot, "keyed_pub", "")).routeId("wrong").to("mock:never");
            }
        })).isInstanceOf(PrerequisiteException.class).hasMessageContaining("pg_create_logical_replication_slot");
    }
}
