package io.pgsource.batch;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Row;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * One primary-key chunk of a table, for a backfill: {@code WHERE (pk) > (last) [AND condition] ORDER BY pk LIMIT n}
 * with the batch query's keyset reader, so the rows are what the copy reads (the publication's row filter and column
 * list applied, values raw as the copy reads them (text output, or binary form), too large values refused alike).
 */
public final class KeyChunks {
    private KeyChunks() {
    }

    /**
     * The rows of a chunk.
     *
     * @param rows    at most the task's page size, in key order
     * @param lastKey the text form of the last row's key; the {@code after} it was read from when there is none
     * @param last    whether the table has no row after these (fewer rows than asked for)
     */
    public record Chunk(List<Row> rows, List<String> lastKey, boolean last) {
    }

    /**
     * Reads the chunk after {@code after} inside the caller's open transaction (which it neither commits nor closes).
     *
     * @param task      a keyed FULL_TABLE stream whose page size is the chunk size
     * @param after     the text form of the key to start after, or null for the first chunk
     * @param condition a condition the rows must also meet (SQL), or null
     */
    public static Chunk read(StreamTask task, Connection c, List<String> after, String condition) throws SQLException {
        if (task.keyless()) {
            throw new IllegalArgumentException(task + ": a chunk is read by primary key");
        }
        List<Row> rows = new ArrayList<>();
        try (KeysetPageReader reader = new KeysetPageReader(task, c, after, condition)) {
            while (reader.more()) {
                for (ChangeEvent e : reader.next()) {
                    rows.add(e.after());
                }
            }
        }
        List<String> lastKey = after;
        if (!rows.isEmpty()) {
            Row lastRow = rows.get(rows.size() - 1);
            lastKey = new ArrayList<>();
            for (String column : task.keyColumnNames()) {
                lastKey.add(KeysetPageReader.keyText(lastRow, lastRow.schema().indexOf(column)));
            }
        }
        return new Chunk(rows, lastKey, rows.size() < task.pageSize());
    }
}
