package io.pgsource.sink.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableSchema;
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

    /**
     * One change as Debezium's PostgreSQL connector writes its value with the JSON converter and
     * {@code schemas.enable=false}, so consumers written for Debezium read it:
     * <pre>{@code
     * {"before":{..}|null,"after":{..}|null,
     *  "source":{"version":..,"connector":"postgresql","name":..,"ts_ms":..,"snapshot":"true|false","db":..,
     *            "sequence":"[null,\"<lsn>\"]","schema":..,"table":..,"txId":..,"lsn":..,"xmin":null},
     *  "op":"c|u|d|r|t","ts_ms":..,"transaction":null}
     * }</pre>
     * {@code lsn} is the commit LSN as a number (Debezium's is the change's own LSN: every change of a transaction
     * here shares its commit's); rows read by a copy or the batch query have {@code "op":"r"}, {@code "snapshot":"true"}
     * and no lsn or txId. Values are written as in pgsource's own envelope ({@link JsonValues}): numbers, strings, ISO
     * times, not Debezium's numeric time encodings. Unchanged TOAST values are left out of {@code after} (Debezium writes
     * the placeholder {@code __debezium_unavailable_value}).
     *
     * @param serverName {@code source.name}: the logical server name
     * @param database   {@code source.db}
     * @param version    {@code source.version}
     * @param nowMillis  the top-level {@code ts_ms}: when pgsource handled the change
     */
    public static String toDebeziumJson(ChangeEvent event, Position batchPosition, String serverName, String database, String version,
            long nowMillis) {
        StringWriter out = new StringWriter(256);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeFieldName("before");
            writeRow(g, event.before(), Set.of());
            g.writeFieldName("after");
            writeRow(g, event.after(), event.unchanged());
            g.writeObjectFieldStart("source");
            g.writeStringField("version", version);
            g.writeStringField("connector", "postgresql");
            g.writeStringField("name", serverName);
            Position p = event.position() != null ? event.position() : batchPosition;
            Position.Log log = p instanceof Position.Log l ? l : null;
            if (log != null && log.commitTime() != null) {
                g.writeNumberField("ts_ms", log.commitTime().toInstant().toEpochMilli());
            } else {
                g.writeNumberField("ts_ms", nowMillis);
            }
            g.writeStringField("snapshot", log == null ? "true" : "false");
            g.writeStringField("db", database);
            if (log != null) {
                g.writeStringField("sequence", "[null,\"" + Long.toUnsignedString(log.commitLsn()) + "\"]");
            } else {
                g.writeNullField("sequence");
            }
            g.writeStringField("schema", event.tableId().schema());
            g.writeStringField("table", event.tableId().name());
            if (log != null) {
                g.writeNumberField("txId", log.txId());
                g.writeNumberField("lsn", log.commitLsn());
            } else {
                g.writeNullField("txId");
                g.writeNullField("lsn");
            }
            g.writeNullField("xmin");
            g.writeEndObject();
            g.writeStringField("op", event.op().code());
            g.writeNumberField("ts_ms", nowMillis);
            g.writeNullField("transaction");
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /**
     * The row's primary key as a JSON object of its key columns ({@code {"id":1}}, Debezium's key payload), from the new
     * row, else the old one; null for a table without a key and for a truncate.
     */
    public static String keyJson(ChangeEvent event) {
        return keyJson(event.table(), event.after() != null ? event.after() : event.before());
    }

    /** The key of a row of the table as a JSON object, or null when the table has no key (or there is no row). */
    public static String keyJson(TableSchema table, Row row) {
        if (row == null || !table.hasKey()) {
            return null;
        }
        StringWriter out = new StringWriter(64);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            for (String column : table.key()) {
                g.writeFieldName(column);
                JsonValues.write(g, row.get(row.schema().indexOf(column)));
            }
            g.writeEndObject();
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
