package io.pgsource.config;

import io.pgsource.change.TableId;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
 * @param tableName {@code destination.table_name}: the name of each source table's destination table, where
 *                  {@code ${schema}} and {@code ${table}} stand for the source table's schema and name
 *                  ({@value #DEFAULT_TABLE_NAME} when null or blank)
 */
public record DestinationSettings(String kind, String url, String username, String password, String schema, Path directory,
        boolean softDelete, SslSettings ssl, String tableName) {
    /** The default {@code destination.table_name}: the source table's own name. */
    public static final String DEFAULT_TABLE_NAME = "${table}";
    /** PostgreSQL cuts longer identifiers (NAMEDATALEN - 1 bytes) without an error, which would merge tables. */
    private static final int MAX_IDENTIFIER_BYTES = 63;
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([^}]*)}");

    public DestinationSettings {
        tableName = tableName == null || tableName.isBlank() ? DEFAULT_TABLE_NAME : tableName.strip();
        Matcher m = PLACEHOLDER.matcher(tableName);
        while (m.find()) {
            if (!m.group(1).equals("schema") && !m.group(1).equals("table")) {
                throw new ConfigurationException("destination.table_name=" + tableName + " uses ${" + m.group(1)
                        + "}, which is not a placeholder: use ${schema} and ${table} (the source table's schema and name), e.g."
                        + " destination.table_name=${schema}_${table}");
            }
        }
        if (m.reset().replaceAll("").contains("${")) {
            throw new ConfigurationException("destination.table_name=" + tableName + " has a ${ without its closing }: write"
                    + " the placeholders as ${schema} and ${table}, e.g. destination.table_name=${schema}_${table}");
        }
        if (tableName.indexOf('\0') >= 0) {
            throw new ConfigurationException("destination.table_name holds a NUL character, which no PostgreSQL name can hold");
        }
    }

    /** Settings with the default table names. */
    public DestinationSettings(String kind, String url, String username, String password, String schema, Path directory,
            boolean softDelete, SslSettings ssl) {
        this(kind, url, username, password, schema, directory, softDelete, ssl, null);
    }

    /** Settings without soft delete. */
    public DestinationSettings(String kind, String url, String username, String password, String schema, Path directory) {
        this(kind, url, username, password, schema, directory, false);
    }

    /** Settings without TLS settings of their own (the URL may still carry them). */
    public DestinationSettings(String kind, String url, String username, String password, String schema, Path directory,
            boolean softDelete) {
        this(kind, url, username, password, schema, directory, softDelete, SslSettings.NONE);
    }

    /** Where a destination writing files keeps them and its positions: {@code destination.directory}, else ./output. */
    public Path outputDirectory() {
        return directory != null ? directory : Path.of("output");
    }

    /**
     * The destination table of a source table: in {@code destination.schema} (else the source table's schema), named by
     * {@code destination.table_name}.
     *
     * @throws ConfigurationException when the name is longer than PostgreSQL keeps (63 bytes)
     */
    public TableId table(TableId source) {
        String name = PLACEHOLDER.matcher(tableName)
                .replaceAll(m -> Matcher.quoteReplacement(m.group(1).equals("schema") ? source.schema() : source.name()));
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_IDENTIFIER_BYTES) {
            throw new ConfigurationException("destination.table_name=" + tableName + " names the destination table of "
                    + source.quoted() + " " + TableId.quoteIdent(name) + ", longer than the " + MAX_IDENTIFIER_BYTES
                    + " bytes PostgreSQL keeps of a name (it would cut it silently): choose a shorter destination.table_name");
        }
        return new TableId(schema == null || schema.isBlank() ? source.schema() : schema, name);
    }

    /**
     * The destination table of each source table, in their order.
     *
     * @throws ConfigurationException when two source tables would share a destination table, naming both and the fix, or
     *                                when a name is too long ({@link #table})
     */
    public Map<TableId, TableId> tables(Collection<TableId> sources) {
        Map<TableId, TableId> targets = new LinkedHashMap<>();
        Map<TableId, TableId> bySource = new LinkedHashMap<>();
        for (TableId source : sources) {
            TableId target = table(source);
            TableId other = targets.putIfAbsent(target, source);
            if (other != null && !other.equals(source)) {
                throw new ConfigurationException(sharedTable(other, source, target));
            }
            bySource.put(source, target);
        }
        return bySource;
    }

    /** Two source tables would land in one destination table: what maps them so, and the settings that keep them apart. */
    public String sharedTable(TableId first, TableId second, TableId target) {
        boolean renamed = !tableName.equals(DEFAULT_TABLE_NAME);
        boolean oneSchema = schema != null && !schema.isBlank();
        String cause = oneSchema && renamed ? "destination.schema=" + schema + " with destination.table_name=" + tableName
                : oneSchema ? "destination.schema=" + schema : "destination.table_name=" + tableName;
        String pattern = tableName.equals("${schema}_${table}") ? "${schema}__${table}" : "${schema}_${table}";
        return cause + " maps both " + first.quoted() + " and " + second.quoted() + " onto the destination table " + target.quoted()
                + ", so the rows of one would overwrite the other's: set destination.table_name=" + pattern
                + " (each source table gets its own destination table)" + (oneSchema ? ", or leave destination.schema empty" : "")
                + ", or leave one of them out (source.tables)";
    }

    @Override
    public String toString() {
        return "DestinationSettings[kind=" + kind + ", url=" + url + ", username=" + username + ", password="
                + (password == null || password.isEmpty() ? "<none>" : "<secret>") + ", schema=" + schema + ", directory=" + directory + ", softDelete=" + softDelete + ", ssl=" + ssl + ", tableName=" + tableName + "]";
    }
}
