package io.pgsource.app;

import io.pgsource.config.PgSourceConnections;
import io.pgsource.types.TypeRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Start-up: the source's first connection (pgjdbc's classes, the TCP connection and authentication, the type catalog
 * and the server's version) made on a thread of its own while Camel Main boots, instead of after it in
 * {@link PgSourceConfiguration}. {@code java -jar} starts it; {@link PgSourceConfiguration} takes it when it was made
 * for the same server, database and credentials, else (Camel JBang, a test's own Main) connects itself as before.
 */
final class SourcePrefetch {
    /** What the first connection found. */
    record Source(TypeRegistry types, int serverMajor) {
    }

    private static final AtomicReference<SourcePrefetch> STARTED = new AtomicReference<>();

    private final String url;
    private final Properties properties;
    private final CompletableFuture<Source> result = new CompletableFuture<>();

    private SourcePrefetch(PgSourceConnections connections) {
        this.url = connections.jdbcUrl();
        this.properties = connections.jdbcProperties();
    }

    /** Starts connecting on a daemon thread; its result waits for {@link #take}. */
    static void start(PgSourceConnections connections) {
        SourcePrefetch prefetch = new SourcePrefetch(connections);
        Thread thread = new Thread(() -> {
            try {
                prefetch.result.complete(load(connections));
            } catch (Throwable e) {
                prefetch.result.completeExceptionally(e);
            }
        }, "pgsource-source-prefetch");
        thread.setDaemon(true);
        STARTED.set(prefetch);
        thread.start();
    }

    /** Connects once: the types and the server's major version. */
    static Source load(PgSourceConnections connections) throws SQLException {
        try (Connection c = connections.open()) {
            return new Source(TypeRegistry.load(c), c.getMetaData().getDatabaseMajorVersion());
        }
    }

    /** The prefetched result when one was started for these connections (once), else a connection made now. */
    static Source take(PgSourceConnections connections) throws SQLException {
        SourcePrefetch prefetch = STARTED.getAndSet(null);
        if (prefetch == null || !prefetch.url.equals(connections.jdbcUrl()) || !prefetch.properties.equals(connections.jdbcProperties())) {
            return load(connections);
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
