package io.pgsource.batch;

import io.pgsource.catalog.TableInfo;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.types.BuiltinBinary;
import io.pgsource.types.Bytes;
import io.pgsource.types.CopyText;
import java.nio.charset.StandardCharsets;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * Keeps a value larger than {@code source.max_value_bytes} from being fetched: the page query's select list makes the
 * server measure every variable-length value first, return NULL in place of one that is too large, and list the sizes
 * of a row's large values in a last column; reading a row with a value too large stops the run with a
 * {@link ValueTooLargeException} that names it. Without this, one value of hundreds of MB would be allocated whole by
 * the driver, then copied, and exhaust the heap.
 *
 * <p>The size is the value's text form in bytes (what the driver receives in COPY's text format; in its binary format,
 * which pages of built-in types are read in, the same for text types, a byte more for jsonb, half for bytea, and up to
 * a few times more only for arrays of small numbers, whose elements each take 8 bytes or more). It is measured cheaply: a value stored in
 * at most {@code max / 4096} bytes cannot exceed the limit (compression and text output expand it far less), and only
 * larger ones are measured exactly ({@code octet_length(v::text)}, which for text types reads the stored length).
 *
 * <pre>{@code
 * SELECT "id", CASE WHEN pg_column_size("doc") <= stored OR octet_length("doc"::text) <= max THEN "doc" END,
 *        CASE WHEN pg_column_size("doc") > stored THEN ARRAY[<size of "doc">]::text END
 * FROM ... ORDER BY ... LIMIT ?
 * }</pre>
 *
 * One level, not a subquery that measures and an outer query that picks: the server's cost per row of the guard is
 * a few function calls per variable-length column (a subquery scan cost about as much again: a million rows of the
 * bench's table took 1.31 s of the server's CPU so against 1.40 s, and 1.14 s with no guard at all). A value stored in
 * more than {@code max / 4096} bytes that is not of a text type is so converted to text twice to be measured (for the
 * value and for the report), plus once by COPY: only for such large values.
 */
final class ValueSizeGuard {
    /** Types of bounded size: booleans, numbers, dates and times, uuid, oid, network addresses, money, numeric. */
    private static final Set<Integer> BOUNDED = Set.of(16, 18, 19, 20, 21, 23, 26, 27, 28, 29, 600, 650, 700, 701, 774, 790, 829,
            869, 1082, 1083, 1114, 1184, 1186, 1266, 1700, 2950, 3220);

    private final TableSchema schema;
    private final long max;
    private final int[] guarded;

