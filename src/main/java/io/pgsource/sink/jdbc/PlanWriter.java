package io.pgsource.sink.jdbc;

import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.sink.plan.WritePlan;
import io.pgsource.sink.plan.WritePlan.Append;
import io.pgsource.sink.plan.WritePlan.Deletes;
import io.pgsource.sink.plan.WritePlan.Move;
import io.pgsource.sink.plan.WritePlan.RemoveOne;
import io.pgsource.sink.plan.WritePlan.Segment;
import io.pgsource.sink.plan.WritePlan.Step;
import io.pgsource.sink.plan.WritePlan.Truncate;
import io.pgsource.sink.plan.WritePlan.Upserts;
import io.pgsource.types.PgText;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the steps of a {@link WritePlan} inside the open transaction (no commit here).
 *
 * <p>With soft delete ({@link TargetTable#softDelete()}), deleting a row sets its {@value TargetTable#DELETED_AT} to
 * the source commit time (the destination's transaction time for positions without one) instead of removing it; a
 * row already marked keeps its first time, so a replay changes nothing. Upserts clear the mark. TRUNCATE still
 * empties the table.
 */
final class PlanWriter {
    private static final Logger LOG = LoggerFactory.getLogger(PlanWriter.class);
    /** Keys per IN-list DELETE when the unnest form cannot be used (array-typed key columns). */
    private static final int DELETE_IN_LIST_ROWS = 1000;

    /** After an insert met an existing key, this many plans upsert into that table before inserts are tried again. */
    static final int UPSERTS_AFTER_CONFLICT = 100;

    private final TargetTables tables;
    private final RowWriter rows;
    /** Tables where a plain insert met an existing key: plans left before inserting plainly there again. */
    private final Map<TableId, Integer> upsertOnly = new HashMap<>();
    /** Every insert as an upsert: while a refused change is searched, a key conflict must not look like a refusal. */
    private boolean upsertsOnly;

    PlanWriter(TargetTables tables, RowWriter rows) {
        this.tables = tables;
        this.rows = rows;
    }

    /** Turns plain inserts off (on) for every table. */
    void upsertsOnly(boolean on) {
        upsertsOnly = on;
    }

    void apply(Connection c, WritePlan plan) throws SQLException {
        upsertOnly.replaceAll((table, left) -> left - 1);
        upsertOnly.values().removeIf(left -> left <= 0);
        ensureTables(c, plan);
        String deletedAt = plan.position() != null && plan.position().commitTime() != null
                ? plan.position().commitTime().toString() : null;
        for (WritePlan.TablePlan table : plan.tables()) {
            for (Step step : table.steps()) {
                apply(c, step, deletedAt);
            }
        }
    }

    /** Creates or checks the destination tables the plan writes to (inside the open transaction). */
    void ensureTables(Connection c, WritePlan plan) throws SQLException {
        List<TableSchema> schemas = plan.schemas();
        Map<TableId, Integer> shapes = new HashMap<>();
        schemas.forEach(schema -> shapes.merge(schema.id(), 1, Integer::sum));
        for (TableSchema schema : schemas) {
            tables.ensure(c, schema, shapes.get(schema.id()) == 1);
        }
    }

    /** @param deletedAt the soft-delete time (ISO-8601 text), or null for the destination's transaction time */
    private void apply(Connection c, Step step, String deletedAt) throws SQLException {
        if (step instanceof Truncate t) {
            TargetTable target = tables.target(t.schema());
            if (!tables.createdEmpty(target.id())) {
                try (Statement s = c.createStatement()) {
                    s.execute("TRUNCATE " + target.quoted());
                }
            }
            upsertOnly.remove(target.id());
            return;
        }
        tables.written();
        if (step instanceof Segment seg) {
            for (Deletes d : seg.deletes()) {
                delete(c, tables.target(d.schema()), d.rows(), deletedAt);
            }
            for (Upserts u : seg.upserts()) {
                if (u.rows().isEmpty()) {
                    // a table's empty page (a copy's last, when its rows filled the pages before): the table exists now, and
                    // a keyless one has no key to upsert on
                    continue;
                }
                TargetTable target = tables.target(u.schema());
                if (u.inserts() && !upsertsOnly && !upsertOnly.containsKey(target.id())) {
                    insert(c, target, u.rows());
                } else {
                    rows.upsert(c, target, u.unchanged(), u.rows());
                }
            }
        } else if (step instanceof Append a) {
            rows.append(c, tables.target(a.schema()), a.rows());
        } else if (step instanceof RemoveOne r) {
            removeOne(c, tables.target(r.row().schema()), r.row(), deletedAt);
        } else if (step instanceof Move m) {
            move(c, m);
        }
    }

    /**
     * Rows new at the source, COPYed straight into the table: no staging, no conflict check. When a key exists after
     * all (a replay, a key deleted and inserted again, a second FULL_TABLE run), the whole transaction must be redone with
     * upserts, which give the same result as inserts wherever no key exists: {@link InsertConflict} says so.
     */
    private void insert(Connection c, TargetTable t, List<Row> newRows) throws SQLException {
        try {
            rows.append(c, t, newRows);
        } catch (SQLException e) {
            if (UNIQUE_VIOLATION.equals(e.getSQLState())) {
                upsertOnly.put(t.id(), UPSERTS_AFTER_CONFLICT);
                throw new InsertConflict(t, e);
            }
            throw e;
        }
    }

    private static final String UNIQUE_VIOLATION = "23505";

    /** A plain insert met an existing key: roll back and apply the plan again (it upserts into that table now). */
    static final class InsertConflict extends SQLException {
        InsertConflict(TargetTable t, SQLException cause) {
            super(t.quoted() + " already holds a key of rows inserted plainly: " + cause.getMessage(), cause.getSQLState(), cause);
        }
    }

    /**
     * {@code DELETE ... WHERE (k1, k2) IN (SELECT * FROM unnest(?::t1[], ?::t2[]))}: one statement for any count. With
     * soft delete the same rows are marked instead: {@code UPDATE ... SET _deleted_at = ...}.
     */
    private static void delete(Connection c, TargetTable t, List<Row> keyRows, String deletedAt) throws SQLException {
        int[] key = t.source().keyPositions();
        boolean arrayKey = false;
        for (int k : key) {
            arrayKey |= t.type(k).endsWith("]");
        }
        if (arrayKey) {
            deleteInList(c, t, keyRows, deletedAt);
            return;
        }
        StringBuilder sql = new StringBuilder(removeHead(t)).append(" WHERE (")
                .append(Sql.columns(t.source().key())).append(") IN (SELECT * FROM unnest(");
        for (int j = 0; j < key.length; j++) {
            sql.append(j == 0 ? "?::" : ", ?::").append(t.type(key[j])).append("[]");
        }
        sql.append("))").append(removeTail(t));
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int p = bindDeletedAt(ps, t, deletedAt);
            for (int j = 0; j < key.length; j++) {
                List<String> values = new ArrayList<>(keyRows.size());
                for (Row r : keyRows) {
                    values.add(PgText.format(r.get(key[j])));
                }
                Sql.bindText(ps, p++, PgText.format(values));
            }
            ps.executeUpdate();
        }
    }

    private static void deleteInList(Connection c, TargetTable t, List<Row> keyRows, String deletedAt) throws SQLException {
        int[] key = t.source().keyPositions();
        StringBuilder one = new StringBuilder("(");
        for (int j = 0; j < key.length; j++) {
            one.append(j == 0 ? "?::" : ", ?::").append(t.type(key[j]));
        }
        one.append(')');
        int per = Math.min(DELETE_IN_LIST_ROWS, (Sql.MAX_PARAMETERS - 1) / key.length);
        for (int from = 0; from < keyRows.size(); from += per) {
            List<Row> chunk = keyRows.subList(from, Math.min(keyRows.size(), from + per));
            StringBuilder sql = new StringBuilder(removeHead(t)).append(" WHERE (")
                    .append(Sql.columns(t.source().key())).append(") IN (");
            for (int i = 0; i < chunk.size(); i++) {
                sql.append(i == 0 ? "" : ", ").append(one);
            }
            try (PreparedStatement ps = c.prepareStatement(sql.append(')').append(removeTail(t)).toString())) {
                int p = bindDeletedAt(ps, t, deletedAt);
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
     * Removes one row equal to the old row of a keyless table (marks it, with soft delete). Values are compared by
     * their text form, which also works for types without an equality operator (json, point, xml).
     */
    private static void removeOne(Connection c, TargetTable t, Row old, String deletedAt) throws SQLException {
        StringBuilder where = new StringBuilder();
        for (int i = 0; i < old.size(); i++) {
            where.append(i == 0 ? "" : " AND ").append(TableId.quoteIdent(t.columnName(i)))
                    .append("::text IS NOT DISTINCT FROM (?::").append(t.type(i)).append(")::text");
        }
        String sql = removeHead(t) + " WHERE ctid = (SELECT ctid FROM " + t.quoted() + " WHERE " + where + removeTail(t) + " LIMIT 1)";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            int p = bindDeletedAt(ps, t, deletedAt);
            for (int i = 0; i < old.size(); i++) {
                Sql.bindText(ps, p++, PgText.format(old.get(i)));
            }
            if (ps.executeUpdate() == 0) {
                LOG.warn("{}: no row equal to the deleted source row; nothing removed", t.quoted());
            }
        }
    }

    /** {@code DELETE FROM t}, or with soft delete {@code UPDATE t SET _deleted_at = ?} (its parameter comes first). */
    private static String removeHead(TargetTable t) {
        return t.softDelete()
                ? "UPDATE " + t.quoted() + " SET " + TableId.quoteIdent(TargetTable.DELETED_AT) + " = coalesce(?::timestamptz, now())"
                : "DELETE FROM " + t.quoted();
    }

    /** With soft delete, rows already marked keep their first time. */
    private static String removeTail(TargetTable t) {
        return t.softDelete() ? " AND " + TableId.quoteIdent(TargetTable.DELETED_AT) + " IS NULL" : "";
    }

    /** Binds the soft-delete time if the statement has one; returns the next parameter index. */
    private static int bindDeletedAt(PreparedStatement ps, TargetTable t, String deletedAt) throws SQLException {
        if (!t.softDelete()) {
            return 1;
        }
        Sql.bindText(ps, 1, deletedAt);
        return 2;
    }

    /**
     * Moves the destination row to its new key, keeping the columns the source did not send. A row already holding
     * the new key is removed first when the old one exists: at this point of the source's history the new key was
     * free, so that row is a leftover (a soft-deleted row whose key the source reused, or a replayed transaction's).
     */
    private void move(Connection c, Move m) throws SQLException {
        TargetTable from = tables.target(m.from().schema());
        TargetTable to = tables.target(m.to().schema());
        int[] oldKey = from.source().keyPositions();
        int[] newKey = to.source().keyPositions();
        String oldKeyMatch = keyMatch(from);
        String newKeyMatch = keyMatch(to);
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + to.quoted() + " WHERE " + newKeyMatch
                + " AND NOT " + oldKeyMatch + " AND EXISTS (SELECT 1 FROM " + from.quoted() + " WHERE " + oldKeyMatch + ")")) {
            int p = bindKey(ps, 1, m.to(), newKey);
            p = bindKey(ps, p, m.from(), oldKey);
            bindKey(ps, p, m.from(), oldKey);
            ps.executeUpdate();
        }
        int[] written = RowWriter.writtenColumns(to, m.unchanged());
        StringBuilder sql = new StringBuilder("UPDATE ").append(to.quoted()).append(" SET ");
        for (int j = 0; j < written.length; j++) {
            sql.append(j == 0 ? "" : ", ").append(TableId.quoteIdent(to.columnName(written[j])))
                    .append(" = ?::").append(to.type(written[j]));
        }
        if (to.softDelete()) {
            sql.append(", ").append(TableId.quoteIdent(TargetTable.DELETED_AT)).append(" = NULL");
        }
        sql.append(" WHERE ").append(oldKeyMatch);
        int updated;
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int p = 1;
            for (int col : written) {
                Sql.bindText(ps, p++, PgText.format(m.to().get(col)));
            }
            bindKey(ps, p, m.from(), oldKey);
            updated = ps.executeUpdate();
        }
        if (updated == 0) {
            LOG.warn("{}: the row with the old key of a key change is missing; inserting the new row without the "
                    + "values the source did not send ({})", to.quoted(), m.unchanged());
            rows.upsert(c, to, m.unchanged(), List.of(m.to()));
        }
    }

    /** {@code ("k1", "k2") = (?::t1, ?::t2)} */
    private static String keyMatch(TargetTable t) {
        int[] key = t.source().keyPositions();
        StringBuilder sql = new StringBuilder("(").append(Sql.columns(t.source().key())).append(") = (");
        for (int j = 0; j < key.length; j++) {
            sql.append(j == 0 ? "?::" : ", ?::").append(t.type(key[j]));
        }
        return sql.append(')').toString();
    }

    private static int bindKey(PreparedStatement ps, int first, Row row, int[] key) throws SQLException {
        int p = first;
        for (int k : key) {
            Sql.bindText(ps, p++, PgText.format(row.get(k)));
        }
        return p;
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
