package io.pgsource.sink.jdbc;

import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.route.WritePlan;
import io.pgsource.route.WritePlan.Append;
import io.pgsource.route.WritePlan.Deletes;
import io.pgsource.route.WritePlan.Move;
import io.pgsource.route.WritePlan.RemoveOne;
import io.pgsource.route.WritePlan.Segment;
import io.pgsource.route.WritePlan.Step;
import io.pgsource.route.WritePlan.Truncate;
import io.pgsource.route.WritePlan.Upserts;
import io.pgsource.types.PgText;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Applies the steps of a {@link WritePlan} inside the open transaction (no commit here). */
final class PlanWriter {
    private static final Logger LOG = LoggerFactory.getLogger(PlanWriter.class);
    /** Keys per IN-list DELETE when the unnest form cannot be used (array-typed key columns). */
    private static final int DELETE_IN_LIST_ROWS = 1000;

    private final TargetTables tables;
    private final RowWriter rows;

    PlanWriter(TargetTables tables, RowWriter rows) {
        this.tables = tables;
        this.rows = rows;
    }

    void apply(Connection c, WritePlan plan) throws SQLException {
        for (TableSchema schema : plan.schemas()) {
            tables.ensure(c, schema);
        }
        for (WritePlan.TablePlan table : plan.tables()) {
            for (Step step : table.steps()) {
                apply(c, step);
            }
        }
    }

    private void apply(Connection c, Step step) throws SQLException {
        if (step instanceof Truncate t) {
            try (Statement s = c.createStatement()) {
                s.execute("TRUNCATE " + tables.target(t.schema()).quoted());
            }
        } else if (step instanceof Segment seg) {
            for (Deletes d : seg.deletes()) {
                delete(c, tables.target(d.schema()), d.rows());
            }
            for (Upserts u : seg.upserts()) {
                rows.upsert(c, tables.target(u.schema()), u.unchanged(), u.rows());
            }
        } else if (step instanceof Append a) {
            rows.append(c, tables.target(a.schema()), a.rows());
        } else if (step instanceof RemoveOne r) {
            removeOne(c, tables.target(r.row().schema()), r.row());
        } else if (step instanceof Move m) {
            move(c, m);
        }
    }

    /** {@code DELETE ... WHERE (k1, k2) IN (SELECT * FROM unnest(?::t1[], ?::t2[]))}: one statement for any count. */
    private static void delete(Connection c, TargetTable t, List<Row> keyRows) throws SQLException {
        int[] key = t.source().keyPositions();
        boolean arrayKey = false;
        for (int k : key) {
            arrayKey |= t.type(k).endsWith("]");
        }
        if (arrayKey) {
            deleteInList(c, t, keyRows);
            return;
        }
        StringBuilder sql = new StringBuilder("DELETE FROM ").append(t.quoted()).append(" WHERE (")
                .append(Sql.columns(t.source().key())).append(") IN (SELECT * FROM unnest(");
        for (int j = 0; j < key.length; j++) {
            sql.append(j == 0 ? "?::" : ", ?::").append(t.type(key[j])).append("[]");
        }
        sql.append("))");
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            for (int j = 0; j < key.length; j++) {
                List<String> values = new ArrayList<>(keyRows.size());
                for (Row r : keyRows) {
                    values.add(PgText.format(r.get(key[j])));
                }
                Sql.bindText(ps, j + 1, Sql.arrayLiteral(values));
            }
            ps.executeUpdate();
        }
    }

    private static void deleteInList(Connection c, TargetTable t, List<Row> keyRows) throws SQLException {
        int[] key = t.source().keyPositions();
        StringBuilder one = new StringBuilder("(");
        for (int j = 0; j < key.length; j++) {
            one.append(j == 0 ? "?::" : ", ?::").append(t.type(key[j]));
        }
        one.append(')');
        int per = Math.min(DELETE_IN_LIST_ROWS, Sql.MAX_PARAMETERS / key.length);
        for (int from = 0; from < keyRows.size(); from += per) {
            List<Row> chunk = keyRows.subList(from, Math.min(keyRows.size(), from + per));
            StringBuilder sql = new StringBuilder("DELETE FROM ").append(t.quoted()).append(" WHERE (")
                    .append(Sql.columns(t.source().key())).append(") IN (");
            for (int i = 0; i < chunk.size(); i++) {
                sql.append(i == 0 ? "" : ", ").append(one);
            }
            try (PreparedStatement ps = c.prepareStatement(sql.append(')').toString())) {
                int p = 1;
                for (Row r : chunk) {
                    for (int k : key) {
                        Sql.bindText(ps, p++, PgText.format(r.get(k)));
                    }
                }
                ps.executeUpdate();
            }
        }
    }

    /**
     * Removes one row equal to the old row of a keyless table. Values are compared by their text form, which also
     * works for types without an equality operator (json, point, xml).
     */
    private static void removeOne(Connection c, TargetTable t, Row old) throws SQLException {
        StringBuilder where = new StringBuilder();
        for (int i = 0; i < old.size(); i++) {
            where.append(i == 0 ? "" : " AND ").append(TableId.quoteIdent(t.columnName(i)))
                    .append("::text IS NOT DISTINCT FROM (?::").append(t.type(i)).append(")::text");
        }
        String sql = "DELETE FROM " + t.quoted() + " WHERE ctid = (SELECT ctid FROM " + t.quoted() + " WHERE " + where + " LIMIT 1)";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < old.size(); i++) {
                Sql.bindText(ps, i + 1, PgText.format(old.get(i)));
            }
            if (ps.executeUpdate() == 0) {
                LOG.warn("{}: no row equal to the deleted source row; nothing removed", t.quoted());
            }
        }
    }

    /** Moves the destination row to its new key, keeping the columns the source did not send. */
    private void move(Connection c, Move m) throws SQLException {
        TargetTable from = tables.target(m.from().schema());
        TargetTable to = tables.target(m.to().schema());
        int[] written = RowWriter.writtenColumns(to, m.unchanged());
        StringBuilder sql = new StringBuilder("UPDATE ").append(to.quoted()).append(" SET ");
        for (int j = 0; j < written.length; j++) {
            sql.append(j == 0 ? "" : ", ").append(TableId.quoteIdent(to.columnName(written[j])))
                    .append(" = ?::").append(to.type(written[j]));
        }
        int[] key = from.source().keyPositions();
        sql.append(" WHERE (").append(Sql.columns(from.source().key())).append(") = (");
        for (int j = 0; j < key.length; j++) {
            sql.append(j == 0 ? "?::" : ", ?::").append(from.type(key[j]));
        }
        sql.append(')');
        int updated;
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int p = 1;
            for (int col : written) {
                Sql.bindText(ps, p++, PgText.format(m.to().get(col)));
            }
            for (int k : key) {
                Sql.bindText(ps, p++, PgText.format(m.from().get(k)));
            }
            updated = ps.executeUpdate();
        }
        if (updated == 0) {
            LOG.warn("{}: the row with the old key of a key change is missing; inserting the new row without the "
                    + "values the source did not send ({})", to.quoted(), m.unchanged());
            rows.upsert(c, to, m.unchanged(), List.of(m.to()));
        }
    }

    void transactionEnded(boolean committed) {
        if (committed) {
            tables.commit();
        } else {
            // check the tables again next time: the failure may come from a table changed behind our back
            tables.forget();
        }
        rows.transactionEnded(committed);
    }
}
