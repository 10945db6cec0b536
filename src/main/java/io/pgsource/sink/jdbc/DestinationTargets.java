package io.pgsource.sink.jdbc;

import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DatabaseIdentity;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.Settings;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a table destination will write, checked at start before anything is copied: every captured table gets a
 * destination table of its own ({@code destination.schema}, {@code destination.table_name}), and none of them is a table
 * pgsource reads. A destination in the source's own database (the same server and database, however each was addressed)
 * may only write into a schema pgsource does not capture: writing into a captured table would feed pgsource its own
 * writes (and a copy into the table it reads waits forever on its own lock).
 */
final class DestinationTargets {
    private static final Logger LOG = LoggerFactory.getLogger(DestinationTargets.class);

    private DestinationTargets() {
    }

    /**
     * @param captured the source tables pgsource captures
     * @throws ConfigurationException naming the tables and the fix
     */
    static void check(Settings settings, Collection<TableId> captured, PgSourceConnections source, PostgresSink sink) throws SQLException {
        Map<TableId, TableId> targets = settings.destination().tables(captured);
        DatabaseIdentity destination;
        try {
            destination = sink.databaseIdentity();
        } catch (SQLException e) {
            // unreachable now: the destination reports that itself when it connects (and pgsource retries)
            LOG.debug("cannot tell whether the destination is the source database: {}", e.getMessage());
            return;
        }
        DatabaseIdentity sourceDb;
        try (Connection c = source.open()) {
            sourceDb = DatabaseIdentity.of(c);
        }
        if (!destination.equals(sourceDb)) {
            return;
        }
        String same = "destination.url points at the source database " + TableId.quoteIdent(sourceDb.database())
                + " itself (the same server and database as source.host, source.port and source.database), and ";
        String fix = ": pgsource would write into the tables it reads. Point destination.url at another database, or set"
                + " destination.schema to a schema pgsource does not capture";
        Set<String> capturedSchemas = new TreeSet<>(settings.source().schemas());
        String schemas = " (source.schema is " + String.join(", ", capturedSchemas.stream().map(TableId::quoteIdent).toList()) + ")";
        for (Map.Entry<TableId, TableId> e : targets.entrySet()) {
            if (captured.contains(e.getValue())) {
                throw new ConfigurationException(same + "the destination table of " + e.getKey().quoted() + " is the captured table "
                        + e.getValue().quoted() + fix + schemas);
            }
            if (settings.source().tables().isEmpty() && capturedSchemas.contains(e.getValue().schema())) {
                throw new ConfigurationException(same + "the destination table of " + e.getKey().quoted() + " would be "
                        + e.getValue().quoted() + ", in a schema pgsource captures (source.schema), so the next start would capture"
                        + " the copies too" + fix + schemas);
            }
        }
        LOG.info("The destination is the source database {} itself; the copies go into tables pgsource does not capture",
                TableId.quoteIdent(sourceDb.database()));
    }
}
