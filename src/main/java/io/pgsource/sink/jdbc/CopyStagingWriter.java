package io.pgsource.sink.jdbc;

import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * {@code COPY} (text format) into a session-local staging table, then one
 * {@code INSERT INTO target SELECT ... FROM staging ON CONFLICT (key) DO UPDATE}. Rows of keyless tables are
 * copied straight into the target. Staging tables live as long as the connection and empty themselves at commit.
 *
 * <p>Staging costs locks and round trips, so it is kept for where it pays: a table's rows smaller than
 * {@value #MIN_COPY_ROWS} go as one multi-row {@code INSERT ... ON CONFLICT} (one round trip instead of three), and a
 * session holds at most {@value #MAX_STAGING_TABLES} staging tables (the least recently used one is dropped for a new
 * one, at most that many per transaction; beyond, rows go by {@code INSERT}). Without the bound a source transaction
 * that touched thousands of tables made as many temporary tables in one destination transaction, each with its own
 * locks, and ran the destination out of shared memory ({@code max_locks_per_transaction}) where the source, holding
 * only the tables' own locks, had committed; and every later commit truncated them all. Now a destination
 * transaction takes the locks of the tables it writes, as the source did, plus a bounded few.
 */
final class CopyStagingWriter implements RowWriter {
    private static final int CHUNK = 1 << 16;
    /** Below this many rows of one table, a multi-row INSERT beats COPY + INSERT ... SELECT. */
    static final int MIN_COPY_ROWS = 64;
    /** Staging tables a session keeps, and creates in one transaction, at most. */
    static final int MAX_STAGING_TABLES = 32;

    private final InsertValuesWriter inserts = new InsertValuesWriter(5000);
    /** The session's staging tables as of the last commit, least recently used first. */
    private final LinkedHashMap<TargetTable, String> committed = new LinkedHashMap<>(16, 0.75f, true);
    /** Created in the current transaction (gone again on rollback). */
    private final Map<TargetTable, String> createdNow = new HashMap<>();
    /** Dropped in the current transaction (back again on rollback). */
    private final Map<TargetTable, String> droppedNow = new HashMap<>();
    private final Set<String> usedInTransaction = new HashSet<>();
    private Connection connection;
    private int counter;

    @Override
    public void upsert(Connection c, TargetTable t, Set<String> unchanged, List<Row> rows) throws SQLException {
        String stage = rows.size() < MIN_COPY_ROWS ? null : stage(c, t);
        if (stage == null) {
            inserts.upsert(c, t, unchanged, rows);
            return;
        }
        int[] written = RowWriter.writtenColumns(t, unchanged);
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
    public void transactionEnded(boolean committedNow) {
        if (committedNow) {
            committed.putAll(createdNow);
        } else {
            committed.putAll(droppedNow);
        }
        createdNow.clear();
        droppedNow.clear();
        usedInTransaction.clear();
    }

    /** Staging tables the session holds now. */
    int stagingTables() {
        return committed.size() + createdNow.size();
    }

    /**
     * An empty staging table for rows of this target, created on first use in this session; null when the bound
     * leaves none for it in this transaction.
     */
    private String stage(Connection c, TargetTable t) throws SQLException {
        if (c != connection) {
            // a new session has no temporary tables
            connection = c;
            committed.clear();
            createdNow.clear();
            droppedNow.clear();
            usedInTransaction.clear();
        }
        String name = createdNow.containsKey(t) ? createdNow.get(t) : committed.get(t);
        try (Statement s = c.createStatement()) {
            if (name == null) {
                if (createdNow.size() >= MAX_STAGING_TABLES || !makeRoom(s)) {
                    return null;
                }
                name = "pg_temp." + TableId.quoteIdent("pgsource_stage_" + (++counter));
                StringBuilder ddl = new StringBuilder("CREATE TEMP TABLE ").append(name.substring("pg_temp.".length())).append(" (");
                for (int i = 0; i < t.source().size(); i++) {
                    ddl.append(i == 0 ? "" : ", ").append(TableId.quoteIdent(t.columnName(i))).append(' ').append(t.type(i));
                }
                s.execute(ddl.append(") ON COMMIT DELETE ROWS").toString());
                createdNow.put(t, name);
            } else if (usedInTransaction.contains(name)) {
                s.execute("TRUNCATE " + name);
            }
        }
        usedInTransaction.add(name);
        return name;
    }

    /** Drops the least recently used staging table this transaction has not used, when the session holds the most. */
    private boolean makeRoom(Statement s) throws SQLException {
        if (stagingTables() < MAX_STAGING_TABLES) {
            return true;
        }
        for (var e : committed.entrySet()) {
            if (!usedInTransaction.contains(e.getValue())) {
                s.execute("DROP TABLE " + e.getValue());
                droppedNow.put(e.getKey(), e.getValue());
                committed.remove(e.getKey());
                return true;
            }
        }
        return false;
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
