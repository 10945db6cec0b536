package io.pgsource.pgoutput.protocol;

import io.pgsource.catalog.CatalogSession;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link PrimaryKeys} from {@code pg_index} through an ordinary JDBC connection to the source database. Asked once
 * per Relation message of a REPLICA IDENTITY FULL table (the cache keeps the schema made from it). Not thread-safe;
 * the connection is the caller's and stays open.
 */
public final class CatalogPrimaryKeys implements PrimaryKeys {
    private final Connection connection;

    public CatalogPrimaryKeys(Connection connection) {
        this.connection = connection;
    }

    @Override
    public List<String> primaryKey(int relationOid) {
        try {
            return CatalogSession.run(connection, () -> {
                try (PreparedStatement ps = connection.prepareStatement("""
                        SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                        WHERE i.indrelid = ?::oid AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)""")) {
                    ps.setLong(1, Integer.toUnsignedLong(relationOid));
                    List<String> key = new ArrayList<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            key.add(rs.getString(1));
                        }
                    }
                    return key;
                }
            });
        } catch (SQLException e) {
            throw new PgOutputException("cannot read the primary key of relation OID " + Integer.toUnsignedString(relationOid)
                    + " from pg_index", e);
        }
    }
}
