package io.pgsource.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

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

    /** The WARN lines of the checks while open. */
    private static final class Warnings implements AutoCloseable {
        private final Logger logger = (Logger) LoggerFactory.getLogger(Prerequisites.class);
        private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

        Warnings() {
            appender.start();
            logger.addAppender(appender);
        }

        List<String> lines() {
            return appender.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
        }

        @Override
        public void close() {
            logger.detachAppender(appender);
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
    void aMissingSlotGivesTheCreateCommandWhichThisServerAccepts() throws Exception {
        String slot = db.newSlotName("missing");
        Throwable error = catchThrowable(() -> check(options(slot, "keyed_pub")));
        assertThat(error).isInstanceOf(PrerequisiteException.class).hasMessageContaining("createSlot=true");
        Matcher sql = Pattern.compile("SELECT pg_create_logical_replication_slot\\([^;]*\\);").matcher(error.getMessage());
        assertThat(sql.find()).as(error.getMessage()).isTrue();
        // the suggested command, run as the user would, creates the slot pgsource would have created
        db.query(sql.group().replaceFirst(";$", ""));
        try {
            boolean failoverExpected = Integer.parseInt(db.query("SHOW server_version_num")) >= 170000;
            assertThat(db.query("SELECT plugin || ' ' || " + (failoverExpected ? "failover" : "false")
                    + " FROM pg_replication_slots WHERE slot_name = '" + slot + "'")).isEqualTo("pgoutput " + failoverExpected);
        } finally {
            db.query("SELECT pg_drop_replication_slot('" + slot + "')");
        }
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
        // FOR ALL TABLES would make PostgreSQL reject UPDATE and DELETE on the keyless table: not suggested
        assertThatThrownBy(() -> check(options(slot, "nopub"))).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("publication \"nopub\" does not exist, and one FOR ALL TABLES would make PostgreSQL reject UPDATE"
                        + " and DELETE on ").hasMessageContaining("\"public\".\"keyless\"").hasMessageContaining("publicationTables");
        PgOutputConfiguration some = options(slot, "nopub");
        some.setPublicationTables("keyed, public.other");
        assertThatThrownBy(() -> check(some)).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("CREATE PUBLICATION \"nopub\" FOR TABLE \"public\".\"keyed\", \"public\".\"other\"" + generatedColumns() + ";");
    }

    @Test
    void aPublicationNotCoveringASelectedTableSaysToAddIt() throws Exception {
        String slot = db.createSlot("cover");
        PgOutputConfiguration options = options(slot, "keyed_pub");
        options.setPublicationTables("keyed,other");
        assertThatThrownBy(() -> check(options)).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("ALTER PUBLICATION \"keyed_pub\" ADD TABLE \"public\".\"other\";");
    }

    /** PostgreSQL streams a keyless table's inserts and truncates: warned about once, with the fix, never refused. */
    @Test
    void aPublishedTableWithoutKeyOrReplicaIdentityIsWarnedAboutOnceNotRefused() throws Exception {
        String slot = db.createSlot("keyless");
        PgOutputConfiguration options = options(slot, "keyless_pub");
        options.setPublicationTables("keyed, keyless");
        Prerequisites checks = new Prerequisites(options);
        try (Warnings warnings = new Warnings(); Connection c = db.connect()) {
            assertThat(checks.check(c).publications()).containsExactly("keyless_pub");
            checks.check(c);
            assertThat(warnings.lines()).singleElement().asString().contains("\"public\".\"keyless\" has no primary key or replica identity")
                    .contains("PostgreSQL rejects UPDATE and DELETE on it while it is published")
                    .contains("ALTER TABLE \"public\".\"keyless\" REPLICA IDENTITY FULL;");
        }
    }

    /**
     * A partitioned table is published whatever the shape: through its root, as its leaves (FOR TABLE of the root or
     * FOR ALL TABLES without publish_via_partition_root), or some partitions only (a warning names the others and the
     * SQL that publishes them, which PostgreSQL accepts).
     */
    @Test
    void aPartitionedTableIsPublishedThroughItsRootOrItsLeaves() throws Exception {
        db.execute("CREATE SCHEMA parts", "CREATE TABLE parts.m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
                "CREATE TABLE parts.m_2024 PARTITION OF parts.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (id)",
                "CREATE TABLE parts.m_2024_low PARTITION OF parts.m_2024 FOR VALUES FROM (0) TO (1000)",
                "CREATE TABLE parts.m_2024_high PARTITION OF parts.m_2024 FOR VALUES FROM (1000) TO (MAXVALUE)",
                "CREATE TABLE parts.m_2025 PARTITION OF parts.m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE PUBLICATION parts_leaves FOR TABLE parts.m", "CREATE PUBLICATION parts_root FOR TABLE parts.m"
                        + " WITH (publish_via_partition_root = true)", "CREATE PUBLICATION parts_all FOR ALL TABLES",
                "CREATE PUBLICATION parts_some FOR TABLE parts.m_2024_low, parts.m_2025");
        String slot = db.createSlot("parts");
        for (String pub : List.of("parts_leaves", "parts_root", "parts_all", "parts_leaves,parts_root")) {
            PgOutputConfiguration options = options(slot, pub);
            options.setPublicationTables("parts.m");
            check(options);
        }
        PgOutputConfiguration some = options(slot, "parts_some");
        some.setPublicationTables("parts.m");
        try (Warnings warnings = new Warnings()) {
            check(some);
            assertThat(warnings.lines()).singleElement().asString()
                    .contains("publish only some partitions of \"parts\".\"m\": the rows of [\"parts\".\"m_2024_high\"] are neither copied nor streamed")
                    .contains("To publish them all: ALTER PUBLICATION \"parts_some\" ADD TABLE \"parts\".\"m\";");
        }
        db.execute("ALTER PUBLICATION \"parts_some\" ADD TABLE \"parts\".\"m\";");
        try (Warnings warnings = new Warnings()) {
            check(some);
            assertThat(warnings.lines()).isEmpty();
        }
    }

    /**
     * A table no named publication covers: the SQL suggested is what PostgreSQL accepts for those publications (a FOR
     * ALL TABLES one takes no ADD TABLE; a keyless table is not put where it makes UPDATE and DELETE fail).
     */
    @Test
    void aTableNotPublishedGetsSqlPostgresAcceptsForThatPublication() throws Exception {
        db.execute("CREATE TABLE uncovered (id int PRIMARY KEY)", "CREATE TABLE uncovered_log (line text)",
                "CREATE PUBLICATION only_keyed FOR TABLE keyed", "CREATE PUBLICATION inserts_only FOR TABLE keyed WITH (publish = 'insert')");
        String slot = db.createSlot("uncovered");
        PgOutputConfiguration options = options(slot, "only_keyed");
        options.setPublicationTables("keyed, uncovered");
        Throwable e = catchThrowable(() -> check(options));
        assertThat(e).isInstanceOf(PrerequisiteException.class)
                .hasMessage("publication \"only_keyed\" does not include table \"public\".\"uncovered\": run ALTER PUBLICATION"
                        + " \"only_keyed\" ADD TABLE \"public\".\"uncovered\"; (or take it out of publicationTables)");
        db.execute(sqlAfter(e.getMessage(), "run "));
        check(options);

        PgOutputConfiguration log = options(slot, "only_keyed");
        log.setPublicationTables("keyed, uncovered_log");
        assertThatThrownBy(() -> check(log)).isInstanceOf(PrerequisiteException.class)
                .hasMessageContaining("give it a primary key (or ALTER TABLE \"public\".\"uncovered_log\" REPLICA IDENTITY FULL;)")
                .hasMessageContaining("WITH (publish = 'insert, truncate')");
        PgOutputConfiguration both = options(slot, "only_keyed,inserts_only");
        both.setPublicationTables("keyed, uncovered_log");
        e = catchThrowable(() -> check(both));
        assertThat(e).hasMessageContaining("run ALTER PUBLICATION \"inserts_only\" ADD TABLE \"public\".\"uncovered_log\";");
        db.execute(sqlAfter(e.getMessage(), "run "));
        check(both);
        db.execute("UPDATE uncovered_log SET line = 'the application may still update it'");
    }

    /** What a publication pgsource creates on PostgreSQL 18 adds, so stored generated columns are in the WAL. */
    private static String generatedColumns() throws Exception {
        return Integer.parseInt(db.query("SHOW server_version_num")) >= 180000 ? " WITH (publish_generated_columns = stored)" : "";
    }

    private static String sqlAfter(String message, String marker) {
        String rest = message.substring(message.indexOf(marker) + marker.length());
        return rest.substring(0, rest.indexOf(';') + 1);
    }

    /**
     * createPublication with a partitioned and a keyless table: the first publication publishes partitions through
     * their root, the second only inserts and truncates of the keyless table, whose UPDATE and DELETE the application
     * can still run.
     */
    @Test
    void createdPublicationsPublishPartitionsThroughTheRootAndKeylessTablesInsertOnly() throws Exception {
        db.execute("CREATE SCHEMA made", "CREATE TABLE made.m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)",
                "CREATE TABLE made.m_2025 PARTITION OF made.m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE TABLE made.log (line text)", "INSERT INTO made.log VALUES ('one')");
        String slot = db.createSlot("made");
        PgOutputConfiguration options = options(slot, "made,made_keyless");
        options.setCreatePublication(true);
        options.setPublicationTables("made.m, made.log");
        assertThat(check(options).publications()).containsExactly("made", "made_keyless");
        assertThat(db.query("SELECT string_agg(pubname || ':' || pubviaroot || pubinsert || pubupdate || pubdelete || pubtruncate, ' '"
                + " ORDER BY pubname) FROM pg_publication WHERE pubname LIKE 'made%'")).isEqualTo("made:truetruetruetruetrue made_keyless:falsetruefalsefalsetrue");
        assertThat(db.query("SELECT string_agg(pubname || ':' || tablename, ' ' ORDER BY pubname) FROM pg_publication_tables"
                + " WHERE pubname LIKE 'made%'")).isEqualTo("made:m made_keyless:log");
        db.execute("UPDATE made.log SET line = 'two'", "DELETE FROM made.log");

        // one name only: the keyless table is left out of what is created, with a warning that names the fix
        PgOutputConfiguration one = options(slot, "made_one");
        one.setCreatePublication(true);
        one.setPublicationTables("made.m, made.log");
        try (Warnings warnings = new Warnings()) {
            assertThat(check(one).publications()).containsExactly("made_one");
            assertThat(warnings.lines()).singleElement().asString().contains("\"made\".\"log\" has no primary key or replica identity:"
                    + " it is left out of publication \"made_one\"").contains("publication=made_one,made_one_keyless");
        }
        assertThat(db.query("SELECT string_agg(tablename, ' ') FROM pg_publication_tables WHERE pubname = 'made_one'")).isEqualTo("m");
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
    void theConsumerStartedRightAfterAnExplicitCheckTakesItsPublicationsForThatStartOnly() throws Exception {
        String slot = db.createSlot("handover");
        PgOutputConfiguration options = options(slot, "handover_pub");
        options.setCreatePublication(true);
        options.setPublicationTables("keyed");
        Prerequisites prerequisites = new Prerequisites(options);
        String exists = "SELECT count(*) FROM pg_publication WHERE pubname = 'handover_pub'";
        try (Connection c = db.connect()) {
            assertThat(prerequisites.checkForStart(c).publications()).containsExactly("handover_pub");
            db.execute("DROP PUBLICATION handover_pub");
            // the consumer's start and its first session's opening take what the explicit check found, without reading
            assertThat(prerequisites.check(c).publications()).containsExactly("handover_pub");
            assertThat(prerequisites.check(c, null, null).publications()).containsExactly("handover_pub");
            assertThat(db.query(exists)).isEqualTo("0");
            // the opening took it: the next one checks, and creates the publication again
            prerequisites.check(c, null, null);
            assertThat(db.query(exists)).isEqualTo("1");
            // a consumer that stopped forgets it
            prerequisites.checkForStart(c);
            db.execute("DROP PUBLICATION handover_pub");
            prerequisites.forgetChecked();
            prerequisites.check(c);
            assertThat(db.query(exists)).isEqualTo("1");
        }
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
                    .hasMessageContaining("CREATE PUBLICATION \"role_pub\" FOR TABLE \"public\".\"keyed\"" + generatedColumns() + ";");
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

    @Test
    void aStatementNamingThousandsOfTablesIsCutInTheLog() {
        String many = "CREATE PUBLICATION p FOR TABLE " + java.util.stream.IntStream.rangeClosed(1, 5000)
                .mapToObj(i -> "\"public\".\"t" + i + "\"").collect(java.util.stream.Collectors.joining(", "));
        assertThat(Prerequisites.brief(many)).startsWith("CREATE PUBLICATION p FOR TABLE \"public\".\"t1\", \"public\".\"t2\", ")
                .endsWith(", ... (" + String.format(java.util.Locale.ROOT, "%,d", many.length()) + " characters in all)").hasSizeLessThan(1100);
        assertThat(Prerequisites.brief("CREATE PUBLICATION p FOR TABLE \"public\".\"t1\"")).isEqualTo("CREATE PUBLICATION p FOR TABLE \"public\".\"t1\"");
    }
}
