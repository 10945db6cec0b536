package io.pgsource.types;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source database's types (from pg_type) and the decoder of each, resolved once at load: built-ins by OID,
 * hstore and citext by name (extension OIDs vary), enums as text, domains as their base type, arrays as arrays of
 * their element type with its delimiter, everything else as its text form.
 *
 * <p>Types created after {@link #load} are unknown here and decode as text (logged once per OID): that never
 * fails a sync, but a new domain or array would then decode differently from a reloaded registry. A reader that
 * meets a type it does not {@link #knows know} (pgoutput announces new types in Relation/Type messages) should
 * {@link #load} a new registry and switch to it.
 *
 * <p>Immutable after load apart from that unknown-OID memo; safe to share between threads.
 */
public final class TypeRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(TypeRegistry.class);

    private static final String QUERY = """
            SELECT t.oid, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typdelim, t.typlen, p.proname
              FROM pg_catalog.pg_type t
              LEFT JOIN pg_catalog.pg_proc p ON p.oid = t.typinput
            """;

    private final Map<Integer, ValueDecoder> decoders;
    private final Map<Integer, Boolean> warnedUnknown = new ConcurrentHashMap<>();

    private TypeRegistry(Map<Integer, ValueDecoder> decoders) {
        this.decoders = decoders;
    }

    /** Reads the types of the connection's database. Any session settings; one query. */
    public static TypeRegistry load(Connection connection) throws SQLException {
        Map<Integer, TypeRow> rows = new HashMap<>();
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(QUERY)) {
            while (rs.next()) {
                String delim = rs.getString("typdelim");
                TypeRow row = new TypeRow((int) rs.getLong("oid"), rs.getString("typname"),
                        rs.getString("typtype").charAt(0), rs.getString("typcategory").charAt(0),
                        (int) rs.getLong("typelem"), (int) rs.getLong("typbasetype"),
                        delim == null || delim.isEmpty() ? ',' : delim.charAt(0), rs.getInt("typlen"),
                        rs.getString("proname"));
                rows.put(row.oid, row);
            }
        }
        Map<Integer, ValueDecoder> decoders = new HashMap<>(rows.size() * 2);
        for (TypeRow row : rows.values()) {
            decoders.put(row.oid, resolve(row.oid, rows, 0));
        }
        LOG.debug("loaded {} types", decoders.size());
        return new TypeRegistry(decoders);
    }

    /** The decoder for a type OID; an unknown type decodes to its text form. Never null. */
    public ValueDecoder decoder(int typeOid) {
        ValueDecoder d = Decoders.builtin(typeOid); // the common types without boxing the OID
        if (d != null) {
            return d;
        }
        d = decoders.get(typeOid);
        if (d != null) {
            return d;
        }
        if (warnedUnknown.putIfAbsent(typeOid, Boolean.TRUE) == null) {
            LOG.warn("type OID {} was not in pg_type when the types were loaded; its values stay text", typeOid);
        }
        return Decoders.TEXT;
    }

    /** Whether the type existed when this registry was loaded. */
    public boolean knows(int typeOid) {
        return decoders.containsKey(typeOid);
    }

    /** The canonical value of one PostgreSQL text value of the given type; null stays null. */
    public Object decode(int typeOid, String text) {
        return text == null ? null : decoder(typeOid).decode(text);
    }

    private static ValueDecoder resolve(int oid, Map<Integer, TypeRow> rows, int depth) {
        ValueDecoder builtin = Decoders.builtin(oid);
        if (builtin != null) {
            return builtin;
        }
        TypeRow row = rows.get(oid);
        if (row == null || depth > 32) {
            return Decoders.TEXT;
        }
        switch (row.typtype) {
            case 'd':
                return resolve(row.baseType, rows, depth + 1);
            case 'b':
                if (row.category == 'A' && row.element != 0 && row.length == -1) {
                    TypeRow element = rows.get(row.element);
                    char delimiter = element == null ? ',' : element.delimiter;
                    return new ArrayDecoder(resolve(row.element, rows, depth + 1), delimiter);
                }
                if (row.name.equals("hstore") && "hstore_in".equals(row.inputFunction)) {
                    return Decoders.HSTORE;
                }
                return Decoders.TEXT; // citext and every other base type: the text form is the value
            default:
                return Decoders.TEXT; // enums, composites, ranges, multiranges, pseudo-types
        }
    }

    private record TypeRow(int oid, String name, char typtype, char category, int element, int baseType,
                           char delimiter, int length, String inputFunction) {
    }
}
