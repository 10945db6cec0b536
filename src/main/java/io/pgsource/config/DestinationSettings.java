package io.pgsource.config;

import java.nio.file.Path;

/**
 * The {@code destination*} keys of {@code application.properties}.
 *
 * @param kind      {@code destination}: jsonl (default), postgres or log
 * @param url       {@code destination.url}: JDBC URL of a table destination
 * @param username  {@code destination.username}
 * @param password  {@code destination.password} (never logged)
 * @param schema    {@code destination.schema}: one schema for every table; null keeps each source schema's name
 * @param directory {@code destination.directory}: where jsonl files and event-destination state go (./output)
 * @param softDelete {@code destination.soft_delete} (default false): a table destination marks deleted rows with the
 *                   source commit time in a {@code _deleted_at} column instead of removing them
 * @param ssl       {@code destination.sslmode}, {@code destination.sslrootcert}, {@code destination.sslcert},
 *                  {@code destination.sslkey}: TLS for a table destination (parameters in {@code destination.url} win)
 */
public record DestinationSettings(String kind, String url, String username, String password, String schema, Path directory,
        boolean softDelete, SslSettings ssl) {

    /** Settings without soft delete. */
    public DestinationSettings(String kind, String url, String username, String password, String schema, Path directory) {
        this(kind, url, username, password, schema, directory, false);
    }

    /** Settings without TLS settings of their own (the URL may still carry them). */
    public DestinationSettings(String kind, String url, String username, String password, String schema, Path directory,
            boolean softDelete) {
        this(kind, url, username, password, schema, directory, softDelete, SslSettings.NONE);
    }

    @Override
    public String toString() {
        return "DestinationSettings[kind=" + kind + ", url=" + url + ", username=" + username + ", password="
                + (password == null || password.isEmpty() ? "<none>" : "<secret>") + ", schema=" + schema + ", directory=" + directory + ", softDelete=" + softDelete + ", ssl=" + ssl + "]";
    }
}
