package io.pgsource.pgoutput.protocol;

import io.pgsource.catalog.CatalogSession;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link GeneratedColumns} from {@code pg_attribute} through an ordinary JDBC connection to the source database, with
 * {@code search_path = pg_catalog} as the catalog discovery reads them, so both print an expression alike. Asked once
 * per new Relation message shape (the cache keeps the schema made from it). Not thread-safe; the connection is the
 * caller's and stays open.
 */
public final class CatalogGeneratedColumns implements GeneratedColumns {
    private final Connection connection;

    public CatalogGeneratedColumns(Connection connection) {
        this.connection = connection;
    }

    @Override
    public List<Generated> generatedColumns(int relationOid) {
        try {
            return CatalogSession.run(connection, () -> {
                try (PreparedStatement ps = connection.prepareStatement("""
                        SELECT a.attname, a.atttypid, a.atttypmod, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a
                        JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                        WHERE a.attrelid = ?::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''
                        ORDER BY a.attnum""")) {
                    ps.setLong(1, Integer.toUnsignedLong(relationOid));
                    List<Generated> generated = new ArrayList<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            generated.add(new Generated(rs.getString(1), (int) rs.getLong(2), rs.getInt(3), rs.getString(4)));
                        }
                    }
                    return generated;
                }
            });
        } catch (SQLException e) {
            throw new PgOutputException("cannot read the generated columns of relation OID " + Integer.toUnsignedString(relationOid)
                    + " from pg_attribute", e);
        }
    }
}
