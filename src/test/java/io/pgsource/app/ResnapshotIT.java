package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pgsource.change.TableId;
import io.pgsource.sink.jsonl.FileNames;
import io.pgsource.testsupport.JsonlEvents;
import io.pgsource.testsupport.MixedWorkload;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sync.resnapshot=true} beyond the slot-trouble ITs: what it appends to a jsonl destination, the manual setup
 * ({@code source.create_slot=false}: the slot stays, the copy reads a temporary slot's snapshot), and a slot another
 * process streams from (refused, naming it).
 */
class ResnapshotIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final TestPostgres pg = TestPostgres.server();

    /**
     * A jsonl destination whose slot was dropped while pgsource was stopped: the next start refuses to create the slot
     * again (that would skip the changes made meanwhile) and exits 2 saying so; the resnapshot then appends, for every
     * table, a truncate event ({@code "op":"t"}) followed by one read event ({@code "op":"r"}) per current row, and
     * streaming goes on from the new slot. A consumer that replays the files ends with exactly the source's rows.
     */
    @Test
    void aDroppedSlotStopsTheNextStartAndAResnapshotAppendsATruncateAndEveryRowAgain(@TempDir Path out) throws Exception {
        String source = pg.createDatabase("resnap_jsonl_src");
        String slot = "resnap_jsonl_" + ProcessHandle.current().pid();
        MixedWorkload workload = MixedWorkload.builder(() -> pg.connect(source)).scale(1_000).maxTransactionRows(1_000).build();
        workload.create();
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SOURCE_TABLES", String.join(",", workload.qualifiedNames()));
        env.put("DESTINATION", "jsonl");
        env.put("DESTINATION_DIRECTORY", out.toString());

        assertThat(PgSourceMain.run(env, new Properties())).as("the first run: copy, then stream").isZero();
        workload.start();
        Thread.sleep(2_000);
        workload.pause(Duration.ofSeconds(30));
        assertThat(PgSourceMain.run(env, new Properties())).as("streaming what the writer did").isZero();

        SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot('" + slot + "')");
        workload.resume();
        Thread.sleep(1_000); // changes no slot keeps
        workload.stopAndJoin(Duration.ofSeconds(60));

        try (LogCapture log = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).as("a start without the slot the destination streamed from").isEqualTo(2);
            assertThat(log.text()).contains("replication slot " + slot + " does not exist, but the destination holds changes streamed"
                    + " from it up to LSN").contains("may be missing at the destination").contains("sync.resnapshot=true");
        }
        assertThat(slotExists(source, slot)).as("not created again").isFalse();

        Map<String, String> resnapshot = new java.util.HashMap<>(env);
        resnapshot.put("SYNC_RESNAPSHOT", "true");
        assertThat(PgSourceMain.run(resnapshot, new Properties())).as("the resnapshot run").isZero();

        try (Connection s = pg.connect(source)) {
            for (MixedWorkload.Table table : workload.tables()) {
                List<JsonNode> events = events(out, table.name());
                int copyStart = lastCopyTruncate(events);
                assertThat(copyStart).as("%s: a truncate event starts the second copy", table.name())
                        .isGreaterThan(0);
                long reads = events.subList(copyStart + 1, events.size()).stream().filter(e -> "r".equals(e.get("op").asText())).count();
                assertThat(reads).as("%s: one read event per row after it", table.name()).isEqualTo(count(s, table.name()));
            }
        }
        JsonlEvents replay = JsonlEvents.read(out, "public", workload.tables(), List.of());
        assertThat(replay.violations()).as("the files keep the jsonl contract").isEmpty();
        String model = pg.createDatabase("resnap_jsonl_model");
        try (Connection s = pg.connect(source); Connection m = pg.connect(model)) {
            replay.loadInto(m, "public");
            TableCompare.assertEqual(s, "public", m, "public", workload.tables().stream().map(MixedWorkload.Table::name).toList(),
                    "seed " + workload.seed());
        }
        SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot('" + slot + "')");
    }

    /** The seed's manual setup: the slot is kept, every table copied again, and whatever the destination held is replaced. */
    @Test
    void withoutCreateSlotTheSlotStaysAndEveryTableIsCopiedAgainReplacingTheDestinationsRows() throws Exception {
        String source = SourceFixture.createSource(pg, "resnap_manual_src");
        String target = pg.createDatabase("resnap_manual_dst");
        String slot = "resnap_manual_" + ProcessHandle.current().pid();
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput');"
                + " CREATE PUBLICATION " + slot + "_pub FOR TABLE public.customers, sales.customers");
        Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public,sales"), target);
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", "public.customers,sales.customers");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("SOURCE_CREATE_SLOT", "false");
        env.put("SOURCE_CREATE_PUBLICATION", "false");
        assertThat(PgSourceMain.run(env, new Properties())).isZero();
        // a destination that drifted: a stale row, a missing one, a changed one
        SourceFixture.execute(pg, target, "INSERT INTO public.customers VALUES (-1, 'stale', now());"
                + " DELETE FROM sales.customers WHERE id = 7; UPDATE public.customers SET name = 'drifted' WHERE id = 3");
        SourceFixture.execute(pg, source, "UPDATE public.customers SET name = 'changed' WHERE id < 20");

        Map<String, String> resnapshot = new java.util.HashMap<>(env);
        resnapshot.put("SYNC_RESNAPSHOT", "true");
        try (LogCapture log = new LogCapture()) {
            assertThat(PgSourceMain.run(resnapshot, new Properties())).isZero();
            assertThat(log.text()).contains("keeping slot " + slot + " and copying every table again inside a temporary slot's snapshot")
                    .doesNotContain("dropped replication slot");
        }
        assertThat(slotExists(source, slot)).isTrue();
        SourceFixture.execute(pg, source, "DELETE FROM public.customers WHERE id = 5");
        assertThat(PgSourceMain.run(env, new Properties())).as("streaming on").isZero();
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            TableCompare.assertEqual(s, "public", d, "public", List.of("customers"), "");
            TableCompare.assertEqual(s, "sales", d, "sales", List.of("customers"), "");
        }
        SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot('" + slot + "')");
    }

    @Test
    void aSlotAnotherProcessStreamsFromIsNotDroppedButNamed() throws Exception {
        String source = SourceFixture.createSource(pg, "resnap_busy_src");
        String slot = "resnap_busy_" + ProcessHandle.current().pid();
        SourceFixture.execute(pg, source, "SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput');"
                + " CREATE PUBLICATION " + slot + "_pub FOR TABLE public.customers");
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("SOURCE_TABLES", "public.customers");
        env.put("SOURCE_REPLICATION_SLOT", slot);
        env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
        env.put("DESTINATION", "log");
        env.put("SYNC_RESNAPSHOT", "true");
        java.util.Properties p = new java.util.Properties();
        org.postgresql.PGProperty.USER.set(p, pg.user());
        org.postgresql.PGProperty.PASSWORD.set(p, pg.password());
        org.postgresql.PGProperty.REPLICATION.set(p, "database");
        org.postgresql.PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "10");
        org.postgresql.PGProperty.PREFER_QUERY_MODE.set(p, "simple");
        try (Connection holder = java.sql.DriverManager.getConnection(pg.jdbcUrl(source), p);
             LogCapture log = new LogCapture()) {
            holder.unwrap(org.postgresql.PGConnection.class).getReplicationAPI().replicationStream().logical().withSlotName(slot)
                    .withSlotOption("proto_version", 1).withSlotOption("publication_names", slot + "_pub").start();
            String pid = slotState(source, slot).split("\\|")[1];
            assertThat(PgSourceMain.run(env, new Properties())).isEqualTo(2);
            assertThat(log.text()).contains("sync.resnapshot=true would drop replication slot " + slot + ", but PID " + pid
                    + " is streaming from it");
            assertThat(slotExists(source, slot)).as("not dropped").isTrue();
        }
        SourceFixture.execute(pg, source, "SELECT pg_drop_replication_slot('" + slot + "')");
    }

    /** restart_lsn|active_pid of the slot. */
    private String slotState(String db, String slot) throws Exception {
        try (Connection c = pg.connect(db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT restart_lsn || '|' || coalesce(active_pid::text, '') FROM pg_replication_slots"
                     + " WHERE slot_name = '" + slot + "'")) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static List<JsonNode> events(Path dir, String table) throws Exception {
        return Files.readAllLines(dir.resolve(FileNames.of(new TableId("public", table)))).stream().map(l -> {
            try {
                return JSON.readTree(l);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).toList();
    }

    /** The index of the last truncate event of a copy (it carries a bookmark, a streamed one an LSN). */
    private static int lastCopyTruncate(List<JsonNode> events) {
        for (int i = events.size() - 1; i >= 0; i--) {
            JsonNode e = events.get(i);
            if ("t".equals(e.get("op").asText()) && e.get("source").has("bookmark")) {
                return i;
            }
        }
        return -1;
    }

    private static long count(Connection c, String table) throws Exception {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM public." + TableId.quoteIdent(table))) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private boolean slotExists(String db, String slot) throws Exception {
        try (Connection c = pg.connect(db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'")) {
            rs.next();
            return rs.getLong(1) > 0;
        }
    }
}
