package io.pgsource.catalog;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

/**
 * Resolves a type to the built-in type a destination can create ({@link io.pgsource.change.Column#baseTypeName()}):
 * a domain to its base type (domains over domains too), an enum to {@code text}, a composite, range or multirange
 * type defined outside {@code pg_catalog} to {@code text} (its text form, which casts back with {@code ::type} wherever
 * the type exists), arrays of those likewise; any other type to its {@code format_type} text. Shared by the catalog discovery and the WAL path (Relation messages
 * carry only type OIDs), so both name columns alike. The caller sets {@code search_path = pg_catalog} so
 * user-defined names come schema-qualified. Caches pg_type rows; not thread-safe.
 */
public final class BaseTypeNames {
    private static final int MAX_DEPTH = 32;

    private final Connection connection;
    private final Map<Long, TypeRow> types = new HashMap<>();

    public BaseTypeNames(Connection connection) {
        this.connection = connection;
    }

    /** Whether the type exists in pg_type. */
    public boolean exists(long typeOid) throws SQLException {
        return type(typeOid) != null;
    }

    /** The base type name of a type OID with its typmod. */
    public String baseTypeName(long typeOid, int typmod) throws SQLException {
        return baseTypeName(typeOid, typmod, 0);
    }

    private String baseTypeName(long typeOid, int typmod, int depth) throws SQLException {
        TypeRow t = type(typeOid);
        if (t != null && depth < MAX_DEPTH) {
            if ("d".equals(t.typtype)) {
                return baseTypeName(t.baseType, t.baseTypmod, depth + 1);
            }
            if ("e".equals(t.typtype) || t.userStructured()) {
                return "text";
            }
            if ("A".equals(t.category) && t.element != 0) {
                TypeRow e = type(t.element);
                if (e != null && ("d".equals(e.typtype) || "e".equals(e.typtype) || e.userStructured())) {
                    return baseTypeName(t.element, typmod, depth + 1) + "[]";
                }
            }
        }
        return formatType(typeOid, typmod);
    }

    /** {@code format_type(oid, typmod)}. */
    public String formatType(long typeOid, int typmod) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT format_type(?::oid, ?)")) {
            ps.setLong(1, typeOid);
            ps.setInt(2, typmod);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private TypeRow type(long oid) throws SQLException {
        TypeRow cached = types.get(oid);
        if (cached != null) {
            return cached;
        }
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT typtype, typcategory, typelem, typbasetype, typtypmod, typnamespace = 'pg_catalog'::regnamespace"
                        + " FROM pg_type WHERE oid = ?::oid")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                TypeRow t = new TypeRow(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getInt(5), rs.getBoolean(6));
                types.put(oid, t);
                return t;
            }
        }
    }

    private record TypeRow(String typtype, String category, long element, long baseType, int baseTypmod, boolean builtIn) {
        /** A composite, range or multirange type of the source's own (a table's row type too). */
        boolean userStructured() {
            return !builtIn && ("c".equals(typtype) || "r".equals(typtype) || "m".equals(typtype));
        }
    }
}
