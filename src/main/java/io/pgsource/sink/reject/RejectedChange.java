package io.pgsource.sink.reject;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableSchema;
import io.pgsource.sink.json.ChangeEnvelope;
import io.pgsource.state.Positions;
import io.pgsource.types.JsonValues;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.sql.SQLException;

/**
 * One change the destination refused, with the database's reason.
 *
 * @param change        the change as the source sent it
 * @param batchPosition the position of the batch it came in (the change's own position when it has none)
 * @param destination   where it was refused, for people (a JDBC URL without credentials, a table)
 * @param sqlState      the database's SQLSTATE, e.g. 23514 for a CHECK constraint
 * @param message       the database's message
 */
public record RejectedChange(ChangeEvent change, Position batchPosition, String destination, String sqlState, String message) {
    private static final JsonFactory JSON = new JsonFactory();

    public static RejectedChange of(ChangeEvent change, Position batchPosition, String destination, SQLException error) {
        return new RejectedChange(change, batchPosition, destination, error.getSQLState(), error.getMessage());
    }

    /** Where the change came from: {@code LSN 0/16B3748 (transaction 812)} or {@code bookmark ...}. */
    public String where() {
        Position p = change.position() != null ? change.position() : batchPosition;
        if (p instanceof Position.Log l) {
            return "LSN " + Positions.lsn(l.commitLsn()) + " (transaction " + l.txId() + ")";
        }
        if (p instanceof Position.Batch b) {
            return "stream " + b.stream() + ", in the page up to bookmark " + b.bookmark();
        }
        return "an unknown position";
    }

    /** The change's key as JSON, e.g. {@code {"id":120}}; the whole row for a table without a key. */
    public String keyJson() {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            writeKey(g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    private void writeKey(JsonGenerator g) throws IOException {
        Row row = change.after() != null ? change.after() : change.before();
        if (row == null) {
            g.writeNull();
            return;
        }
        TableSchema table = row.schema();
        g.writeStartObject();
        for (int i = 0; i < table.size(); i++) {
            String name = table.columns().get(i).name();
            if (!table.hasKey() || table.key().contains(name)) {
                g.writeFieldName(name);
                JsonValues.write(g, row.get(i));
            }
        }
        g.writeEndObject();
    }

    /**
     * The dead-letter message: {@code {"error":{"sqlState":..,"message":..},"destination":..,"table":{"schema":..,
     * "name":..},"key":{..},"change":{<the change's JSON envelope, with its source position>}}}.
     */
    public String toJson() {
        StringWriter out = new StringWriter(512);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeObjectFieldStart("error");
            g.writeStringField("sqlState", sqlState);
            g.writeStringField("message", message);
            g.writeEndObject();
            g.writeStringField("destination", destination);
            g.writeObjectFieldStart("table");
            g.writeStringField("schema", change.tableId().schema());
            g.writeStringField("name", change.tableId().name());
            g.writeEndObject();
            g.writeFieldName("key");
            writeKey(g);
            g.writeFieldName("change");
            ChangeEnvelope.write(g, change, batchPosition);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** For log lines: table, key and position, without the row's values. */
    public String describe() {
        return change.tableId().quoted() + " key " + keyJson() + " at " + where();
    }
}
