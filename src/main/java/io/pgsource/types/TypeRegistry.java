package io.pgsource.types;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * The source's types (from pg_type), and the decoder for each. STUB: the types work replaces this.
 */
public final class TypeRegistry {

    public static TypeRegistry load(Connection connection) throws SQLException {
        return new TypeRegistry();
    }

    /** The decoder for a type OID; unknown types decode to their text form. */
    public ValueDecoder decoder(int typeOid) {
        return text -> text;
    }
}
