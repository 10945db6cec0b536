package io.pgsource.pgoutput;

import static io.pgsource.pgoutput.PgOutputTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.config.DestinationSettings;
import io.pgsource.embedded.EmbeddedPostgres;
import io.pgsource.sink.DestinationStep;
import io.pgsource.sink.jdbc.PostgresSink;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.replication.LogSequenceNumber;

/**
 * Streamed transactions commit at the {@code postgres} destination without waiting for its WAL flush, and the slot is
 * acknowledged only once the destination's WAL is flushed past them: checked against a destination server of its own
 * whose WAL writer flushes at most every 10 s, so a commit stays unflushed until the test flushes it.
 */
class DurableAcknowledgementTest extends CamelTestSupport {
    private static PgOutputTestSupport db;
    private static EmbeddedPostgres destination;
    private static String target;

    @BeforeAll
    static void servers() throws Exception {
        db = new PgOutputTestSupport("durable_ack");
        db.execute("CREATE TABLE items (id int PRIMARY KEY, name text)", "CREATE PUBLICATION durable_pub FOR TABLE items",
                "CREATE TABLE others (id int PRIMARY KEY)", "CREATE PUBLICATION others_pub FOR TABLE others");
        destination = EmbeddedPostgres.builder().testMode(true).setting("wal_writer_delay", "10s").start();
        target = destination.createDatabase("durable_dst");
    }

    @AfterAll
    static void stop() throws Exception {
        db.dropSlots();
        if (destination != null) {
            destination.close();
        }
    }

    private Connection destination() throws SQLException {
        return DriverManager.getConnection(destination.jdbcUrl(target), destination.superuser(), destination.password());
    }

    /** The destination's flushed and inserted WAL positions, in one query. */
    private long[] destinationWal() throws SQLException {
        try (Connection c = destination(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn, pg_current_wal_insert_lsn() - '0/0'::pg_lsn")) {
            rs.next();
            return new long[] {rs.getLong(1), rs.getLong(2)};
        }
    }

    private long rows() {
        return rows("public.items");
    }

    private long rows(String table) {
        try (Connection c = destination(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            return -1; // not created yet
        }
    }

    @Test
    void theSlotIsAcknowledgedOnlyOnceTheDestinationFlushedTheCommit() throws Exception {
        String slot = db.createSlot("durable");
        DestinationSettings settings = new DestinationSettings("postgres", destination.jdbcUrl(target), destination.superuser(),
                destination.password(), null, null);
        PostgresSink sink = new PostgresSink(settings);
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from(db.uri(slot, "durable_pub", "values=typed")).routeId("durable").process(new DestinationStep(sink));
            }
        });
        // the first transaction creates the table (its DDL waits for the flush); a few more until one commit stays unflushed
        boolean caught = false;
        for (int i = 1; i <= 20 && !caught; i++) {
            long before = db.currentLsn();
            db.transaction("INSERT INTO items VALUES (" + i + ", 'item " + i + "')");
            int expected = i;
            await(Duration.ofSeconds(30), () -> rows() == expected, "row " + i + " at the destination");
            long[] wal = destinationWal();
            if (wal[0] >= wal[1]) {
                continue; // flushed already (the table's creation, the WAL writer): nothing to see with this one
            }
            caught = true;
            long unflushedEnd = wal[1]; // the commit's record ends at or before this position
            // for 2.5 s (status updates every second here): whenever the slot holds the transaction as acknowledged, the
            // destination's WAL was flushed past its commit (read the slot first: flushing only ever moves forward)
            long end = System.nanoTime() + Duration.ofMillis(2500).toNanos();
            while (System.nanoTime() < end) {
                boolean acknowledged = db.confirmedFlush(slot) > before;
                long flushed = destinationWal()[0];
                if (acknowledged) {
                    assertThat(flushed).as("the destination's flushed WAL when the slot acknowledged the transaction")
                            .isGreaterThanOrEqualTo(unflushedEnd);
                }
                Thread.sleep(20);
            }
            if (destinationWal()[0] < unflushedEnd) {
                assertThat(db.confirmedFlush(slot)).as("the slot, while the destination has not flushed the commit").isLessThanOrEqualTo(before);
            }
            // a commit that waits for the flush (anyone's) makes it durable: then the slot follows
            try (Connection c = destination(); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE flushed_" + i + " (id int)");
            }
            assertThat(destinationWal()[0]).isGreaterThanOrEqualTo(unflushedEnd);
            await(Duration.ofSeconds(10), () -> confirmed(slot) > before, "the slot to acknowledge the flushed transaction");
        }
        assertThat(caught).as("a streamed commit that the destination had not flushed yet").isTrue();
        context.getRouteController().stopRoute("durable");
    }

    /** A commit that waits for the flush: the destination's WAL is flushed past everything before it. */
    private void flushDestination(String name) throws SQLException {
        try (Connection c = destination(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE " + name + " (id int)");
        }
    }

    @Test
    void commitsNotKnownDurableWhenTheDestinationConnectionIsLostAreSentAgainAndNothingIsLost() throws Exception {
        String slot = db.createSlot("lost");
        PostgresSink sink = new PostgresSink(new DestinationSettings("postgres", destination.jdbcUrl(target), destination.superuser(),
                destination.password(), null, null));
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from(db.uri(slot, "others_pub", "values=typed")).routeId("lost").process(new DestinationStep(sink));
            }
        });
        db.transaction("INSERT INTO others VALUES (1)");
        await(Duration.ofSeconds(30), () -> rows("public.others") == 1, "row 1 at the destination");
        long before = db.currentLsn();
        db.transaction("INSERT INTO others VALUES (2)");
        await(Duration.ofSeconds(30), () -> rows("public.others") == 2, "row 2 at the destination");
        // the destination ends pgsource's session (as a restart or an idle timeout would): whether row 2's commit was
        // flushed, pgsource cannot know any more; it must neither acknowledge it on that ground nor skip anything
        try (Connection c = destination(); Statement s = c.createStatement()) {
            s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgsource'"
                    + " AND pid <> pg_backend_pid()");
        }
        db.transaction("INSERT INTO others VALUES (3)");
        await(Duration.ofSeconds(30), () -> rows("public.others") == 3, "row 3 at the destination");
        flushDestination("flushed_lost");
        await(Duration.ofSeconds(20), () -> confirmed(slot) > before, "the slot to acknowledge rows 2 and 3 once flushed");
        try (Connection c = destination(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT string_agg(id::text, ',' ORDER BY id) FROM public.others")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("1,2,3");
        }
        context.getRouteController().stopRoute("lost");
    }

    private static long confirmed(String slot) {
        try {
            return db.confirmedFlush(slot);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unused")
    private static String lsn(long value) {
        return LogSequenceNumber.valueOf(value).asString();
    }
}
