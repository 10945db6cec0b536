package io.pgsource.app;

import io.pgsource.catalog.CatalogReader;
import io.pgsource.catalog.TableInfo;
import io.pgsource.change.TableId;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.types.TypeRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Start-up: the source's first connection (pgjdbc's classes, the TCP connection and authentication, the type catalog
 * and the server's version) and the discovery of the selected tables, made on a thread of its own while Camel Main
 * boots, instead of after it in {@link PgSourceConfiguration}. {@code java -jar} starts it; {@link PgSourceConfiguration}
 * takes it when it was made for the same server, database and credentials (and the discovery when for the same schemas
 * and tables), else (Camel JBang, a test's own Main) connects and discovers itself as before.
 */
final class SourcePrefetch {
    /**
     * What the first connection found.
     *
     * @param discovery the selected tables, or null when their discovery failed here (the configuration class discovers
     *                  them again, and reports what is wrong) or was not asked for
     */
    record Source(TypeRegistry types, int serverMajor, Discovery discovery) {
        /** The tables discovered for these schemas and tables, or null when discovered for others or not at all. */
        List<TableInfo> tables(List<String> schemas, List<TableId> tables) {
            return discovery != null && discovery.schemas().equals(schemas) && discovery.include().equals(tables)
                    ? discovery.found() : null;
        }
    }

    /** The tables {@link CatalogReader#discover} found for these schemas and tables. */
    record Discovery(List<String> schemas, List<TableId> include, List<TableInfo> found) {
    }

    private static final AtomicReference<SourcePrefetch> STARTED = new AtomicReference<>();

    private final String url;
    private final Properties properties;
    private final CompletableFuture<Source> result = new CompletableFuture<>();

    private SourcePrefetch(PgSourceConnections connections) {
        this.url = connections.jdbcUrl();
        this.properties = connections.jdbcProperties();
    }

    /**
     * Starts connecting on a daemon thread, and discovering these schemas' tables (all of them when {@code tables} is
     * empty); its result waits for {@link #take}.
     */
    static void start(PgSourceConnections connections, List<String> schemas, List<TableId> tables) {
        SourcePrefetch prefetch = new SourcePrefetch(connections);
        Thread thread = new Thread(() -> {
            try {
                prefetch.result.complete(load(connections, schemas, tables));
            } catch (Throwable e) {
                prefetch.result.completeExceptionally(e);
            }
        }, "pgsource-source-prefetch");
        thread.setDaemon(true);
        STARTED.set(prefetch);
        thread.start();
    }

    /** Connects once: the types, the server's major version and, when schemas are given, the discovery. */
    static Source load(PgSourceConnections connections, List<String> schemas, List<TableId> tables) throws SQLException {
        try (Connection c = connections.open()) {
            Source source = new Source(TypeRegistry.load(c), c.getMetaData().getDatabaseMajorVersion(), null);
            if (schemas == null) {
                return source;
            }
            try {
                return new Source(source.types(), source.serverMajor(),
                        new Discovery(List.copyOf(schemas), List.copyOf(tables), CatalogReader.discover(c, schemas, tables)));
            } catch (SQLException | RuntimeException e) {
                // a missing schema or table, a permission: the configuration class discovers again and says what is wrong
                return source;
            }
        }
    }

    /** The prefetched result when one was started for these connections (once), else a connection made now. */
    static Source take(PgSourceConnections connections) throws SQLException {
        SourcePrefetch prefetch = STARTED.getAndSet(null);
        if (prefetch == null || !prefetch.url.equals(connections.jdbcUrl()) || !prefetch.properties.equals(connections.jdbcProperties())) {
            return load(connections, null, null);
        }
        try {
            return prefetch.result.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted while connecting to the source", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SQLException sql) {
                throw sql;
            }
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new SQLException(e.getCause());
        }
    }
}
