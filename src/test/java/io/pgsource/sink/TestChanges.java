package io.pgsource.sink;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.change.ChangeHeaders;
import java.sql.SQLException;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/** Hand-built tables, rows, changes and batches for destination tests. */
public final class TestChanges {
    private TestChanges() {
    }

    public static Column col(String name, String type) {
        return new Column(name, 0, type, type);
    }

    /** A column of a user-defined type that resolves to a built-in base type. */
    public static Column col(String name, String type, String baseType) {
        return new Column(name, 0, type, baseType);
    }

    public static TableSchema table(String schema, String name, List<String> key, Column... columns) {
        return new TableSchema(new TableId(schema, name), Arrays.asList(columns), key);
    }

    public static Row row(TableSchema schema, Object... values) {
        return new Row(schema, values.clone());
    }

    public static ChangeEvent read(Row row) {
        return new ChangeEvent(Op.READ, row.schema(), null, row, Set.of(), null);
    }

    public static ChangeEvent insert(Row row) {
        return new ChangeEvent(Op.INSERT, row.schema(), null, row, Set.of(), null);
    }

    public static ChangeEvent update(Row before, Row after) {
        return new ChangeEvent(Op.UPDATE, after.schema(), before, after, Set.of(), null);
    }

    /** An update whose new row lacks the values of {@code unchanged} (unchanged TOAST; null in the row). */
    public static ChangeEvent update(Row before, Row after, Set<String> unchanged) {
        return new ChangeEvent(Op.UPDATE, after.schema(), before, after, unchanged, null);
    }

    public static ChangeEvent delete(Row before) {
        return new ChangeEvent(Op.DELETE, before.schema(), before, null, Set.of(), null);
    }

    public static ChangeEvent truncate(TableSchema schema) {
        return new ChangeEvent(Op.TRUNCATE, schema, null, null, Set.of(), null);
    }

    /** A batch whose events all carry its position. */
    public static ChangeBatch batch(Position position, ChangeEvent... events) {
        List<ChangeEvent> out = new ArrayList<>();
        for (ChangeEvent e : events) {
            out.add(new ChangeEvent(e.op(), e.table(), e.before(), e.after(), e.unchanged(), position));
        }
        return new ChangeBatch(out, position, true);
    }

    /** {@code count} tables {@code schema.t0, t1, ...}, each of a bigint key id and a text column v. */
    public static List<TableSchema> manyTables(String schema, int count) {
        List<TableSchema> tables = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            tables.add(table(schema, "t" + i, List.of("id"), col("id", "bigint"), col("v", "text")));
        }
        return tables;
    }

    /**
     * One batch over many tables ({@link #manyTables}): ids 0 to {@code rows - 1} of each, their v set to {@code value},
     * inserted when it is "first", else updated from "first".
     */
    public static ChangeBatch rowsOfEach(List<TableSchema> tables, int rows, Position position, String value) {
        List<ChangeEvent> events = new ArrayList<>();
        for (TableSchema t : tables) {
            for (long id = 0; id < rows; id++) {
                events.add("first".equals(value)
                        ? new ChangeEvent(Op.INSERT, t, null, row(t, id, value), Set.of(), position)
                        : new ChangeEvent(Op.UPDATE, t, row(t, id, "first"), row(t, id, value), Set.of(), position));
            }
        }
        return new ChangeBatch(events, position, true);
    }

    public static Position.Batch page(String stream, String bookmark) {
        return new Position.Batch(stream, bookmark);
    }

    /**
     * Delivers a batch to a destination as its route does: through the {@link DestinationStep} (what is applied is left
     * out, the position stored).
     *
     * @param slot          the slot header, or null
     * @param changesBefore the {@link ChangeHeaders#TX_CHANGES_BEFORE} header, or null
     */
    public static void deliver(Destination destination, ChangeBatch batch, String slot, Long changesBefore) throws SQLException {
        Exchange ex = new DefaultExchange(new DefaultCamelContext());
        ex.getIn().setBody(batch);
        if (slot != null) {
            ex.getIn().setHeader(ChangeHeaders.SLOT, slot);
        }
        if (changesBefore != null) {
            ex.getIn().setHeader(ChangeHeaders.TX_CHANGES_BEFORE, changesBefore);
        }
        try {
            new DestinationStep(destination).process(ex);
        } catch (SQLException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
