package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.MixedWorkload;
import io.pgsource.testsupport.PgSourceProcess;
import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TcpProxy;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Slot trouble while the packaged jar streams the mixed workload LOG_BASED into PostgreSQL: the slot dropped, the slot
 * invalidated by {@code max_slot_wal_keep_size} while the destination is cut off, a table taken out of the publication.
 * Each stops pgsource with exit code 2 and an error that says what happened and how to recover: for a lost slot, run with
 * {@code sync.resnapshot=true}, which (while the writer goes on) starts from a new slot and copies every table again; for
 * a table taken out of the publication, add it back and start again, which backfills that table alone. Streaming then
 * continues: the destination ends equal to the source, EXCEPT ALL both ways, no row missing, doubled or stale.
 */
class SlotTroubleIT {
    private static final Duration STOP = Duration.ofSeconds(60);
    private final TestPostgres pg = TestPostgres.server();

    /** One source, one destination, one slot, the workload and the child process. */
    private final class Scenario implements AutoCloseable {
        final String source;
        final String target;
        final String slot;
        final MixedWorkload workload;
        final List<String> tables;
        final PgSourceProcess pgsource;
        private Process running;

        /** @param proxy when not null, pgsource reaches the destination through it */
        Scenario(String name, Path work, TcpProxy proxy) throws Exception {
            source = pg.createDatabase(name + "_src");
            target = pg.createDatabase(name + "_dst");
            slot = name + "_" + ProcessHandle.current().pid();
            workload = MixedWorkload.builder(() -> pg.connect(source)).scale(3_000).maxTransactionRows(3_000).build();
            workload.create();
            tables = workload.tables().stream().map(MixedWorkload.Table::name).toList();
            Map<String, String> env = SourceFixture.postgresDestination(pg, SourceFixture.env(pg, source, "public"), target);
            env.remove("SYNC_ONCE");
            env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
            env.put("SOURCE_TABLES", String.join(",", tables.stream().map(t -> "public." + t).toList()));
            env.put("SOURCE_REPLICATION_SLOT", slot);
            env.put("SOURCE_PUBLICATION_NAME", slot + "_pub");
            env.put("SOURCE_SLOT_CHECK_INTERVAL", "1s");
            if (proxy != null) {
                env.put("DESTINATION_URL", "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + target);
            }
            pgsource = new PgSourceProcess(work, env);
        }

        /** Starts pgsource, waits for its initial copy, starts the writer and lets a few seconds stream. */
        void stream() throws Exception {
            running = pgsource.start();
            pgsource.awaitLog("Initial copy finished", Duration.ofSeconds(60));
            workload.start();
            Thread.sleep(4_000);
            assertThat(pgsource.alive()).as("streaming\n%s", pgsource.context()).isTrue();
        }

        /** Waits for the running pgsource to end by itself, with exit code 2 and the texts in its log. */
        void expectStop(String... texts) throws Exception {
            Process p = running;
            boolean ended = p.waitFor(STOP.toSeconds(), TimeUnit.SECONDS);
            assertThat(ended).as("pgsource stopped by itself\n%s", pgsource.context()).isTrue();
            pgsource.note("run-" + pgsource.runs() + " exit " + p.exitValue());
            assertThat(p.exitValue()).as("exit code\n%s", pgsource.context()).isEqualTo(2);
            assertThat(pgsource.logText()).contains(texts);
        }

        /**
         * The way back for a table taken out of the publication and added back: a plain start (while the writer goes on)
         * backfills that table alone, from the same slot; then the writer stops and a last run catches up.
         */
        void restartAndCompare(String table) throws Exception {
            assertThat(once(Map.of())).as("the run after adding it back\n%s", pgsource.context()).isZero();
            assertThat(pgsource.logText()).contains("Copying " + table + " in chunks").doesNotContain("Initial copy")
                    .doesNotContain("Created replication slot");
            Thread.sleep(2_000);
            workload.stopAndJoin(Duration.ofSeconds(60));
            assertThat(once(Map.of())).as("streaming on\n%s", pgsource.context()).isZero();
            assertThat(pgsource.logText()).doesNotContain("in chunks");
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                TableCompare.assertEqual(s, "public", d, "public", tables, "seed " + workload.seed() + "; " + workload.stats() + "\n" + pgsource.context());
            }
        }

        /** The documented way back, while the writer goes on; then the writer stops and a last run catches up. */
        void resnapshotAndCompare() throws Exception {
            assertThat(once(Map.of("SYNC_RESNAPSHOT", "true"))).as("the resnapshot run\n%s", pgsource.context()).isZero();
            assertThat(pgsource.logText()).contains("sync.resnapshot=true").contains("Initial copy finished");
            Thread.sleep(2_000);
            workload.stopAndJoin(Duration.ofSeconds(60));
            assertThat(once(Map.of())).as("streaming on from the new slot\n%s", pgsource.context()).isZero();
            assertThat(pgsource.logText()).doesNotContain("Initial copy");
            try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
                TableCompare.assertEqual(s, "public", d, "public", tables, "seed " + workload.seed() + "; " + workload.stats() + "\n" + pgsource.context());
            }
        }

