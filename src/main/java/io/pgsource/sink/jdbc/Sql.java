package io.pgsource.sink.jdbc;

import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.Collection;
import java.util.List;

/** Small SQL-text helpers shared by the writers. */
final class Sql {
    /** PostgreSQL's limit on bind parameters in one statement. */
    static final int MAX_PARAMETERS = 65535;

    private Sql() {
    }

    /** {@code "a", "b"} */
    static String columns(List<String> names) {
        StringBuilder sb = new StringBuilder();
        for (String n : names) {
            sb.append(sb.isEmpty() ? "" : ", ").append(TableId.quoteIdent(n));
        }
        return sb.toString();
    }

    /** Binds a value's PostgreSQL text form untyped, so the {@code ?::type} cast next to it decides the type. */
    static void bindText(PreparedStatement ps, int index, String text) throws SQLException {
        if (text == null) {
            ps.setNull(index, Types.OTHER);
        } else {
            ps.setObject(index, text, Types.OTHER);
        }
    }

    /**
     * A catalog query's row source of many tables in one round trip: {@code unnest(?::text[], ?::text[]) AS alias(nspname,
     * relname)}, bound by {@link #bindTables} (one array of schemas, one of names: PostgreSQL has no array of pairs to bind).
     */
    static String tables(String alias) {
        return "unnest(?::text[], ?::text[]) AS " + alias + "(nspname, relname)";
    }

    /** Binds the two arrays of {@link #tables} at parameters 1 and 2. */
    static void bindTables(Connection c, PreparedStatement ps, Collection<TableId> tables) throws SQLException {
        String[] schemas = new String[tables.size()];
        String[] names = new String[tables.size()];
        int i = 0;
        for (TableId t : tables) {
            schemas[i] = t.schema();
            names[i++] = t.name();
        }
        ps.setArray(1, c.createArrayOf("text", schemas));
        ps.setArray(2, c.createArrayOf("text", names));
    }
}
