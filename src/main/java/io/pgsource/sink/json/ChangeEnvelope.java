package io.pgsource.sink.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.state.Positions;
import io.pgsource.types.JsonValues;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Set;

/**
 * The JSON envelope of one change, shared by the event destinations:
 * <pre>{@code
 * {"op":"r|c|u|d|t","before":{..}|null,"after":{..}|null,"unchanged":[..],
 *  "source":{"schema":..,"table":..,"stream":..,"bookmark":..}}          (batch query)
 *  "source":{"schema":..,"table":..,"lsn":"0/16B3748","txId":..,"commitTime":..[,"part":1][,"last":false]}}  (log replication)
 * }</pre>
 * Rows are objects in column order, values written by {@link JsonValues}. {@code unchanged} is present only when
 * the source did not send some TOASTed values; those columns are then left out of {@code after} (their value is
 * not known, and it is not null). The position is the event's own, else the batch's: for log replication
 * {@code lsn} is the transaction's commit LSN, the same in every event and every part of the transaction.
 *
 * <p>A transaction with more changes than one batch holds arrives in parts ({@link Part}): every event of a part
 * but the last says {@code "last":false}; when the exchange carries the part's index in the {@value #PART_HEADER}
 * header (0 for the first part), {@code "part"} gives it, and the last part of a multi-part transaction says
 * {@code "last":true}. A whole transaction in one batch has neither field.
 */
public final class ChangeEnvelope {
    /** Optional exchange header: the 0-based index of a transaction's part (an {@code Integer}). */
    public static final String PART_HEADER = io.pgsource.change.ChangeHeaders.TX_PART;

    private static final JsonFactory JSON = new JsonFactory();

    private ChangeEnvelope() {
    }

    /**
     * Where a batch stands in a source transaction that came in several parts.
     *
     * @param index the part's index, 0 for the first, or null when not known
     * @param last  whether it is the transaction's last part
     */
    public record Part(Integer index, boolean last) {

        /**
         * The part a log-replication batch is, or null for a whole transaction or a batch-query page.
         *
         * @param index the {@value ChangeEnvelope#PART_HEADER} header, or null
         */
        public static Part of(ChangeBatch batch, Integer index) {
            if (!(batch.position() instanceof Position.Log)) {
                return null;
            }
            if (!batch.last() || (index != null && index > 0)) {
                return new Part(index, batch.last());
            }
            return null;
        }
    }

    /** Writes one envelope (a JSON object, no line end). */
    public static void write(JsonGenerator g, ChangeEvent event, Position batchPosition) throws IOException {
        write(g, event, batchPosition, null);
    }

    /**
     * Writes one envelope (a JSON object, no line end).
     *
     * @param part where the event's batch stands in a multi-part transaction, or null
     */
    public static void write(JsonGenerator g, ChangeEvent event, Position batchPosition, Part part) throws IOException {
        g.writeStartObject();
        g.writeStringField("op", event.op().code());
        g.writeFieldName("before");
        writeRow(g, event.before(), Set.of());
        g.writeFieldName("after");
        writeRow(g, event.after(), event.unchanged());
        if (!event.unchanged().isEmpty()) {
            g.writeArrayFieldStart("unchanged");
            for (Column c : event.table().columns()) {
                if (event.unchanged().contains(c.name())) {
                    g.writeString(c.name());
                }
            }
            g.writeEndArray();
        }
        g.writeObjectFieldStart("source");
        g.writeStringField("schema", event.tableId().schema());
        g.writeStringField("table", event.tableId().name());
        Position p = event.position() != null ? event.position() : batchPosition;
        if (p instanceof Position.Batch b) {
            g.writeStringField("stream", b.stream());
            g.writeStringField("bookmark", b.bookmark());
        } else if (p instanceof Position.Log l) {
            g.writeStringField("lsn", Positions.lsn(l.commitLsn()));
            g.writeNumberField("txId", l.txId());
            g.writeFieldName("commitTime");
            JsonValues.write(g, l.commitTime());
            if (part != null) {
                if (part.index() != null) {
                    g.writeNumberField("part", part.index());
                }
                g.writeBooleanField("last", part.last());
            }
        }
        g.writeEndObject();
        g.writeEndObject();
    }

    /** One envelope as a string (for the log destination and tests). */
    public static String toJson(ChangeEvent event, Position batchPosition) {
        return toJson(event, batchPosition, null);
    }

    /** One envelope as a string, with where its batch stands in a multi-part transaction (or null). */
    public static String toJson(ChangeEvent event, Position batchPosition, Part part) {
        StringWriter out = new StringWriter(256);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            write(g, event, batchPosition, part);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    private static void writeRow(JsonGenerator g, Row row, Set<String> skip) throws IOException {
        if (row == null) {
            g.writeNull();
            return;
        }
        g.writeStartObject();
        List<Column> columns = row.schema().columns();
        for (int i = 0; i < columns.size(); i++) {
            String name = columns.get(i).name();
            if (!skip.contains(name)) {
                g.writeFieldName(name);
                JsonValues.write(g, row.get(i));
            }
        }
        g.writeEndObject();
    }
}
