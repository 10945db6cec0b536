package io.pgsource.testsupport;

import io.pgsource.change.TableId;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.postgresql.PGConnection;
import org.postgresql.copy.PGCopyInputStream;

/**
 * Exact comparison of tables in two databases (two servers even): each row of the destination table is brought to the
 * source's session as its {@code ROW(...)::text} (through COPY, streamed), and {@code EXCEPT ALL} runs both ways over
 * the source's columns, so every type compares (jsonb, arrays, intervals, NaN), duplicates of keyless tables count,
 * and a value the destination holds differently (1.50 vs 1.5, a lost TOAST value, a NULL) is a difference. Both
 * sessions print values the same way (UTC, ISO dates, shortest exact floats). Every column of the source counts,
 * generated ones too; columns the destination adds (such as {@code _deleted_at}) are ignored.
 */
public final class TableCompare {
    private static final int EXAMPLES = 5;
    private static final int EXAMPLE_CHARS = 300;
    private static final String FORMAT = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
            + "SET extra_float_digits = 1";

    private TableCompare() {
    }

    /** What differs in one table: rows only the source has, rows only the destination has (counts and a few of each). */
    public record Difference(String table, long missing, long extra, List<String> missingExamples, List<String> extraExamples) {
        @Override
        public String toString() {
            return table + ": " + missing + " source row(s) missing at the destination, " + extra + " destination row(s) not in the source"
                    + missingExamples.stream().map(r -> "\n    missing: " + r).collect(Collectors.joining())
                    + extraExamples.stream().map(r -> "\n    extra:   " + r).collect(Collectors.joining());
        }
    }

    /**
     * The differences between {@code schema.table} in the source and {@code targetSchema.table} in the destination,
     * for each table; empty when every table holds exactly the same rows.
     */
    public static List<Difference> differences(Connection source, String schema, Connection target, String targetSchema,
                                               List<String> tables) throws SQLException {
        List<Difference> out = new ArrayList<>();
        for (String table : tables) {
            Difference d = compare(source, schema, target, targetSchema, table);
            if (d != null) {
                out.add(d);
            }
        }
        return out;
    }

    /**
     * Fails with every difference (a few rows of each) unless each table is equal in both databases.
     *
     * @param context appended to the failure (seed, the story of the run, log tails)
     */
    public static void assertEqual(Connection source, String schema, Connection target, String targetSchema, List<String> tables,
                                   String context) throws SQLException {
        List<Difference> diffs = differences(source, schema, target, targetSchema, tables);
        if (!diffs.isEmpty()) {
            throw new AssertionError(diffs.size() + " table(s) differ between source and destination:\n"
                    + diffs.stream().map(Difference::toString).collect(Collectors.joining("\n")) + "\n" + context);
        }
    }

    /** The difference in one table, or null when both hold exactly the same rows. */
    public static Difference compare(Connection source, String schema, Connection target, String targetSchema, String table)
            throws SQLException {
        return compare(source, new TableId(schema, table), target, new TableId(targetSchema, table));
    }

    /** Fails with the difference unless the source table and the destination table (of another name) hold the same rows. */
    public static void assertEqual(Connection source, TableId sourceTable, Connection target, TableId targetTable) throws SQLException {
        Difference d = compare(source, sourceTable, target, targetTable);
        if (d != null) {
            throw new AssertionError(sourceTable + " and " + targetTable + " differ: " + d);
        }
    }

    /** The difference between a source table and a destination table, or null when both hold exactly the same rows. */
    public static Difference compare(Connection source, TableId from, Connection target, TableId to) throws SQLException {
        String schema = from.schema();
        String table = from.name();
        List<String> columns = columns(source, schema, table);
        if (columns.isEmpty()) {
            throw new IllegalArgumentException("no table " + from + " in the source");
        }
        if (columns(target, to.schema(), to.name()).isEmpty()) {
            return new Difference(table, count(source, schema, table), 0, List.of("(the destination has no table " + to + ")"),
                    List.of());
        }
        String row = "ROW(" + columns.stream().map(TableId::quoteIdent).collect(Collectors.joining(", ")) + ")::text";
        String sourceTable = from.quoted();
        String targetTable = to.quoted();
        boolean autoCommit = source.getAutoCommit();
        source.setAutoCommit(false);
        try (Statement s = source.createStatement(); Statement t = target.createStatement()) {
            s.execute(FORMAT);
            t.execute(FORMAT);
            s.execute("CREATE TEMP TABLE IF NOT EXISTS pgsource_compare_rows (r text) ON COMMIT DELETE ROWS");
            try (PGCopyInputStream rows = new PGCopyInputStream(target.unwrap(PGConnection.class),
                    "COPY (SELECT " + row + " FROM " + targetTable + ") TO STDOUT")) {
                source.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY pgsource_compare_rows FROM STDIN", rows);
            } catch (IOException e) {
                throw new SQLException("cannot stream the destination's rows of " + targetTable + ": " + e.getMessage(), e);
            }
            String onlySource = "SELECT " + row + " AS r FROM " + sourceTable + " EXCEPT ALL SELECT r FROM pgsource_compare_rows";
            String onlyTarget = "SELECT r FROM pgsource_compare_rows EXCEPT ALL SELECT " + row + " FROM " + sourceTable;
            long missing = count(s, onlySource);
            long extra = count(s, onlyTarget);
            Difference d = missing == 0 && extra == 0 ? null
                    : new Difference(table, missing, extra, examples(s, onlySource), examples(s, onlyTarget));
            source.commit();
            return d;
        } catch (SQLException | RuntimeException e) {
            source.rollback();
            throw e;
        } finally {
            source.setAutoCommit(autoCommit);
        }
    }

    private static long count(Statement s, String query) throws SQLException {
        try (ResultSet rs = s.executeQuery("SELECT count(*) FROM (" + query + ") x")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long count(Connection c, String schema, String table) throws SQLException {
        try (Statement s = c.createStatement()) {
            return count(s, "SELECT 1 FROM " + TableId.quoteIdent(schema) + "." + TableId.quoteIdent(table));
        }
    }

    private static List<String> examples(Statement s, String query) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = s.executeQuery("SELECT left(r, " + EXAMPLE_CHARS + ") FROM (" + query + ") x ORDER BY 1 LIMIT " + EXAMPLES)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** The columns of a table (generated ones included), in order; empty when there is no such table. */
    public static List<String> columns(Connection c, String schema, String table) throws SQLException {
        List<String> cols = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT a.attname FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                WHERE n.nspname = ? AND r.relname = ? AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""")) {
            ps.setString(1, schema);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    cols.add(rs.getString(1));
                }
            }
        }
        return cols;
    }
}
