package io.pgsource.pgoutput.protocol;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;

/**
 * {@link TypeNames} from the catalog ({@code format_type} and {@code pg_type}) through an ordinary JDBC connection
 * to the source database, cached per (OID, typmod): a few round trips per type the first time it is seen, none after.
 * Names are printed with {@code search_path = pg_catalog}, as the catalog discovery prints them, so both paths agree.
 * Not thread-safe; the connection is the caller's and stays open.
 */
public final class CatalogTypeNames implements TypeNames {
    private static final int MAX_DEPTH = 32;

    private final Connection connection;
    private final Map<Long, Names> cache = new HashMap<>();

    public CatalogTypeNames(Connection connection) {
        this.connection = connection;
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
        boolean autoCommit = connection.getAutoCommit();
        Savepoint savepoint = null;
        if (autoCommit) {
            connection.setAutoCommit(false);
        } else {
            savepoint = connection.setSavepoint();
        }
        try {
            try (Statement s = connection.createStatement()) {
                s.execute("SET LOCAL search_path = pg_catalog");
            }
            TypeRow type = type(oid);
            if (type == null) {
                return null;
            }
            return new Names(formatType(oid, typmod), baseTypeName(type, oid, typmod, 0));
        } finally {
            // read-only work: rolling back also undoes SET LOCAL
            if (savepoint != null) {
                connection.rollback(savepoint);
            } else {
                connection.rollback();
                connection.setAutoCommit(autoCommit);
            }
        }
    }

    /** A domain's base type, {@code text} for an enum, arrays of those likewise; domains over domains resolved. */
    private String baseTypeName(TypeRow t, long oid, int typmod, int depth) throws SQLException {
        if (depth < MAX_DEPTH) {
            if (t.typtype.equals("d")) {
                TypeRow base = type(t.baseType);
                if (base != null) {
                    return baseTypeName(base, t.baseType, t.baseTypmod, depth + 1);
                }
            } else if (t.typtype.equals("e")) {
                return "text";
            } else if (t.category.equals("A") && t.element != 0) {
                TypeRow element = type(t.element);
                if (element != null && (element.typtype.equals("d") || element.typtype.equals("e"))) {
                    return baseTypeName(element, t.element, typmod, depth + 1) + "[]";
                }
            }
        }
        return formatType(oid, typmod);
    }

    private String formatType(long oid, int typmod) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT format_type(?::oid, ?)")) {
            ps.setLong(1, oid);
            ps.setInt(2, typmod);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private TypeRow type(long oid) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT typtype, typcategory, typelem, typbasetype, typtypmod FROM pg_type WHERE oid = ?::oid")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                return new TypeRow(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getInt(5));
            }
        }
    }

    private record TypeRow(String typtype, String category, long element, long baseType, int baseTypmod) {
    }
}
