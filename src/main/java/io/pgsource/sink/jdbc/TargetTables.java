package io.pgsource.sink.jdbc;

import io.pgsource.change.Column;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates and evolves destination tables from the source's table schemas: same columns (user-defined enums and
 * domains become their built-in base types), same primary key, in the source schema's name or in
 * {@code destination.schema}; with soft delete, plus a {@value TargetTable#DELETED_AT} column. What was created or
 * checked is remembered per table shape (once committed), so a new {@link TableSchema} (the source changed the
 * table) is checked again, before any of its rows is written:
 * <ul>
 * <li>columns the source gained are added;</li>
 * <li>a column whose source type changed is widened when {@link ColumnTypes} knows the widening is lossless
 * ({@code ALTER COLUMN ... TYPE}), left alone when it already holds the new type, and otherwise stops the batch with a
 * {@link SchemaChangeException} naming the table, column, both types and the fix: values are never converted
 * silently.</li>
 * </ul>
 * Columns the source dropped stay at the destination (and receive NULL in new rows).
 */
final class TargetTables {
    private static final Logger LOG = LoggerFactory.getLogger(TargetTables.class);
    /** Extension types a destination may lack: {@code citext}, {@code hstore}, possibly schema-qualified. */
    private static final Pattern EXTENSION_TYPE = Pattern.compile("(?:.*\\.)?\"?(citext|hstore)\"?((?:\\[\\])*)");

    private final String schemaOverride;
    private final boolean softDelete;
    /** Schema instances seen; bounded, in case a source makes a new instance per batch. */
    private final Map<TableSchema, TargetTable> targets = new IdentityHashMap<>();
    /** One target per table shape (destination table, columns, key), so equal shapes share checks and staging. */
    private final Map<List<Object>, TargetTable> byShape = new HashMap<>();
    private final CommitCache<TargetTable> checked = new CommitCache<>();

    TargetTables(String schemaOverride, boolean softDelete) {
        this.schemaOverride = schemaOverride == null || schemaOverride.isBlank() ? null : schemaOverride;
        this.softDelete = softDelete;
    }

    /** Where rows of this schema go (no database access). */
    TargetTable target(TableSchema schema) {
        TargetTable known = targets.get(schema);
        if (known != null) {
            return known;
        }
        TableId id = new TableId(schemaOverride != null ? schemaOverride : schema.id().schema(), schema.id().name());
        TargetTable t = byShape.computeIfAbsent(List.of(id, schema.columns(), schema.key()), shape -> {
            List<String> types = new ArrayList<>(schema.size());
            for (Column c : schema.columns()) {
                types.add(destinationType(c));
            }
            if (softDelete && schema.indexOf(TargetTable.DELETED_AT) >= 0) {
                throw new SchemaChangeException(schema.id().quoted() + " has a column " + TargetTable.DELETED_AT
                        + ", the column destination.soft_delete=true marks deleted rows with: rename the source column,"
                        + " or turn soft delete off");
            }
            return new TargetTable(id, schema, List.copyOf(types), softDelete);
        });
        if (targets.size() >= 10_000) {
            targets.clear();
        }
        targets.put(schema, t);
        return t;
    }

    /** Makes sure the destination table exists with every column of this schema, inside the open transaction. */
    TargetTable ensure(Connection c, TableSchema schema) throws SQLException {
        TargetTable t = target(schema);
        if (checked.contains(t)) {
            return t;
        }
        Map<String, String> existing = existingColumns(c, t.id());
        try (Statement s = c.createStatement()) {
            for (String ext : extensions(t)) {
                s.execute("CREATE EXTENSION IF NOT EXISTS " + ext);
            }
            if (existing == null) {
                s.execute("CREATE SCHEMA IF NOT EXISTS " + TableId.quoteIdent(t.id().schema()));
                s.execute(createTable(t));
                LOG.info("created destination table {}", t.quoted());
            } else {
                for (int i = 0; i < schema.size(); i++) {
                    String column = t.columnName(i);
                    String current = existing.get(column);
                    if (current == null) {
                        s.execute("ALTER TABLE " + t.quoted() + " ADD COLUMN " + TableId.quoteIdent(column) + " " + t.type(i));
                        LOG.info("added column {} {} to destination table {}", column, t.type(i), t.quoted());
                    } else if (!current.equals(t.type(i))) {
                        retype(s, t, column, current, t.type(i));
                    }
                }
                if (t.softDelete() && !existing.containsKey(TargetTable.DELETED_AT)) {
                    s.execute("ALTER TABLE " + t.quoted() + " ADD COLUMN " + TableId.quoteIdent(TargetTable.DELETED_AT) + " timestamptz");
                    LOG.info("added column {} (soft delete) to destination table {}", TargetTable.DELETED_AT, t.quoted());
                }
            }
        }
        checked.add(t);
        return t;
    }

    /** A source column's type changed: widen the destination column, accept it, or stop with the fix. */
    private static void retype(Statement s, TargetTable t, String column, String current, String wanted) throws SQLException {
        switch (ColumnTypes.fit(current, wanted)) {
            case HOLDS -> LOG.debug("{}.{} is {}, which holds the source's {}", t.quoted(), column, current, wanted);
            case WIDEN -> {
                s.execute("ALTER TABLE " + t.quoted() + " ALTER COLUMN " + TableId.quoteIdent(column) + " TYPE " + wanted);
                LOG.info("widened column {} of destination table {} from {} to {}, as the source did", column, t.quoted(), current, wanted);
            }
            case INCOMPATIBLE -> throw new SchemaChangeException("the source changed the type of column "
                    + TableId.quoteIdent(column) + " of " + t.source().id().quoted() + " from " + current + " to " + wanted
                    + ", and the destination column " + t.quoted() + "." + TableId.quoteIdent(column) + " (" + current
                    + ") cannot hold " + wanted + " values; pgsource does not convert them silently. Fix: change the"
                    + " destination column yourself (ALTER TABLE " + t.quoted() + " ALTER COLUMN " + TableId.quoteIdent(column)
                    + " TYPE " + wanted + " USING ...), or drop the destination table and copy it again (sync.resnapshot)");
        }
    }

    void commit() {
        checked.commit();
    }

    void forget() {
        checked.clear();
    }

    private static String createTable(TargetTable t) {
        StringBuilder sql = new StringBuilder("CREATE TABLE IF NOT EXISTS ").append(t.quoted()).append(" (");
        for (int i = 0; i < t.source().size(); i++) {
            sql.append(i == 0 ? "" : ", ").append(TableId.quoteIdent(t.columnName(i))).append(' ').append(t.type(i));
        }
        if (t.softDelete()) {
            sql.append(", ").append(TableId.quoteIdent(TargetTable.DELETED_AT)).append(" timestamptz");
        }
        if (t.source().hasKey()) {
            sql.append(", PRIMARY KEY (").append(Sql.columns(t.source().key())).append(')');
        }
        return sql.append(')').toString();
    }

    /** The table's columns and their types ({@code format_type}), or null if it does not exist. */
    private static Map<String, String> existingColumns(Connection c, TableId table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)"
                + " FROM pg_catalog.pg_class r"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
                + " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped"
                + " WHERE n.nspname = ? AND r.relname = ? AND r.relkind IN ('r', 'p')")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.name());
            try (ResultSet rs = ps.executeQuery()) {
                Map<String, String> columns = null;
                while (rs.next()) {
                    if (columns == null) {
                        columns = new HashMap<>();
                    }
                    if (rs.getString(1) != null) {
                        columns.put(rs.getString(1), rs.getString(2));
                    }
                }
                return columns;
            }
        }
    }

    private static Set<String> extensions(TargetTable t) {
        Set<String> out = new LinkedHashSet<>();
        for (String type : t.types()) {
            if (type.equals("citext") || type.startsWith("citext[")) {
                out.add("citext");
            } else if (type.equals("hstore") || type.startsWith("hstore[")) {
                out.add("hstore");
            }
        }
        return out;
    }

    /**
     * The destination type of a column: the built-in base type; extension types lose a schema qualification, as the
     * extension may live elsewhere at the destination.
     */
    static String destinationType(Column c) {
        String t = c.baseTypeName() != null && !c.baseTypeName().isBlank() ? c.baseTypeName() : c.typeName();
        Matcher m = EXTENSION_TYPE.matcher(t.strip());
        if (m.matches()) {
            return m.group(1).toLowerCase(Locale.ROOT) + m.group(2);
        }
        return t;
    }
}
