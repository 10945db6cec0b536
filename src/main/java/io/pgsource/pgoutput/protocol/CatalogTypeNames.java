package io.pgsource.pgoutput.protocol;

import io.pgsource.catalog.BaseTypeNames;
import io.pgsource.catalog.CatalogSession;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

/**
 * {@link TypeNames} from the catalog ({@code format_type} and {@code pg_type}) through an ordinary JDBC connection
 * to the source database, cached per (OID, typmod): a few round trips per type the first time it is seen, none after.
 * Names are printed with {@code search_path = pg_catalog}, as the catalog discovery prints them, so both paths agree.
 * Not thread-safe; the connection is the caller's and stays open.
 */
public final class CatalogTypeNames implements TypeNames {
    private final Connection connection;
    private final BaseTypeNames baseTypes;
    private final Map<Long, Names> cache = new HashMap<>();

    public CatalogTypeNames(Connection connection) {
        this.connection = connection;
        this.baseTypes = new BaseTypeNames(connection);
    }

    @Override
    public Names names(int typeOid, int typmod) {
        long key = ((long) typeOid << 32) | (typmod & 0xffffffffL);
        Names cached = cache.get(key);
        if (cached != null) {
            return cached;
        }
        Names names;
        try {
            names = lookUp(Integer.toUnsignedLong(typeOid), typmod);
        } catch (SQLException e) {
            throw new PgOutputException("cannot read the name of type OID " + Integer.toUnsignedString(typeOid) + " from pg_type", e);
        }
        if (names != null) {
            cache.put(key, names);
        }
        return names;
    }

    private Names lookUp(long oid, int typmod) throws SQLException {
        return CatalogSession.run(connection, () -> baseTypes.exists(oid)
                ? new Names(baseTypes.formatType(oid, typmod), baseTypes.baseTypeName(oid, typmod)) : null);
    }
}
