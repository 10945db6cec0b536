package io.pgsource.sink.jdbc;

import io.pgsource.change.Row;
import io.pgsource.types.PgText;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.Set;

/**
 * Multi-row {@code INSERT ... VALUES (?::type, ...), ... [ON CONFLICT (key) DO UPDATE SET ...]} with every value a
 * bind parameter in PostgreSQL's text form, as many rows per statement as the 65535-parameter limit allows (capped).
 */
final class InsertValuesWriter implements RowWriter {
    private final int maxRowsPerStatement;

    InsertValuesWriter(int maxRowsPerStatement) {
        this.maxRowsPerStatement = maxRowsPerStatement;
    }

    @Override
    public void upsert(Connection c, TargetTable t, Set<String> unchanged, List<Row> rows) throws SQLException {
        int[] written = RowWriter.writtenColumns(t, unchanged);
        insert(c, t, written, RowWriter.onConflict(t, written), rows);
    }

    @Override
    public void append(Connection c, TargetTable t, List<Row> rows) throws SQLException {
        insert(c, t, RowWriter.writtenColumns(t, Set.of()), "", rows);
    }

    private void insert(Connection c, TargetTable t, int[] written, String tail, List<Row> rows) throws SQLException {
        int perStatement = Math.max(1, Math.min(maxRowsPerStatement, Sql.MAX_PARAMETERS / written.length));
        String head = "INSERT INTO " + t.quoted() + " (" + RowWriter.columnList(t, written) + ") VALUES ";
        StringBuilder oneRow = new StringBuilder("(");
        for (int j = 0; j < written.length; j++) {
            oneRow.append(j == 0 ? "?::" : ", ?::").append(t.type(written[j]));
        }
        oneRow.append(')');
        String fullSql = sql(head, oneRow, perStatement, tail);
        for (int from = 0; from < rows.size(); from += perStatement) {
            int n = Math.min(perStatement, rows.size() - from);
            try (PreparedStatement ps = c.prepareStatement(n == perStatement ? fullSql : sql(head, oneRow, n, tail))) {
                int p = 1;
                for (Row row : rows.subList(from, from + n)) {
                    for (int col : written) {
                        Sql.bindText(ps, p++, PgText.format(row.get(col)));
                    }
                }
                ps.executeUpdate();
            }
        }
    }

    private static String sql(String head, CharSequence oneRow, int rows, String tail) {
        StringBuilder sb = new StringBuilder(head.length() + rows * (oneRow.length() + 2) + tail.length());
        sb.append(head);
        for (int i = 0; i < rows; i++) {
            sb.append(i == 0 ? "" : ", ").append(oneRow);
        }
        return sb.append(tail).toString();
    }
}
