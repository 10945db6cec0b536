package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The status page's parts that need no running pgsource: an error line split at its fix, the JSON, the page's escaping. */
class StatusSnapshotTest {
    private static final Instant AT = Instant.parse("2026-12-07T03:00:00Z");

    @Test
    void anErrorLineIsSplitAtTheSentenceThatSaysWhatToDo() {
        StatusSnapshot.Error e = StatusBoard.split(AT, "Cannot reach PostgreSQL at db:5432/shop (Connection refused). Check source.host"
                + " and source.port, and that the server listens there (listen_addresses, firewall).");
        assertThat(e.message()).isEqualTo("Cannot reach PostgreSQL at db:5432/shop (Connection refused).");
        assertThat(e.fix()).isEqualTo("Check source.host and source.port, and that the server listens there (listen_addresses, firewall).");
        StatusSnapshot.Error lost = StatusBoard.split(AT, "Slot s was dropped. To recover with pgsource: run it once with sync.resnapshot=true");
        assertThat(lost.fix()).startsWith("To recover with pgsource:");
        StatusSnapshot.Error none = StatusBoard.split(AT, "the destination refused a change: value too long for type character varying(3)");
        assertThat(none.message()).startsWith("the destination refused");
        assertThat(none.fix()).isNull();
    }

    @Test
    void theJsonHasNoNaNAndThePageEscapesEveryText() {
        StatusSnapshot s = new StatusSnapshot(AT, AT.minusSeconds(3725), "copying", false,
                List.of(new StatusSnapshot.Check("consumer:<x>", "DOWN & out")),
                new StatusSnapshot.Source("LOG_BASED", "db:5432/shop", "slot", "jsonl"),
                List.of(new StatusSnapshot.Table("public.<script>alert(1)</script>", "copying", 40, 100, 12.5, null, 3.2, 0),
                        new StatusSnapshot.Table("public.t", "none", 0, -1, 0, null, 0, 7)),
                new StatusSnapshot.Stream("slot", false, "the route failed: <b>", null, null, null, 0, 0, Double.NaN, 0),
                List.of(new StatusSnapshot.Sample(AT.minusSeconds(10), -1, 0, 0), new StatusSnapshot.Sample(AT, 2048, 5, 1)),
                Duration.ofSeconds(10), List.of(StatusBoard.split(AT, "It broke. Set destination.url")));
        JsonNode json = s.toJson();
        assertThat(json.path("uptimeSeconds").asLong()).isEqualTo(3725);
        assertThat(json.path("tables").get(0).path("percent").asDouble()).isEqualTo(40.0);
        assertThat(json.path("tables").get(0).path("etaSeconds").isNull()).isTrue();
        assertThat(json.path("tables").get(1).path("estimatedRows").isNull()).isTrue();
        assertThat(json.path("stream").path("changesPerSecond").isNull()).as("NaN is null").isTrue();
        assertThat(json.path("history").get(0).path("lagBytes").isNull()).isTrue();
        assertThat(json.path("errors").get(0).path("fix").asText()).isEqualTo("Set destination.url");

        StatusSnapshot batch = new StatusSnapshot(AT, AT, "batch", true, List.of(), new StatusSnapshot.Source("FULL_TABLE", "db:5432/shop",
                null, "postgres"), List.of(new StatusSnapshot.Table("public.t", "none", 0, -1, 0, null, 0, 70)), null, List.of(),
                Duration.ofSeconds(10), List.of());
        assertThat(batch.toJson().path("stream").isNull()).isTrue();
        assertThat(StatusPage.html(batch)).contains("rows applied", "no samples yet", ">70<").doesNotContain("Log replication");

        String html = StatusPage.html(s);
        assertThat(html).doesNotContain("<script>", "<b>").contains("public.&lt;script&gt;alert(1)&lt;/script&gt;", "DOWN &amp; out",
                "not healthy", "<polyline class=\"lag\"", "1h 2m", "Set destination.url");
    }
}
