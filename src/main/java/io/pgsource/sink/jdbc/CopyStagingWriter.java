package io.pgsource.sink.jdbc;

import io.pgsource.change.Column;
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
 * {@code COPY} (text format, or binary for values that arrived so) into a session-local staging table, then one
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
    /** PostgreSQL's first OID of objects not built in ({@code FirstNormalObjectId}). */
    private static final int FIRST_NORMAL_OID = 16384;
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
    /** Whether a checked destination table has exactly the types of its {@link TargetTable} (see {@link TargetTables#exactTypes}). */
    private final java.util.function.Predicate<TargetTable> exactTypes;
    private Connection connection;
    private int counter;

    CopyStagingWriter() {
        this(t -> false);
    }

    CopyStagingWriter(java.util.function.Predicate<TargetTable> exactTypes) {
        this.exactTypes = exactTypes;
    }

    @Override
    public void upsert(Connection c, TargetTable t, Set<String> unchanged, List<Row> rows) throws SQLException {
        String stage = rows.size() < MIN_COPY_ROWS ? null : stage(c, t);
        if (stage == null) {
            inserts.upsert(c, t, unchanged, rows);
            return;
        }
        int[] written = RowWriter.writtenColumns(t, unchanged);
        String columns = RowWriter.columnList(t, written);
        copy(c, t, stage + " (" + columns + ")", written, rows, true); // a staging table has exactly the target's types
        try (Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO " + t.quoted() + " (" + columns + ") SELECT " + columns + " FROM " + stage
                    + RowWriter.onConflict(t, written));
        }
    }

    @Override
    public void append(Connection c, TargetTable t, List<Row> rows) throws SQLException {
        int[] written = RowWriter.writtenColumns(t, Set.of());
        copy(c, t, t.quoted() + " (" + RowWriter.columnList(t, written) + ")", written, rows, exactTypes.test(t));
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

    /**
     * COPY of the rows' written columns: in COPY's binary format when every value is in the binary form pgoutput or a
     * snapshot's binary COPY sent (not decoded) and the table's columns have exactly the source's built-in types, so the destination receives the
     * source's bytes as they are; else in text format, where a value's text as it arrived goes as it is.
     *
     * @param exactTarget whether the table's columns have exactly the types {@link TargetTable#type} names
     */
    private static void copy(Connection c, TargetTable t, String into, int[] written, List<Row> rows, boolean exactTarget)
            throws SQLException {
        boolean binary = exactTarget && binaryTypes(t, written) && CopyTextBuffer.binaryValues(rows, written);
        CopyIn in = c.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + into + " FROM STDIN" + (binary ? " (FORMAT binary)" : ""));
        try {
            CopyTextBuffer buffer = CopyTextBuffer.into(in);
            if (binary) {
                buffer.binaryHeader();
                for (Row row : rows) {
                    buffer.binaryRow(row, written);
                }
                buffer.binaryTrailer();
            } else {
                boolean[] asArrived = asArrived(t);
                for (Row row : rows) {
                    if (!buffer.line(row, written, asArrived)) {
                        buffer.row(row, written, asArrived);
                    }
                }
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

    /**
     * Whether the written columns take the source's binary form: each is of a built-in type (the same OID, so the same
     * send/receive format and array element type, on every server) and the destination column is of exactly that type.
     */
    static boolean binaryTypes(TargetTable t, int[] written) {
        for (int i : written) {
            Column c = t.source().columns().get(i);
            if (c.typeOid() <= 0 || c.typeOid() >= FIRST_NORMAL_OID || !t.type(i).equals(c.typeName()) || money(t.type(i))) {
                return false;
            }
        }
        return true;
    }

    /** Per column: whether its source text output is the same value's input at the destination, whatever the session there. */
    static boolean[] asArrived(TargetTable t) {
        boolean[] ok = new boolean[t.source().size()];
        for (int i = 0; i < ok.length; i++) {
            ok[i] = !money(t.type(i)); // money's text depends on lc_monetary
        }
        return ok;
    }

    private static boolean money(String type) {
        return type.startsWith("money");
    }
}