    ValueSizeGuard(TableSchema schema, long max) {
        this.schema = schema;
        this.max = max;
        List<Integer> g = new ArrayList<>();
        for (int i = 0; i < schema.size(); i++) {
            if (!BOUNDED.contains(schema.columns().get(i).typeOid())) {
                g.add(i);
            }
        }
        this.guarded = g.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The page query's select list: the table's columns (each as {@link TableInfo#readExpression}), a guarded one NULL
     * when its value is too large, then the report of large values' sizes when any column is guarded.
     */
    String selectList(TableInfo table) {
        // literals, not bind parameters: the readers' parameters keep their places; they are longs, formatted by Java
        long stored = Math.max(1, max / 4096);
        StringBuilder sql = new StringBuilder();
        for (int i = 0; i < schema.size(); i++) {
            String name = schema.columns().get(i).name();
            String read = table.readExpression(name);
            sql.append(i == 0 ? "" : ", ");
            if (indexOfGuarded(i) < 0) {
                sql.append(read);
            } else {
                String c = TableId.quoteIdent(name);
                sql.append("CASE WHEN pg_catalog.pg_column_size(").append(c).append(") <= ").append(stored)
                        .append(" OR pg_catalog.octet_length(").append(c).append("::pg_catalog.text) <= ").append(max)
                        .append(" THEN ").append(read).append(" END");
            }
        }
        if (guarded.length > 0) {
            StringBuilder large = new StringBuilder();
            StringBuilder sizes = new StringBuilder();
            for (int k = 0; k < guarded.length; k++) {
                String c = TableId.quoteIdent(schema.columns().get(guarded[k]).name());
                large.append(k == 0 ? "" : " OR ").append("pg_catalog.pg_column_size(").append(c).append(") > ").append(stored);
                sizes.append(k == 0 ? "" : ", ").append("CASE WHEN pg_catalog.pg_column_size(").append(c).append(") <= ").append(stored)
                        .append(" THEN 0 ELSE pg_catalog.octet_length(").append(c).append("::pg_catalog.text) END");
            }
            sql.append(", CASE WHEN ").append(large).append(" THEN ARRAY[").append(sizes).append("]::pg_catalog.text END");
        }
        return sql.toString();
    }

    private int indexOfGuarded(int column) {
        for (int k = 0; k < guarded.length; k++) {
            if (guarded[k] == column) {
                return k;
            }
        }
        return -1;
    }

    /**
     * The row of a page query's COPY text line (the table's columns, then the report when any column is guarded), kept
     * as that line ({@link Row#ofCopyText}); throws when a value was too large to fetch.
     */
    Row row(byte[] line, StreamTask task) {
        int end = line.length;
        if (end > 0 && line[end - 1] == '\n') {
            end--;
        }
        if (guarded.length == 0) {
            return Row.ofCopyText(schema, line, end);
        }
        // the report is the last field: COPY escapes a tab inside a value, so the last tab byte ends the table's columns
        int tab = end - 1;
        while (tab >= 0 && line[tab] != '\t') {
            tab--;
        }
        if (tab >= 0 && end - tab == 3 && line[tab + 1] == '\\' && line[tab + 2] == 'N') {
            return Row.ofCopyText(schema, line, tab);
        }
        Object[] fields = CopyText.parseLine(line, end, schema.size() + 1);
        String report = (String) fields[schema.size()];
        if (!tooLarge(report)) {
            return Row.ofCopyText(schema, line, tab); // large values, none too large
        }
        Row row = new Row(schema, Arrays.copyOf(fields, schema.size()));
        throw tooLarge(row::get, report, task);
    }

    /**
     * The row of a page query's COPY binary tuple (the table's columns up to {@code tableEnd}, then the report when any
     * column is guarded), kept as that tuple ({@link Row#ofCopyBinary}); throws when a value was too large to fetch. The
     * report is {@code text}, whose binary form is its UTF-8 bytes.
     *
     * @param start the tuple's start (its field count)
     */
    Row row(byte[] tuple, int start, int tableEnd, int end, StreamTask task) {
        Row row = Row.ofCopyBinary(schema, tuple, start + 2, tableEnd);
        if (guarded.length == 0 || tableEnd + 4 > end) {
            return row;
        }
        int length = Bytes.int32(tuple, tableEnd);
        if (length < 0) {
            return row;
        }
        String report = new String(tuple, tableEnd + 4, length, StandardCharsets.UTF_8);
        if (!tooLarge(report)) {
            return row; // large values, none too large
        }
        throw tooLarge(column -> {
            Object v = row.get(column);
            int oid = schema.columns().get(column).typeOid();
            return v instanceof byte[] b && BuiltinBinary.keyText(oid) ? BuiltinBinary.keyText(oid, b) : v;
        }, report, task);
    }

    /** The row at the table's columns (from {@code first}, 1-based); throws when a value was too large to fetch. */
    Row row(ResultSet rs, int first, StreamTask task) throws SQLException {
        Row row = PageReader.row(rs, schema, first);
        if (guarded.length > 0) {
            String report = rs.getString(first + schema.size());
            if (tooLarge(report)) {
                throw tooLarge(row::get, report, task);
            }
        }
        return row;
    }

    /** Whether the report ({@code {size,...}}, null when the row has no large value) names a value too large. */
    private boolean tooLarge(String report) {
        if (report == null) {
            return false;
        }
        for (long size : sizes(report)) {
            if (size > max) {
                return true;
            }
        }
        return false;
    }

    /** The sizes of a report, {@code {0,NULL,123}}: 0 for a NULL value (whose size is NULL). */
    private static long[] sizes(String report) {
        String[] sizes = report.substring(1, report.length() - 1).split(",");
        long[] out = new long[sizes.length];
        for (int k = 0; k < sizes.length; k++) {
            String size = sizes[k].strip();
            out[k] = size.equals("NULL") ? 0 : Long.parseLong(size);
        }
        return out;
    }

    /** @param value the row's value of a column, by position: the key's are named in the message */
    private ValueTooLargeException tooLarge(IntFunction<Object> value, String report, StreamTask task) {
        long[] sizes = sizes(report);
        StringBuilder columns = new StringBuilder();
        long largest = 0;
        for (int k = 0; k < guarded.length; k++) {
            long size = sizes[k];
            if (size > max) {
                columns.append(columns.isEmpty() ? "" : ", ").append(TableId.quoteIdent(schema.columns().get(guarded[k]).name()))
                        .append(" (").append(String.format("%,d", size)).append(" bytes)");
                largest = Math.max(largest, size);
            }
        }
        StringBuilder key = new StringBuilder();
        List<String> keyNames = task.keyless() ? List.of() : task.keyColumnNames();
        for (String name : keyNames) {
            key.append(key.isEmpty() ? "" : ", ").append(TableId.quoteIdent(name)).append(" = ").append(value.apply(schema.indexOf(name)));
        }
        return new ValueTooLargeException(task.table().id().quoted() + (key.isEmpty() ? " (a row without primary key)" : " row " + key)
                + ": column " + columns + " holds a value larger than source.max_value_bytes = " + String.format("%,d", max)
                + " bytes, so it was not fetched (reading it whole could exhaust the JVM's heap of "
                + String.format("%,d", Runtime.getRuntime().maxMemory() >> 20) + " MB). Nothing past the last committed page was"
                + " bookmarked. Fix: raise source.max_value_bytes above " + String.format("%,d", largest) + " and the heap with it"
                + " (java -Xmx..., about 6 times the largest value plus 200 MB), or make the value smaller at the source");
    }
}
