package io.pgsource.sink.json;

import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.TableSchema;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ChangeEnvelopeTest {
    private final TableSchema t = table("s", "t", List.of("id"), col("id", "bigint"), col("name", "text"), col("big", "text"), col("ok", "boolean"));

    @Test
    void batchEnvelope() {
        Position p = new Position.Batch("s.t", "{\"id\":3}");
        ChangeEvent read = new ChangeEvent(Op.READ, t, null, row(t, 3L, "a\"b", null, true), Set.of(), p);
        assertThat(ChangeEnvelope.toJson(read, p)).isEqualTo("{\"op\":\"r\",\"before\":null,\"after\":{\"id\":3,\"name\":\"a\\\"b\","
                + "\"big\":null,\"ok\":true},\"source\":{\"schema\":\"s\",\"table\":\"t\",\"stream\":\"s.t\",\"bookmark\":\"{\\\"id\\\":3}\"}}");
    }

    @Test
    void logEnvelopeWithUnchangedColumns() {
        Position p = new Position.Log(0x16B3748L, 770, null);
        ChangeEvent update = new ChangeEvent(Op.UPDATE, t, row(t, 1L, null, null, null), row(t, 2L, "n", null, false), Set.of("big"), null);
        assertThat(ChangeEnvelope.toJson(update, p)).isEqualTo("{\"op\":\"u\",\"before\":{\"id\":1,\"name\":null,\"big\":null,\"ok\":null},"
                + "\"after\":{\"id\":2,\"name\":\"n\",\"ok\":false},\"unchanged\":[\"big\"],"
                + "\"source\":{\"schema\":\"s\",\"table\":\"t\",\"lsn\":\"0/16B3748\",\"txId\":770,\"commitTime\":null}}");
        ChangeEvent truncate = ChangeEvent.truncate(t, p);
        assertThat(ChangeEnvelope.toJson(truncate, null)).startsWith("{\"op\":\"t\",\"before\":null,\"after\":null,\"source\":");
    }
}
