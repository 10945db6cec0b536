package io.pgsource.sink.jdbc;

import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

/** Writes many rows into a destination table inside the open transaction. */
interface RowWriter {

    /**
     * Inserts the rows, or updates the existing row of the same key; the {@code unchanged} columns are neither
     * inserted nor updated (the destination keeps its value). The rows have distinct keys.
     */
    void upsert(Connection c, TargetTable table, Set<String> unchanged, List<Row> rows) throws SQLException;

    /** Inserts the rows as they are (a table without key: duplicates are kept). */
    void append(Connection c, TargetTable table, List<Row> rows) throws SQLException;

    /** Called after each commit ({@code true}) or rollback ({@code false}). */
    default void transactionEnded(boolean committed) {
    }

    /** The columns of the table that are written: all but the unchanged ones and those the destination computes, in row order. */
    static int[] writtenColumns(TargetTable t, Set<String> unchanged) {
        return IntStream.range(0, t.source().size())
                .filter(i -> !unchanged.contains(t.columnName(i)) && !t.computed().contains(t.columnName(i)))
                .toArray();
    }

    /**
     * {@code ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c, ...} over the written non-key columns; with soft delete
     * also {@code _deleted_at = NULL}: a key the source inserts again is alive again.
     */
    static String onConflict(TargetTable t, int[] written) {
        StringBuilder set = new StringBuilder();
        for (int i : written) {
            String name = t.columnName(i);
            if (!t.source().key().contains(name)) {
                String q = TableId.quoteIdent(name);
                set.append(set.isEmpty() ? "" : ", ").append(q).append(" = EXCLUDED.").append(q);
            }
        }
        if (t.softDelete()) {
            set.append(set.isEmpty() ? "" : ", ").append(TableId.quoteIdent(TargetTable.DELETED_AT)).append(" = NULL");
        }
        String conflict = " ON CONFLICT (" + Sql.columns(t.source().key()) + ") ";
        return set.isEmpty() ? conflict + "DO NOTHING" : conflict + "DO UPDATE SET " + set;
    }

    /** The quoted names of the written columns. */
    static String columnList(TargetTable t, int[] written) {
        StringBuilder sb = new StringBuilder();
        for (int i : written) {
            sb.append(sb.isEmpty() ? "" : ", ").append(TableId.quoteIdent(t.columnName(i)));
        }
        return sb.toString();
    }
}
