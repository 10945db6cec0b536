package io.pgsource.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.TableId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shared fault-test fixture: the workload writes, the comparison and the jsonl check find what they must find. */
class MixedWorkloadTest {
    private final TestPostgres pg = TestPostgres.server();

    @Test
    void theWriterChangesEveryKindOfTableAndTheComparisonSeesEachDifference() throws Exception {
        String db = pg.createDatabase("mixed_src");
        MixedWorkload workload = MixedWorkload.builder(() -> pg.connect(db)).scale(2_000).maxTransactionRows(3_000).maxPauseMillis(0).seed(42).build();
        workload.create();
        workload.start();
        Thread.sleep(3_000);
        workload.stopAndJoin(Duration.ofSeconds(60));
        MixedWorkload.Stats stats = workload.stats();
        assertThat(stats.transactions()).isGreaterThan(20);
        assertThat(stats.rows()).isGreaterThan(100);
        assertThat(workload.commits()).isNotEmpty().allSatisfy(c -> assertThat(c.lsnBeforeCommit()).isPositive());

        String copy = pg.createDatabase("mixed_copy");
        try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE " + TableId.quoteIdent(copy));
            s.execute("CREATE DATABASE " + TableId.quoteIdent(copy) + " TEMPLATE " + TableId.quoteIdent(db));
        }
        List<String> tables = workload.tables().stream().map(MixedWorkload.Table::name).toList();
        try (Connection source = pg.connect(db); Connection target = pg.connect(copy)) {
            assertThat(TableCompare.differences(source, "public", target, "public", tables)).isEmpty();

            try (Statement s = target.createStatement()) {
                s.execute("UPDATE docs SET body = body || 'x' WHERE id = (SELECT min(id) FROM docs)"); // a changed TOAST value
                s.execute("DELETE FROM ledger WHERE ctid = (SELECT ctid FROM ledger LIMIT 1)"); // one row of a keyless table
                s.execute("INSERT INTO accounts VALUES (-1, 0, 'extra', now())");
                // the same number at another scale (1.5 -> 1.50) is a difference
                s.execute("UPDATE events SET amount = amount * 1.0 WHERE id = (SELECT min(id) FROM events WHERE amount <> 'NaN')");
            }
            List<TableCompare.Difference> diffs = TableCompare.differences(source, "public", target, "public", tables);
            assertThat(diffs).extracting(TableCompare.Difference::table).containsExactlyInAnyOrder("docs", "ledger", "accounts", "events");
            Map<String, TableCompare.Difference> byTable = diffs.stream().collect(java.util.stream.Collectors.toMap(d -> d.table(), d -> d));
            assertThat(byTable.get("docs").missing()).isEqualTo(1);
            assertThat(byTable.get("docs").extra()).isEqualTo(1);
            assertThat(byTable.get("ledger").missing()).isEqualTo(1);
            assertThat(byTable.get("ledger").extra()).isZero();
            assertThat(byTable.get("accounts").extra()).isEqualTo(1);
            assertThat(byTable.get("events").missing()).isEqualTo(1);
        }
    }

    private static final String T0 = "{\"op\":\"t\",\"before\":null,\"after\":null,\"source\":{\"schema\":\"s\",\"table\":\"t\",\"stream\":\"s.t\",\"bookmark\":\"b1\"}}";

    private static String copied(int id, String v, String bookmark) {
        return "{\"op\":\"r\",\"before\":null,\"after\":{\"id\":" + id + ",\"v\":\"" + v + "\",\"body\":\"B" + id + "\"},"
                + "\"source\":{\"schema\":\"s\",\"table\":\"t\",\"stream\":\"s.t\",\"bookmark\":\"" + bookmark + "\"}}";
    }

    private static String change(String op, String before, String after, String unchanged, String lsn, long tx, String part) {
        return "{\"op\":\"" + op + "\",\"before\":" + before + ",\"after\":" + after + (unchanged == null ? "" : ",\"unchanged\":[\"" + unchanged + "\"]")
                + ",\"source\":{\"schema\":\"s\",\"table\":\"t\",\"lsn\":\"" + lsn + "\",\"txId\":" + tx + ",\"commitTime\":\"2024-01-01T00:00:00Z\""
                + (part == null ? "" : "," + part) + "}}";
    }

    private static final List<MixedWorkload.Table> T = List.of(new MixedWorkload.Table("t", List.of("id")));

    private static JsonlEvents check(Path dir, List<String> lines, List<JsonlEvents.Kill> kills) throws Exception {
        Files.writeString(dir.resolve("s.t.jsonl"), String.join("\n", lines) + "\n");
        return JsonlEvents.read(dir, "s", T, kills, 1);
    }

    @Test
    void theJsonlCheckReplaysAConsistentFileAndAcceptsTheOneRepeatAKillAllows(@TempDir Path dir) throws Exception {
        String insert = change("c", "null", "{\"id\":3,\"v\":\"c\",\"body\":\"B3\"}", null, "0/100", 7, null);
        String updateKeepingToast = change("u", "null", "{\"id\":1,\"v\":\"a2\"}", "body", "0/200", 8, null);
        String partOne = change("d", "{\"id\":2,\"v\":null,\"body\":null}", "null", null, "0/300", 9, "\"part\":0,\"last\":false");
        String partTwo = change("u", "{\"id\":3,\"v\":null,\"body\":null}", "{\"id\":4,\"v\":\"d\"}", "body", "0/300", 9, "\"part\":1,\"last\":true");
        List<String> before = List.of(T0, copied(1, "a", "b1"), copied(2, "b", "b2"), insert, updateKeepingToast, partOne);
        Files.writeString(dir.resolve("s.t.jsonl"), String.join("\n", before) + "\n" + partTwo.substring(0, 40)); // killed mid-line
        // the kill: the positions file held the first part; the second part was being written
        JsonlEvents.Kill kill = JsonlEvents.afterKill(dir, "slot1");
        kill = new JsonlEvents.Kill(kill.sizes(), "0/300#1");
        // what a restart leaves: the partial line cut off (pgsource does that), then the second part again
        JsonlEvents events = check(dir, concat(before, List.of(partTwo)), List.of(kill));
        assertThat(events.violations()).isEmpty();
        assertThat(events.rows("t")).isEqualTo(2); // 1 (updated, body kept) and 4 (moved from 3, body kept)
        assertThat(events.txIds()).containsExactlyInAnyOrder(7L, 8L, 9L);
        assertThat(events.missing(List.of(new MixedWorkload.Commit(7, 0x90), new MixedWorkload.Commit(10, 0x400)), 0x50))
                .extracting(MixedWorkload.Commit::xid).containsExactly(10L);

        // the second part written, then the batch repeated after a kill: allowed, and applied once
        JsonlEvents repeated = check(dir, concat(before, List.of(partTwo)), List.of());
        long size = Files.size(dir.resolve("s.t.jsonl"));
        repeated = check(dir, concat(before, List.of(partTwo, partTwo)), List.of(new JsonlEvents.Kill(Map.of("s.t.jsonl", size), "0/300#1")));
        assertThat(repeated.violations()).isEmpty();
        assertThat(repeated.repeats()).hasSize(1);
        assertThat(repeated.rows("t")).isEqualTo(2);
    }

    @Test
    void theJsonlCheckReportsPartialLinesRepeatsBeyondTheContractAndInconsistentChanges(@TempDir Path dir) throws Exception {
        String insert = change("c", "null", "{\"id\":3,\"v\":\"c\",\"body\":\"B3\"}", null, "0/100", 7, null);
        String update = change("u", "null", "{\"id\":1,\"v\":\"a2\"}", "body", "0/200", 8, null);
        List<String> copy = List.of(T0, copied(1, "a", "b1"));

        // a partial line glued to the next one
        assertThat(check(dir, List.of(T0, copied(1, "a", "b1"), insert.substring(0, 50) + update), List.of()).violations())
                .anySatisfy(v -> assertThat(v).contains("not a JSON object"));
        // a batch written twice without a kill in between
        assertThat(check(dir, concat(copy, List.of(insert, update, insert)), List.of()).violations())
                .anySatisfy(v -> assertThat(v).contains("appears again"));
        // a repeat after a kill of a batch the positions file already covered
        long size = Files.size(dir.resolve("s.t.jsonl"));
        Files.writeString(dir.resolve("s.t.jsonl"), String.join("\n", concat(copy, List.of(insert, update))) + "\n");
        size = Files.size(dir.resolve("s.t.jsonl"));
        assertThat(check(dir, concat(copy, List.of(insert, update, update)), List.of(new JsonlEvents.Kill(Map.of("s.t.jsonl", size), "0/250")))
                .violations()).anySatisfy(v -> assertThat(v).contains("acknowledged"));
        // an update of a row nobody inserted, and a lost update (the insert's key again)
        String ghost = change("u", "null", "{\"id\":9,\"v\":\"x\"}", "body", "0/400", 11, null);
        assertThat(check(dir, concat(copy, List.of(ghost, change("c", "null", "{\"id\":1,\"v\":\"z\",\"body\":\"Z\"}", null, "0/500", 12, null))), List.of())
                .violations()).anySatisfy(v -> assertThat(v).contains("key 9 that the table does not hold"))
                .anySatisfy(v -> assertThat(v).contains("an insert of key 1 the table already holds"));
        // positions going back
        assertThat(check(dir, concat(copy, List.of(update, insert)), List.of()).violations()).anySatisfy(v -> assertThat(v).contains("goes back"));
    }

    @Test
    void changesOfRowsACopyMissedBecauseOfAConcurrentTruncateAreExplainedByThatTruncate(@TempDir Path dir) throws Exception {
        // the copy's snapshot saw the table empty (a TRUNCATE committed after the snapshot, before the table was read)
        String update = change("u", "null", "{\"id\":5,\"v\":\"x\",\"body\":\"B\"}", null, "0/200", 8, null);
        String truncate = change("t", "null", "null", null, "0/300", 9, null);
        String refill = change("c", "null", "{\"id\":1,\"v\":\"n\",\"body\":\"N\"}", null, "0/300", 9, null);
        JsonlEvents events = check(dir, List.of(T0, update, truncate, refill), List.of());
        assertThat(events.violations()).isEmpty();
        assertThat(events.truncatesDuringCopy()).isEqualTo(1);
        assertThat(events.rows("t")).isEqualTo(1);
        // without the truncate nothing explains it
        assertThat(check(dir, List.of(T0, update), List.of()).violations()).singleElement().asString().contains("no truncate followed");
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new java.util.ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
