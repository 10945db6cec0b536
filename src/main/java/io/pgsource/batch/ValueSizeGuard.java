package io.pgsource.batch;

import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.types.CopyText;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Keeps a value larger than {@code source.max_value_bytes} from being fetched: the page query is wrapped so the server
 * measures every variable-length value first, returns NULL in place of one that is too large and lists the sizes in a
 * last column; reading such a row stops the run with a {@link ValueTooLargeException} that names it. Without this, one
 * value of hundreds of MB would be allocated whole by the driver, then copied, and exhaust the heap.
 *
 * <p>The size is the value's text form in bytes (what the driver receives). It is measured cheaply: a value stored in
 * at most {@code max / 4096} bytes cannot exceed the limit (compression and text output expand it far less), and only
 * larger ones are measured exactly ({@code octet_length(v::text)}, which for text types reads the stored length).
 *
 * <pre>{@code
 * SELECT p.c0, CASE WHEN p.s1 <= max THEN p.c1 END, ..., CASE WHEN p.s1 > max THEN ARRAY[p.s1]::text END
 * FROM (SELECT "id", "doc", <size of "doc"> FROM ... ORDER BY ... LIMIT ?) AS p(c0, c1, s1) ORDER BY p.c0
 * }</pre>
 */
final class ValueSizeGuard {
    /** Types of bounded size: booleans, numbers, dates and times, uuid, oid, network addresses, money, numeric. */
    private static final Set<Integer> BOUNDED = Set.of(16, 18, 19, 20, 21, 23, 26, 27, 28, 29, 600, 650, 700, 701, 774, 790, 829,
            869, 1082, 1083, 1114, 1184, 1186, 1266, 1700, 2950, 3220);

    private final TableSchema schema;
    private final long max;
    private final int leading;
    private final int[] guarded;

    /**
     * @param leading the number of columns the page query selects before the table's columns (the ctid reader's ctid)
     */
    ValueSizeGuard(TableSchema schema, long max, int leading) {
        this.schema = schema;
        this.max = max;
        this.leading = leading;
        List<Integer> g = new ArrayList<>();
        for (int i = 0; i < schema.size(); i++) {
            if (!BOUNDED.contains(schema.columns().get(i).typeOid())) {
                g.add(i);
            }
        }
        this.guarded = g.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The measures to append to the inner select list (after the table's columns): {@code , size1, size2}. */
    String sizeColumns() {
        // a literal, not a bind parameter: the readers' parameters keep their places; it is a long, formatted by Java
        long stored = Math.max(1, max / 4096);
        StringBuilder sql = new StringBuilder();
        for (int i : guarded) {
            String c = TableId.quoteIdent(schema.columns().get(i).name());
            sql.append(", CASE WHEN pg_catalog.pg_column_size(").append(c).append(") <= ").append(stored)
                    .append(" THEN 0 ELSE pg_catalog.octet_length(").append(c).append("::pg_catalog.text) END");
        }
        return sql.toString();
    }

    /**
     * The page query around {@code inner} (which selects the leading columns, the table's columns, then
     * {@link #sizeColumns()}), ordered again by the given output columns (0-based: leading columns first).
     */
    String wrap(String inner, int[] orderBy) {
        if (guarded.length == 0) {
            return inner;
        }
        List<String> aliases = new ArrayList<>();
        StringBuilder select = new StringBuilder("SELECT ");
        for (int i = 0; i < leading + schema.size(); i++) {
            aliases.add("\"c" + i + "\"");
        }
        for (int i = 0; i < leading + schema.size(); i++) {
            int sizeIndex = indexOfGuarded(i - leading);
            select.append(i == 0 ? "" : ", ");
            if (sizeIndex < 0) {
                select.append("p.\"c").append(i).append('"');
            } else {
                select.append("CASE WHEN p.\"s").append(sizeIndex).append("\" <= ").append(max).append(" THEN p.\"c").append(i).append("\" END");
            }
        }
        StringBuilder over = new StringBuilder();
        StringBuilder sizes = new StringBuilder();
        for (int k = 0; k < guarded.length; k++) {
            aliases.add("\"s" + k + "\"");
            over.append(k == 0 ? "" : " OR ").append("p.\"s").append(k).append("\" > ").append(max);
            sizes.append(k == 0 ? "" : ", ").append("p.\"s").append(k).append('"');
        }
        select.append(", CASE WHEN ").append(over).append(" THEN ARRAY[").append(sizes).append("]::pg_catalog.text END");
        select.append(" FROM (").append(inner).append(") AS p(").append(String.join(", ", aliases)).append(") ORDER BY ");
        for (int j = 0; j < orderBy.length; j++) {
            select.append(j == 0 ? "" : ", ").append("p.\"c").append(orderBy[j]).append('"');
        }
        return select.toString();
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
     * The row of a wrapped query's COPY text line (the table's columns, then the report, when any column is guarded),
     * kept as that line ({@link Row#ofCopyText}); throws when a value was too large to fetch.
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
        Row row = new Row(schema, Arrays.copyOf(fields, schema.size()));
        throw tooLarge(row, (String) fields[schema.size()], task);
    }

    /** The row at the table's columns (from {@code first}, 1-based); throws when a value was too large to fetch. */
    Row row(ResultSet rs, int first, StreamTask task) throws SQLException {
        Row row = PageReader.row(rs, schema, first);
        if (guarded.length > 0) {
            String report = rs.getString(first + schema.size());
            if (report != null) {
                throw tooLarge(row, report, task);
            }
        }
        return row;
    }

    private ValueTooLargeException tooLarge(Row row, String report, StreamTask task) {
        String[] sizes = report.substring(1, report.length() - 1).split(",");
        StringBuilder columns = new StringBuilder();
        long largest = 0;
        for (int k = 0; k < guarded.length; k++) {
            long size = Long.parseLong(sizes[k].strip());
            if (size > max) {
                columns.append(columns.isEmpty() ? "" : ", ").append(TableId.quoteIdent(schema.columns().get(guarded[k]).name()))
                        .append(" (").append(String.format("%,d", size)).append(" bytes)");
                largest = Math.max(largest, size);
            }
        }
        StringBuilder key = new StringBuilder();
        List<String> keyNames = task.keyless() ? List.of() : task.keyColumnNames();
        for (String name : keyNames) {
            key.append(key.isEmpty() ? "" : ", ").append(TableId.quoteIdent(name)).append(" = ").append(row.get(schema.indexOf(name)));
        }
        return new ValueTooLargeException(task.table().id().quoted() + (key.isEmpty() ? " (a row without primary key)" : " row " + key)
                + ": column " + columns + " holds a value larger than source.max_value_bytes = " + String.format("%,d", max)
                + " bytes, so it was not fetched (reading it whole could exhaust the JVM's heap of "
                + String.format("%,d", Runtime.getRuntime().maxMemory() >> 20) + " MB). Nothing past the last committed page was"
                + " bookmarked. Fix: raise source.max_value_bytes above " + String.format("%,d", largest) + " and the heap with it"
                + " (java -Xmx..., about 6 times the largest value plus 200 MB), or make the value smaller at the source");
    }
}
