package io.pgsource.sink.mysql;

import io.pgsource.change.Row;
import io.pgsource.sink.plan.WritePlan;
import io.pgsource.sink.plan.WritePlan.Append;
import io.pgsource.sink.plan.WritePlan.Deletes;
import io.pgsource.sink.plan.WritePlan.Move;
import io.pgsource.sink.plan.WritePlan.RemoveOne;
import io.pgsource.sink.plan.WritePlan.Segment;
import io.pgsource.sink.plan.WritePlan.Step;
import io.pgsource.sink.plan.WritePlan.Truncate;
import io.pgsource.sink.plan.WritePlan.Upserts;
import io.pgsource.sink.mysql.MySqlTables.Target;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the steps of a {@link WritePlan} to MySQL/MariaDB tables inside the open transaction (no DDL, no commit):
 * <ul>
 * <li>upserts: multi-row {@code INSERT ... VALUES (...), ... ON DUPLICATE KEY UPDATE c = VALUES(c)} over the columns
 * the source sent (unchanged TOAST values are left alone), as many rows a statement as {@value #ROWS_PER_STATEMENT}
 * and the placeholder limit allow — measured faster than {@code LOAD DATA LOCAL INFILE} into a staging table plus
 * {@code INSERT ... SELECT ... ON DUPLICATE KEY UPDATE} (see the README);</li>
 * <li>deletes: {@code DELETE ... WHERE (k1, k2) IN ((?, ?), ...)};</li>
 * <li>truncates: {@code DELETE FROM t}, because MySQL's TRUNCATE commits on its own and would break the batch's
 * transaction;</li>
 * <li>keyless tables: rows appended as they are, a delete removes one row equal to the old row ({@code <=>} on every
 * column, {@code LIMIT 1});</li>
 * <li>a key change whose new row lacks unchanged TOAST values: the row is updated in place to its new key.</li>
 * </ul>
 */
final class MySqlWriter {
    private static final Logger LOG = LoggerFactory.getLogger(MySqlWriter.class);
    static final int ROWS_PER_STATEMENT = 1000;
    /** The most placeholders one prepared statement may have. */
    private static final int MAX_PLACEHOLDERS = 65_535;

    private final MySqlTables tables;
    /** The most bytes one statement may take: a part of the server's max_allowed_packet. */
    private long maxStatementBytes = 4L << 20;

    MySqlWriter(MySqlTables tables) {
        this.tables = tables;
    }

    /** The server's max_allowed_packet: statements stay well below it. */
    void maxAllowedPacket(long bytes) {
        maxStatementBytes = Math.max(64 << 10, bytes / 3);
    }

    void apply(Connection c, WritePlan plan) throws SQLException {
        for (WritePlan.TablePlan table : plan.tables()) {
            for (Step step : table.steps()) {
                apply(c, step);
            }
        }
    }

    private void apply(Connection c, Step step) throws SQLException {
        if (step instanceof Truncate t) {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + target(t.schema()).quoted())) {
                ps.executeUpdate();
            }
        } else if (step instanceof Segment seg) {
            for (Deletes d : seg.deletes()) {
                delete(c, target(d.schema()), d.rows());
            }
            for (Upserts u : seg.upserts()) {
                insert(c, target(u.schema()), u.unchanged(), u.rows(), true);
            }
        } else if (step instanceof Append a) {
            insert(c, target(a.schema()), Set.of(), a.rows(), false);
        } else if (step instanceof RemoveOne r) {
            removeOne(c, target(r.row().schema()), r.row());
        } else if (step instanceof Move m) {
            move(c, m);
        }
    }

    private Target target(io.pgsource.change.TableSchema schema) {
        Target t = tables.known(schema);
        if (t == null) {
            throw new IllegalStateException("no destination table checked for " + schema.id().quoted());
        }
        return t;
    }

    /** Multi-row INSERT, with ON DUPLICATE KEY UPDATE when {@code upsert}. */
    void insert(Connection c, Target t, Set<String> unchanged, List<Row> rows, boolean upsert) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        int[] written = IntStream.range(0, t.source().size()).filter(i -> !unchanged.contains(t.columnName(i))).toArray();
        StringBuilder head = new StringBuilder("INSERT INTO ").append(t.quoted()).append(" (");
        StringBuilder one = new StringBuilder("(");
        for (int j = 0; j < written.length; j++) {
            head.append(j == 0 ? "" : ", ").append(MySqlTypes.quote(t.columnName(written[j])));
            one.append(j == 0 ? "?" : ", ?");
        }
        head.append(") VALUES ");
        one.append(')');
        String tail = upsert ? onDuplicateKey(t, written) : "";
        int per = Math.max(1, Math.min(ROWS_PER_STATEMENT, MAX_PLACEHOLDERS / Math.max(1, written.length)));
        // the values as bound, so a statement's size is known before it is sent: it must fit max_allowed_packet
        Object[][] values = new Object[rows.size()][];
        long[] sizes = new long[rows.size()];
        for (int r = 0; r < rows.size(); r++) {
            Object[] v = new Object[written.length];
            long size = 8;
            for (int j = 0; j < written.length; j++) {
                v[j] = MySqlTypes.value(rows.get(r).get(written[j]), t.kinds().get(written[j]), t.quoted(), t.columnName(written[j]));
                size += estimate(v[j]);
            }
            values[r] = v;
            sizes[r] = size;
        }
        String full = null;
        int from = 0;
        while (from < rows.size()) {
            int n = 0;
            long bytes = head.length() + tail.length();
            while (from + n < rows.size() && n < per && (n == 0 || bytes + sizes[from + n] <= maxStatementBytes)) {
                bytes += sizes[from + n];
                n++;
            }
            String sql;
            if (n == per) {
                sql = full == null ? full = statement(head, one, n, tail) : full;
            } else {
                sql = statement(head, one, n, tail);
            }
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                int p = 1;
                for (int r = from; r < from + n; r++) {
                    for (Object v : values[r]) {
                        bindValue(ps, p++, v);
                    }
                }
                ps.executeUpdate();
            }
            from += n;
        }
    }

    /** About how many bytes a bound value takes in a statement (escaped, as UTF-8). */
    private static long estimate(Object v) {
        if (v instanceof String s) {
            return 2L * s.length() + 4;
        }
        if (v instanceof byte[] b) {
            return 2L * b.length + 10;
        }
        return 24;
    }

    private static String statement(CharSequence head, CharSequence one, int rows, String tail) {
        StringBuilder sb = new StringBuilder(head.length() + rows * (one.length() + 2) + tail.length());
        sb.append(head);
        for (int i = 0; i < rows; i++) {
            sb.append(i == 0 ? "" : ", ").append(one);
        }
        return sb.append(tail).toString();
    }

    /** {@code ON DUPLICATE KEY UPDATE c = VALUES(c), ...} over the written non-key columns (a key column when none). */
    private static String onDuplicateKey(Target t, int[] written) {
        StringBuilder set = new StringBuilder();
        for (int i : written) {
            String name = t.columnName(i);
            if (!t.source().key().contains(name)) {
                String q = MySqlTypes.quote(name);
                set.append(set.isEmpty() ? "" : ", ").append(q).append(" = VALUES(").append(q).append(')');
            }
        }
        if (set.isEmpty()) {
            String k = MySqlTypes.quote(t.source().key().get(0));
            set.append(k).append(" = ").append(k);
        }
        return " ON DUPLICATE KEY UPDATE " + set;
    }

    private static void delete(Connection c, Target t, List<Row> keyRows) throws SQLException {
        int[] key = t.source().keyPositions();
        StringBuilder one = new StringBuilder(key.length == 1 ? "?" : "(");
        if (key.length > 1) {
            for (int j = 0; j < key.length; j++) {
                one.append(j == 0 ? "?" : ", ?");
            }
            one.append(')');
        }
        String head = "DELETE FROM " + t.quoted() + " WHERE " + (key.length == 1 ? MySqlTypes.quote(t.source().key().get(0))
                : "(" + MySqlTables.columnList(t.source().key()) + ")") + " IN (";
        int per = Math.min(ROWS_PER_STATEMENT, MAX_PLACEHOLDERS / key.length);
        for (int from = 0; from < keyRows.size(); from += per) {
            List<Row> chunk = keyRows.subList(from, Math.min(keyRows.size(), from + per));
            try (PreparedStatement ps = c.prepareStatement(statement(head, one, chunk.size(), ")"))) {
                int p = 1;
                for (Row r : chunk) {
                    for (int k : key) {
                        bind(ps, p++, t, k, r.get(k));
                    }
                }
                ps.executeUpdate();
            }
        }
    }

    /** Removes one row equal to the old row of a keyless table. */
    private static void removeOne(Connection c, Target t, Row old) throws SQLException {
        StringBuilder where = new StringBuilder();
        for (int i = 0; i < old.size(); i++) {
            where.append(i == 0 ? "" : " AND ").append(MySqlTypes.quote(t.columnName(i))).append(" <=> ?");
        }
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + t.quoted() + " WHERE " + where + " LIMIT 1")) {
            for (int i = 0; i < old.size(); i++) {
                bind(ps, i + 1, t, i, old.get(i));
            }
            if (ps.executeUpdate() == 0) {
                LOG.warn("{}: no row equal to the deleted source row; nothing removed", t.quoted());
            }
        }
    }

    /**
     * Moves the destination row to its new key, keeping the columns the source did not send; a row already holding the
     * new key is a leftover (of a replay) and is removed first when the old row exists.
     */
    private void move(Connection c, Move m) throws SQLException {
        Target from = target(m.from().schema());
        Target to = target(m.to().schema());
        String oldKey = keyMatch(from);
        boolean oldExists;
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM " + from.quoted() + " WHERE " + oldKey)) {
            bindKey(ps, 1, from, m.from());
            try (var rs = ps.executeQuery()) {
                oldExists = rs.next();
            }
        }
        if (!oldExists) {
            LOG.warn("{}: the row with the old key of a key change is missing; inserting the new row without the values the"
                    + " source did not send ({})", to.quoted(), m.unchanged());
            insert(c, to, m.unchanged(), List.of(m.to()), true);
            return;
        }
        if (!m.from().key().equals(m.to().key())) {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + to.quoted() + " WHERE " + keyMatch(to))) {
                bindKey(ps, 1, to, m.to());
                ps.executeUpdate();
            }
        }
        int[] written = IntStream.range(0, to.source().size()).filter(i -> !m.unchanged().contains(to.columnName(i))).toArray();
        StringBuilder sql = new StringBuilder("UPDATE ").append(to.quoted()).append(" SET ");
        for (int j = 0; j < written.length; j++) {
            sql.append(j == 0 ? "" : ", ").append(MySqlTypes.quote(to.columnName(written[j]))).append(" = ?");
        }
        try (PreparedStatement ps = c.prepareStatement(sql.append(" WHERE ").append(oldKey).toString())) {
            int p = 1;
            for (int col : written) {
                bind(ps, p++, to, col, m.to().get(col));
            }
            bindKey(ps, p, from, m.from());
            ps.executeUpdate();
        }
    }

    /** {@code `k1` = ? AND `k2` = ?} */
    private static String keyMatch(Target t) {
        StringBuilder sql = new StringBuilder();
        for (String k : t.source().key()) {
            sql.append(sql.isEmpty() ? "" : " AND ").append(MySqlTypes.quote(k)).append(" = ?");
        }
        return sql.toString();
    }

    private static void bindKey(PreparedStatement ps, int first, Target t, Row row) throws SQLException {
        int p = first;
        for (int k : t.source().keyPositions()) {
            bind(ps, p++, t, k, row.get(k));
        }
    }

    private static void bind(PreparedStatement ps, int index, Target t, int column, Object value) throws SQLException {
        bindValue(ps, index, MySqlTypes.value(value, t.kinds().get(column), t.quoted(), t.columnName(column)));
    }

    private static void bindValue(PreparedStatement ps, int index, Object v) throws SQLException {
        if (v == null) {
            ps.setNull(index, Types.NULL);
        } else if (v instanceof String s) {
            ps.setString(index, s);
        } else if (v instanceof byte[] b) {
            ps.setBytes(index, b);
        } else if (v instanceof Integer i) {
            ps.setInt(index, i);
        } else if (v instanceof Long l) {
            ps.setLong(index, l);
        } else if (v instanceof Short s) {
            ps.setShort(index, s);
        } else if (v instanceof Double d) {
            ps.setDouble(index, d);
        } else if (v instanceof Float f) {
            // as the double it is exactly: the text of the float (4.6666665) read as a DOUBLE is another number, so a
            // FLOAT column compared with it (<=> of a keyless delete) would not match
            ps.setDouble(index, f.doubleValue());
        } else {
            ps.setString(index, v.toString());
        }
    }
}
