package io.pgsource.pgoutput.protocol;

import io.pgsource.catalog.BaseTypeNames;
import io.pgsource.catalog.CatalogSession;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link TypeNames} from the catalog ({@code format_type} and {@code pg_type}) through an ordinary JDBC connection
 * to the source database, cached per (OID, typmod): a few round trips per type the first time it is seen, none after.
 * Names are printed with {@code search_path = pg_catalog}, as the catalog discovery prints them, so both paths agree.
 * Not thread-safe; the connection is the caller's and stays open.
 */
public final class CatalogTypeNames implements TypeNames {
    /** The most distinct column types {@link #prefetch} reads; others are looked up when a Relation message first has them. */
    static final int PREFETCH_LIMIT = 200;

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

    /**
     * Reads the names of the column types of the publications' tables (at most {@link #PREFETCH_LIMIT} distinct ones)
     * into the cache, in one catalog session. Called when a stream starts: the first transaction of each table then
     * waits for none of these look-ups (two or three round trips per type, before its first change could be decoded).
     * A name is the same whenever it is read, so reading it early changes nothing but when.
     *
     * @return how many types were read
     */
    public int prefetch(List<String> publications) throws SQLException {
        if (publications.isEmpty()) {
            return 0;
        }
        return CatalogSession.run(connection, () -> {
            List<long[]> types = new ArrayList<>();
            try (PreparedStatement ps = connection.prepareStatement("""
                    SELECT DISTINCT a.atttypid, a.atttypmod FROM pg_publication_tables p
                    JOIN pg_namespace n ON n.nspname = p.schemaname
                    JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = p.tablename
                    JOIN pg_attribute a ON a.attrelid = r.oid
                    WHERE p.pubname = ANY (?) AND a.attnum > 0 AND NOT a.attisdropped
                    LIMIT ?""")) {
                ps.setArray(1, connection.createArrayOf("text", publications.toArray()));
                ps.setInt(2, PREFETCH_LIMIT);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        types.add(new long[] {rs.getLong(1), rs.getInt(2)});
                    }
                }
            }
            int read = 0;
            for (long[] t : types) {
                long key = (t[0] << 32) | (t[1] & 0xffffffffL);
                if (!cache.containsKey(key)) {
                    Names names = read(t[0], (int) t[1]);
                    if (names != null) {
                        cache.put(key, names);
                        read++;
                    }
                }
            }
            return read;
        });
    }

    private Names lookUp(long oid, int typmod) throws SQLException {
        return CatalogSession.run(connection, () -> read(oid, typmod));
    }

    /** Inside a catalog session. */
    private Names read(long oid, int typmod) throws SQLException {
        return baseTypes.exists(oid) ? new Names(baseTypes.formatType(oid, typmod), baseTypes.baseTypeName(oid, typmod)) : null;
    }
}
