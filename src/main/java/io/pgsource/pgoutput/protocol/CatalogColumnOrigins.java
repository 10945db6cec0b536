package io.pgsource.pgoutput.protocol;

import io.pgsource.catalog.ColumnCatalog;
import io.pgsource.change.SourceColumns;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * {@link ColumnOrigins} from the catalog ({@link ColumnCatalog}) through an ordinary JDBC connection to the source
 * database. Asked at every Relation message of a captured table (PostgreSQL sends one again after each change of the
 * table's definition or storage). Not thread-safe; the connection is the caller's and stays open.
 */
public final class CatalogColumnOrigins implements ColumnOrigins {
    private final Connection connection;

    public CatalogColumnOrigins(Connection connection) {
        this.connection = connection;
    }

    @Override
    public SourceColumns columns(int tableOid) {
        try {
            return ColumnCatalog.read(connection, Integer.toUnsignedLong(tableOid));
        } catch (SQLException e) {
            throw new PgOutputException("cannot read the columns of relation OID " + Integer.toUnsignedString(tableOid)
                    + " from pg_attribute", e);
        }
    }
}
