package io.pgsource.config;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Which database of which running server a connection reached, whatever host name, address, port or proxy it went
 * through: the server's start time (to the microsecond), the database's OID and its name. Two servers agree on all
 * three only by an improbable coincidence, and any role can read them (no superuser, no pg_read_all_settings).
 *
 * @param serverStart {@code pg_postmaster_start_time()}, as text
 * @param databaseOid the database's {@code pg_database.oid}
 * @param database    {@code current_database()}
 */
public record DatabaseIdentity(String serverStart, long databaseOid, String database) {

    /** The identity of the database the connection is in (a read-only query; the caller's transaction is left as it is). */
    public static DatabaseIdentity of(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_catalog.pg_postmaster_start_time()::text,"
                + " d.oid, d.datname FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()")) {
            rs.next();
            return new DatabaseIdentity(rs.getString(1), rs.getLong(2), rs.getString(3));
        }
    }
}
