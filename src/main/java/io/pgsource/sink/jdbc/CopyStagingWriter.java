package io.pgsource.sink.jdbc;

import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * {@code COPY} (text format) into a session-local staging table, then one
 * {@code INSERT INTO target SELECT ... FROM staging ON CONFLICT (key) DO UPDATE}. Rows of keyless tables are
 * copied straight into the target. Staging tables live as long as the connection and empty themselves at commit.
 */
final class CopyStagingWriter implements RowWriter {
    private static final int CHUNK = 1 << 16;

    private final Map<TargetTable, String> staging = new IdentityHashMap<>();
    private final CommitCache<TargetTable> created = new CommitCache<>();
    private final Set<String> usedInTransaction = new HashSet<>();
    private Connection connection;
    private int counter;

    @Override
    public void upsert(Connection c, TargetTable t, Set<String> unchanged, List<Row> rows) throws SQLException {
        int[] written = RowWriter.writtenColumns(t, unchanged);
        String stage = stage(c, t);
        String columns = RowWriter.columnList(t, written);
        copy(c, stage + " (" + columns + ")", written, rows);
        try (Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO " + t.quoted() + " (" + columns + ") SELECT " + columns + " FROM " + stage
                    + RowWriter.onConflict(t, written));
        }
    }

    @Override
    public void append(Connection c, TargetTable t, List<Row> rows) throws SQLException {
        int[] written = RowWriter.writtenColumns(t, Set.of());
        copy(c, t.quoted() + " (" + RowWriter.columnList(t, written) + ")", written, rows);
    }

    @Override
    public void transactionEnded(boolean committed) {
        if (committed) {
            created.commit();
        } else {
            created.rollback();
        }
        usedInTransaction.clear();
    }

    /** An empty staging table for rows of this target, created on first use in this session. */
    private String stage(Connection c, TargetTable t) throws SQLException {
        if (c != connection) {
            // a new session has no temporary tables
            connection = c;
            created.clear();
            usedInTransaction.clear();
        }
        String name = staging.computeIfAbsent(t, x -> "pg_temp." + TableId.quoteIdent("pgsource_stage_" + (++counter)));
        try (Statement s = c.createStatement()) {
            if (!created.contains(t)) {
                StringBuilder ddl = new StringBuilder("CREATE TEMP TABLE ").append(name.substring("pg_temp.".length())).append(" (");
                for (int i = 0; i < t.source().size(); i++) {
                    ddl.append(i == 0 ? "" : ", ").append(TableId.quoteIdent(t.columnName(i))).append(' ').append(t.type(i));
                }
                s.execute(ddl.append(") ON COMMIT DELETE ROWS").toString());
                created.add(t);
            } else if (usedInTransaction.contains(name)) {
                s.execute("TRUNCATE " + name);
            }
        }
        usedInTransaction.add(name);
        return name;
    }

    private static void copy(Connection c, String into, int[] written, List<Row> rows) throws SQLException {
        CopyIn in = c.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + into + " FROM STDIN");
        try {
            CopyTextBuffer buffer = CopyTextBuffer.into(in);
            for (Row row : rows) {
                buffer.row(row, written);
            }
            buffer.flush();
            in.endCopy();
        } catch (SQLException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new SQLException("COPY into " + into + " failed: " + e.getMessage(), e);
        } finally {
            if (in.isActive()) {
                in.cancelCopy();
            }
        }
    }
}
