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
 */
public record DestinationSettings(String kind, String url, String username, String password, String schema, Path directory) {

    @Override
    public String toString() {
        return "DestinationSettings[kind=" + kind + ", url=" + url + ", username=" + username + ", password="
                + (password == null || password.isEmpty() ? "<none>" : "<secret>") + ", schema=" + schema + ", directory=" + directory + "]";
    }
}
