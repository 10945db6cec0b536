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
 * <p>{@link #binaryDecoder} gives the decoder of each type's binary form (pgoutput {@code binary=true}), resolved the
 * same way, making exactly the same values; the types it cannot decode exactly fail naming the type.
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
    private final Map<Integer, BinaryDecoder> binaryDecoders;
    private final Map<Integer, Boolean> warnedUnknown = new ConcurrentHashMap<>();

    private TypeRegistry(Map<Integer, ValueDecoder> decoders, Map<Integer, BinaryDecoder> binaryDecoders) {
        this.decoders = decoders;
        this.binaryDecoders = binaryDecoders;
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
        Map<Integer, BinaryDecoder> binaryDecoders = new HashMap<>(rows.size() * 2);
        for (TypeRow row : rows.values()) {
            decoders.put(row.oid, resolve(row.oid, rows, 0));
            binaryDecoders.put(row.oid, resolveBinary(row.oid, rows, 0));
        }
        LOG.debug("loaded {} types", decoders.size());
        return new TypeRegistry(decoders, binaryDecoders);
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

    /**
     * The decoder of a type's binary form (pgoutput {@code binary=true}), making exactly the value {@link #decoder}
     * makes of its text form. Never null; for a type with no exact binary decoder (geometric and text-search types,
     * ranges, composites, other extension types, types unknown here) it throws {@link UnsupportedBinaryTypeException}
     * naming the type when it is called.
     */
    public BinaryDecoder binaryDecoder(int typeOid) {
        BinaryDecoder d = BinaryDecoders.builtin(typeOid);
        if (d != null) {
            return d;
        }
        d = binaryDecoders.get(typeOid);
        return d != null ? d : BinaryDecoders.unsupported("with OID " + Integer.toUnsignedString(typeOid)
                + " (not in pg_type when the types were loaded)");
    }

    /**
     * Whether values of the type have an exact binary decoder ({@link #binaryDecoder} never fails for them), so a
     * stream may carry them in pgoutput's binary form.
     */
    public boolean decodesBinary(int typeOid) {
        return BinaryDecoders.exact(binaryDecoder(typeOid));
    }

    /** The canonical value of one binary value of the given type; null stays null. */
    public Object decodeBinary(int typeOid, byte[] binary) {
        return binary == null ? null : binaryDecoder(typeOid).decode(binary);
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

    /** As {@link #resolve}, for the binary form: what cannot be decoded exactly fails naming the type. */
    private static BinaryDecoder resolveBinary(int oid, Map<Integer, TypeRow> rows, int depth) {
        BinaryDecoder builtin = BinaryDecoders.builtin(oid);
        if (builtin != null) {
            return builtin;
        }
        TypeRow row = rows.get(oid);
        if (row == null || depth > 32) {
            return BinaryDecoders.unsupported("with OID " + Integer.toUnsignedString(oid));
        }
        switch (row.typtype) {
            case 'd':
                return resolveBinary(row.baseType, rows, depth + 1);
            case 'e':
                return BinaryDecoders.TEXT; // enum_send sends the label
            case 'b':
                if (row.category == 'A' && row.element != 0 && row.length == -1) {
                    TypeRow element = rows.get(row.element);
                    char delimiter = element == null ? ',' : element.delimiter;
                    return new BinaryArrayDecoder(resolveBinary(row.element, rows, depth + 1), delimiter);
                }
                if (row.name.equals("hstore") && "hstore_in".equals(row.inputFunction)) {
                    return BinaryDecoders.HSTORE;
                }
                if (row.name.equals("citext") && "citextin".equals(row.inputFunction)) {
                    return BinaryDecoders.TEXT; // citextsend sends the text
                }
                return BinaryDecoders.unsupported(row.name);
            default:
                return BinaryDecoders.unsupported(row.name); // composites, ranges, multiranges, pseudo-types
        }
    }

    private record TypeRow(int oid, String name, char typtype, char category, int element, int baseType,
                           char delimiter, int length, String inputFunction) {
    }
}
