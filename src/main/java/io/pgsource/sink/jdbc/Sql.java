package io.pgsource.sink.jdbc;

import io.pgsource.change.TableId;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
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
}
