package io.pgsource.pgoutput;

import static io.pgsource.pgoutput.PgOutputTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.pgoutput.PgOutputTestSupport.Collector;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** createSlot=true with a snapshotHandler: the initial copy and the stream meet exactly. */
class SlotCreationTest extends CamelTestSupport {
    private static PgOutputTestSupport db;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_slot");
        db.execute("CREATE TABLE snap (id int PRIMARY KEY)", "INSERT INTO snap SELECT generate_series(1, 5)");
    }

    @AfterAll
    static void dropSlots() throws Exception {
        db.dropSlots();
    }

    @Test
    void rowsBeforeTheSlotAreInTheSnapshotRowsAfterInTheStreamNoneInBoth() throws Exception {
        String slot = db.newSlotName("created");
        List<SlotCreated> calls = new CopyOnWriteArrayList<>();
        List<String> copied = new CopyOnWriteArrayList<>();
        InitialSnapshotHandler copy = created -> {
            calls.add(created);
            try (Connection c = db.connect()) {
                c.setAutoCommit(false);
                try (Statement s = c.createStatement()) {
                    s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
                    s.execute("SET TRANSACTION SNAPSHOT '" + created.snapshotName() + "'");
                    // committed after the consistent point, while the copy runs: must come through the stream only
                    db.transaction("INSERT INTO snap VALUES (" + (5 + calls.size()) + ")");
                    if (calls.size() == 1) {
                        throw new IllegalStateException("copy failed half-way");
                    }
                    List<String> ids = new ArrayList<>();
                    try (ResultSet rs = s.executeQuery("SELECT id FROM snap ORDER BY id")) {
                        while (rs.next()) {
                            ids.add(rs.getString(1));
                        }
                    }
                    copied.addAll(ids);
                }
                c.commit();
            }
        };
        context.getRegistry().bind("copy", copy);
        Collector collector = consume("created", db.uri(slot, "snap_pub",
                "createSlot=true&createPublication=true&publicationTables=snap&snapshotHandler=#copy"));
        await(Duration.ofSeconds(30), () -> !copied.isEmpty(), "the initial copy");
        db.transaction("INSERT INTO snap VALUES (8)");
        await(Duration.ofSeconds(20), () -> collector.events().size() >= 2, "the streamed rows");
        PgOutputTestSupport.sleep(500);

        // the first attempt failed: its slot was dropped, so its row 6 is in the second snapshot, not in the stream
        assertThat(calls).hasSize(2);
        assertThat(calls.get(0).snapshotName()).isNotEqualTo(calls.get(1).snapshotName());
        assertThat(calls.get(1).consistentLsn()).isGreaterThan(calls.get(0).consistentLsn());
        assertThat(calls.get(1).slotName()).isEqualTo(slot);
        assertThat(copied).containsExactly("1", "2", "3", "4", "5", "6");
        assertThat(collector.events()).extracting(e -> e.after().get("id")).containsExactly("7", "8");
        try (Connection c = db.connect();
             PreparedStatement ps = c.prepareStatement("SELECT plugin, to_jsonb(s) -> 'failover' FROM pg_replication_slots s WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("pgoutput");
                // PostgreSQL 17 brought failover slots: a standby with sync_replication_slots keeps a copy
                assertThat(rs.getString(2)).as("failover").isEqualTo(db.pg.majorVersion() >= 17 ? "true" : null);
            }
        }
    }

    /** Starts a route reading the endpoint; returns what it receives. */
    private Collector consume(String routeId, String uri) throws Exception {
        Collector collector = new Collector();
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from(uri).routeId(routeId).process(collector);
            }
        });
        return collector;
    }

    /** The command for each server generation: the option list from 15, FAILOVER from 17, never for a temporary slot. */
    @Test
    void theCreationCommandFitsTheServer() {
        assertThat(ReplicationSlots.command("s", false, 13, false)).isEqualTo("CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput EXPORT_SNAPSHOT");
        assertThat(ReplicationSlots.command("s", true, 14, false))
                .isEqualTo("CREATE_REPLICATION_SLOT \"s\" TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT");
        assertThat(ReplicationSlots.command("s", false, 16, false)).isEqualTo("CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput (SNAPSHOT 'export')");
        assertThat(ReplicationSlots.command("s", false, 17, true))
                .isEqualTo("CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER true)");
        assertThat(ReplicationSlots.command("s", true, 18, false))
                .isEqualTo("CREATE_REPLICATION_SLOT \"s\" TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')");
        // a chunked initial copy needs no snapshot: none is exported
        assertThat(ReplicationSlots.command("s", false, 14, false, false)).isEqualTo("CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput NOEXPORT_SNAPSHOT");
        assertThat(ReplicationSlots.command("s", false, 17, true, false))
                .isEqualTo("CREATE_REPLICATION_SLOT \"s\" LOGICAL pgoutput (SNAPSHOT 'nothing', FAILOVER true)");
    }

    /** The slot's state as the owner reads it: absent, then present with its position, its lag, and its holder unset. */
    @Test
    void theStateOfASlotIsReadInOneQuery() throws Exception {
        String slot = db.newSlotName("state");
        try (Connection c = db.connect()) {
            ReplicationSlots.State missing = ReplicationSlots.state(c, slot);
            assertThat(missing.exists()).isFalse();
            assertThat(missing.serverLsn()).isPositive();
            assertThat(missing.confirmedFlush()).isNull();
            assertThat(missing.invalidated()).isFalse();

            String created = db.createSlot("state");
            db.execute("SELECT pg_logical_emit_message(true, 'state', 'some WAL')");
            ReplicationSlots.State state = ReplicationSlots.state(c, created);
            assertThat(state.exists()).isTrue();
            assertThat(state.type()).isEqualTo("logical");
            assertThat(state.plugin()).isEqualTo("pgoutput");
            assertThat(state.database()).isEqualTo(state.currentDatabase());
            assertThat(state.activePid()).isNull();
            assertThat(state.invalidated()).isFalse();
            assertThat(state.confirmedFlush()).isNotNull();
            // the message lies between the slot's confirmed position and the server's: that is its lag
            assertThat(state.lagBytes(0)).isPositive().isEqualTo(state.serverLsn() - state.confirmedFlush());
            assertThat(state.lagBytes(state.serverLsn())).isZero();

            ReplicationSlots.drop(c, created);
            assertThat(ReplicationSlots.state(c, created).exists()).isFalse();
        }
    }

    /**
     * snapshotExistingSlot: the handler says an existing slot needs a copy; it gets one inside a temporary slot's snapshot,
     * which is gone after, and the stream then runs from the slot's own position (what committed in between comes again).
     */
    @Test
    void anExistingSlotIsCopiedInsideATemporarySlotsSnapshotWhenTheHandlerAsks() throws Exception {
        db.execute("CREATE TABLE existing (id int PRIMARY KEY)", "INSERT INTO existing SELECT generate_series(1, 3)",
                "CREATE PUBLICATION existing_pub FOR TABLE existing");
        String slot = db.createSlot("existing");
        // after the slot's position, before the copy: in the copy, and in the stream too
        db.transaction("INSERT INTO existing VALUES (4)");
        List<String> asked = new CopyOnWriteArrayList<>();
        List<SlotCreated> temporaries = new CopyOnWriteArrayList<>();
        List<Boolean> temporaryWhileCopying = new CopyOnWriteArrayList<>();
        List<String> copied = new CopyOnWriteArrayList<>();
        InitialSnapshotHandler handler = new InitialSnapshotHandler() {
            @Override
            public void initialSnapshot(SlotCreated created) {
                throw new AssertionError("the slot exists: no new one is created");
            }

            @Override
            public boolean snapshotNeeded(String s) {
                asked.add(s);
                return true;
            }

            @Override
            public void existingSlotSnapshot(String s, SlotCreated temporary) throws Exception {
                temporaries.add(temporary);
                try (Connection c = db.connect()) {
                    temporaryWhileCopying.add(ReplicationSlots.state(c, temporary.slotName()).exists());
                    c.setAutoCommit(false);
                    try (Statement st = c.createStatement()) {
                        st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
                        st.execute("SET TRANSACTION SNAPSHOT '" + temporary.snapshotName() + "'");
                        try (ResultSet rs = st.executeQuery("SELECT id FROM existing ORDER BY id")) {
                            while (rs.next()) {
                                copied.add(rs.getString(1));
                            }
                        }
                    }
                    c.commit();
                }
            }
        };
        context.getRegistry().bind("existingCopy", handler);
        Collector collector = consume("existing", db.uri(slot, "existing_pub", "snapshotHandler=#existingCopy&snapshotExistingSlot=true"));
        await(Duration.ofSeconds(30), () -> !copied.isEmpty(), "the copy");
        db.transaction("INSERT INTO existing VALUES (5)");
        await(Duration.ofSeconds(20), () -> collector.events().size() >= 2, "the streamed rows");

        assertThat(asked).containsExactly(slot);
        assertThat(temporaries).hasSize(1);
        assertThat(temporaries.get(0).slotName()).startsWith("pgsource_copy_").isNotEqualTo(slot);
        assertThat(temporaryWhileCopying).containsExactly(true);
        assertThat(copied).containsExactly("1", "2", "3", "4");
        assertThat(collector.events()).extracting(e -> e.after().get("id")).containsExactly("4", "5");
        assertThat(collector.received.get(0).commitLsn()).isLessThanOrEqualTo(temporaries.get(0).consistentLsn());
        try (Connection c = db.connect()) {
            assertThat(ReplicationSlots.state(c, temporaries.get(0).slotName()).exists()).as("the temporary slot is dropped").isFalse();
        }
    }
}