        /** A sync.once run with some settings changed; its exit code. */
        int once(Map<String, String> overrides) throws Exception {
            Map<String, String> settings = new HashMap<>(overrides);
            settings.put("SYNC_ONCE", "true");
            Process p = pgsource.start(settings);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError("the sync.once run did not end within 120 s\n" + pgsource.context());
            }
            pgsource.note("run-" + pgsource.runs() + " " + overrides.keySet() + " exit " + p.exitValue());
            return p.exitValue();
        }

        void sql(String... statements) throws SQLException {
            try (Connection c = pg.connect(source); Statement s = c.createStatement()) {
                for (String sql : statements) {
                    s.execute(sql);
                }
            }
        }

        String query(String sql) throws SQLException {
            try (Connection c = pg.connect(source); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
                return rs.next() ? rs.getString(1) : null;
            }
        }

        @Override
        public void close() throws Exception {
            workload.stop();
            pgsource.close();
            try {
                sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot + "' AND NOT active");
            } catch (SQLException e) {
                // only tidiness: the server is the test JVM's
            }
        }
    }

    @Test
    void aSlotDroppedWhileStreamingStopsPgsourceAndAResnapshotRecovers(@TempDir Path work) throws Exception {
        try (Scenario s = new Scenario("dropped", work, null)) {
            s.stream();
            // what an operator does to drop a slot in use: end its walsender, drop it before pgsource reconnects
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (s.query("SELECT slot_name FROM pg_replication_slots WHERE slot_name = '" + s.slot + "'") != null) {
                assertThat(System.nanoTime()).as("the slot dropped").isLessThan(end);
                s.sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" + s.slot + "' AND active");
                try {
                    s.sql("SELECT pg_drop_replication_slot('" + s.slot + "')");
                } catch (SQLException e) {
                    Thread.sleep(20); // pgsource reconnected first
                }
            }
            s.pgsource.note("slot dropped");
            s.expectStop("sync.resnapshot=true", "replication slot \"" + s.slot + "\" no longer exists: it was dropped while this consumer was streaming from it",
                    "may be missing downstream");
            assertThat(s.query("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + s.slot + "'"))
                    .as("not created again").isEqualTo("0");

            // a plain restart refuses too: the destination holds changes of the slot that is gone
            assertThat(s.once(Map.of())).as("a restart without resnapshot").isEqualTo(2);
            assertThat(s.pgsource.logText()).contains("does not exist, but the destination holds changes streamed from it up to LSN");

            s.resnapshotAndCompare();
        }
    }

    @Test
    void aTableTakenOutOfThePublicationStopsPgsourceNamingItAndAddingItBackRecoversIt(@TempDir Path work) throws Exception {
        try (Scenario s = new Scenario("unpub", work, null)) {
            s.stream();
            String pub = "\"" + s.slot + "_pub\"";
            s.sql("ALTER PUBLICATION " + pub + " DROP TABLE public.orders");
            s.pgsource.note("orders taken out of the publication");
            s.expectStop("table \"public\".\"orders\" was taken out of publication " + pub,
                    "ALTER PUBLICATION " + pub + " ADD TABLE \"public\".\"orders\";", "add the table back to the publication",
                    "start pgsource again: it copies that table again", "take the table out of source.tables");
            s.sql("ALTER PUBLICATION " + pub + " ADD TABLE public.orders");
            s.restartAndCompare("\"public\".\"orders\"");
        }
    }

    @Test
    void aSlotInvalidatedWhileTheDestinationIsUnreachableStopsPgsourceAndAResnapshotRecovers(@TempDir Path work) throws Exception {
        // pgsource reaches the destination through the proxy: cut, nothing can be applied and the slot falls behind
        try (TcpProxy proxy = TcpProxy.start(pg.host(), pg.port())) {
            try (Scenario s = new Scenario("lost", work, proxy)) {
                s.stream();
                proxy.cut();
                s.pgsource.note("destination cut");
                s.pgsource.awaitLog("the route failed", Duration.ofSeconds(30));
                s.pgsource.awaitLog("of WAL behind the server", Duration.ofSeconds(30)); // stuck, and saying so
                s.sql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", "SELECT pg_reload_conf()");
                try {
                    long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                    while (s.pgsource.alive()) {
                        assertThat(System.nanoTime()).as("the slot invalidated and pgsource stopped\n%s", s.pgsource.context()).isLessThan(end);
                        s.sql("SELECT pg_logical_emit_message(false, 'filler', repeat('x', 1000))", "SELECT pg_switch_wal()",
                                "SELECT pg_logical_emit_message(false, 'filler', 'y')", "SELECT pg_switch_wal()", "CHECKPOINT");
                        Thread.sleep(300);
                    }
                } finally {
                    s.sql("ALTER SYSTEM RESET max_slot_wal_keep_size", "SELECT pg_reload_conf()");
                }
                assertThat(s.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '" + s.slot + "'")).isEqualTo("lost");
                s.pgsource.note("slot invalidated");
                s.expectStop("sync.resnapshot=true", "replication slot \"" + s.slot + "\" is invalidated", "max_slot_wal_keep_size");
                proxy.restore();
                s.resnapshotAndCompare();
            }
        }
    }
}
