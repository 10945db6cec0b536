package io.pgsource.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

/**
 * A Mage PostgreSQL source configuration read as it is ({@code PGSOURCE_CONFIG=mage.yaml}), so a Mage user moves
 * without rewriting it. Mage keeps it in two shapes: the source's own keys at the top of the file (what its UI edits),
 * or a data-integration block ({@code source: postgresql} with the keys under {@code config:}, and the streams under
 * {@code catalog:}). Values may use Mage's {@code {{ env_var('NAME') }}}; Mage's secret store is Mage's own, so a
 * {@code mage_secret_var} stops with the way around it rather than starting without the value.
 *
 * <p>pgsource keys ({@code destination: ...}, {@code sync.interval: ...}) may sit next to Mage's in the same file. Keys
 * Mage has but pgsource does not need are said once at INFO; keys neither knows at WARN (a typo must not pass
 * silently, but a key of a newer Mage must not stop a configuration Mage runs).
 */
public final class MageConfig {
    private static final Logger LOG = LoggerFactory.getLogger(MageConfig.class);

    /** Mage's PostgreSQL source keys (its documentation's and its config template's) and ours they set. */
    private static final Map<String, String> KEYS = Map.of(
            "host", "source.host",
            "port", "source.port",
            "database", "source.database",
            "username", "source.username",
            "password", "source.password",
            "schema", "source.schema",
            "replication_slot", "source.replication_slot",
            "publication_name", "source.publication_name",
            "batch_fetch_limit", "source.batch_fetch_limit",
            "replication_method", "source.replication_method");

    /** Keys of Mage's sources that mean nothing to pgsource: accepted, said once. */
    private static final Set<String> IGNORED = Set.of("connection_method", "start_date", "logical_poll_total_seconds",
            "max_run_seconds", "break_at_end_lsn", "debug_lsn", "wal2json_message_format", "ssh_host", "ssh_port",
            "ssh_username", "ssh_password", "ssh_pkey");

    private static final Pattern TEMPLATE = Pattern.compile("\\{\\{\\s*(\\w+)\\(\\s*['\"]([^'\"]*)['\"]\\s*\\)\\s*}}");

    private MageConfig() {
    }

    /** True when {@code PGSOURCE_CONFIG} names a YAML file (read as Mage's configuration). */
    public static boolean isYaml(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".yaml") || name.endsWith(".yml");
    }

    /** The pgsource properties the Mage configuration in {@code file} sets. */
    public static Properties read(Path file, Map<String, String> env) {
        Object document;
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            document = new Load(LoadSettings.builder().setLabel(file.toString()).build()).loadFromReader(r);
        } catch (IOException e) {
            throw new ConfigurationException("cannot read " + file.toAbsolutePath() + ": " + e.getMessage(), e);
        } catch (YamlEngineException e) {
            // the parser's message quotes the offending text, which may be a password: give only where it is
            String where = e.getMessage() == null ? "" : firstLineWithPosition(e.getMessage());
            throw new ConfigurationException(file + " is not valid YAML" + where
                    + ": fix it (a Mage source configuration is a YAML map of keys such as host, port, database)");
        }
        return new Reading(file, env).properties(document);
    }

    private static String firstLineWithPosition(String message) {
        Matcher m = Pattern.compile("line (\\d+), column (\\d+)").matcher(message);
        return m.find() ? " (line " + m.group(1) + ", column " + m.group(2) + ")" : "";
    }

    /** One file's reading: where it came from, for the messages. */
    private record Reading(Path file, Map<String, String> env) {

        Properties properties(Object document) {
            Map<String, Object> top = map(document, "the file");
            Map<String, Object> config = top;
            if (top.containsKey("config") || top.containsKey("source")) {
                Object source = top.get("source");
                if (source != null && !Set.of("postgresql", "postgres").contains(String.valueOf(source).toLowerCase(Locale.ROOT))) {
                    throw new ConfigurationException(file + " configures Mage's '" + source + "' source: pgsource reads a "
                            + "PostgreSQL source's configuration (source: postgresql)");
                }
                config = top.containsKey("config") ? map(top.get("config"), "config") : Map.of();
            }
            Properties props = new Properties();
            Set<String> ignored = new LinkedHashSet<>();
            Set<String> unknown = new LinkedHashSet<>();
            for (Map.Entry<String, Object> e : config.entrySet()) {
                String key = e.getKey();
                if ("catalog".equals(key) || "streams".equals(key)) {
                    continue;
                }
                String value = text(key, e.getValue());
                if (KEYS.containsKey(key)) {
                    if (value != null) {
                        props.setProperty(KEYS.get(key), value);
                    }
                } else if ("connection_method".equals(key) && value != null && !"direct".equalsIgnoreCase(value)) {
                    throw new ConfigurationException(file + ": connection_method " + value + " is not supported: pgsource "
                            + "connects directly; open the tunnel yourself (ssh -N -L 15432:<db host>:5432 <bastion>), set "
                            + "host: localhost and port: 15432, and remove connection_method");
                } else if (IGNORED.contains(key)) {
                    ignored.add(key);
                } else if (isPgSourceKey(key)) {
                    if (value != null) {
                        props.setProperty(key, value);
                    }
                } else {
                    unknown.add(key);
                }
            }
            if (!unknown.isEmpty()) {
                // Mage's sources grow keys; refusing one would refuse a configuration Mage runs. A typo is said plainly.
                LOG.warn("{}: {} not known to pgsource, ignored. Mage's PostgreSQL source keys are {} (pgsource's own keys, "
                        + "such as destination or sync.interval, may be added as they are)", file, String.join(", ", unknown),
                        String.join(", ", new java.util.TreeSet<>(KEYS.keySet())));
            }
            // the data-integration block's own pgsource keys (next to source: and config:)
            for (Map.Entry<String, Object> e : top.entrySet()) {
                if (top != config && isPgSourceKey(e.getKey()) && e.getValue() != null) {
                    props.setProperty(e.getKey(), text(e.getKey(), e.getValue()));
                }
            }
            streams(top, config, props);
            if (!ignored.isEmpty()) {
                LOG.info("{}: {} ignored (Mage options pgsource does not need)", file, String.join(", ", ignored));
            }
            return props;
        }

        /** Mage's catalog: the selected streams become source.tables, their replication keys and method. */
        private void streams(Map<String, Object> top, Map<String, Object> config, Properties props) {
            Object catalog = top.containsKey("catalog") ? top.get("catalog") : config.get("catalog");
            Object streams = catalog instanceof Map<?, ?> c ? c.get("streams") : top.getOrDefault("streams", config.get("streams"));
            if (streams == null) {
                return;
            }
            if (!(streams instanceof List<?> list)) {
                throw new ConfigurationException(file + ": streams must be a list of streams (each with tap_stream_id or "
                        + "stream, replication_method, replication_key)");
            }
            String defaultSchema = props.getProperty("source.schema", "public");
            List<String> tables = new ArrayList<>();
            List<String> keys = new ArrayList<>();
            Set<String> methods = new LinkedHashSet<>();
            for (Object item : list) {
                Map<String, Object> stream = map(item, "a stream");
                if (!selected(stream)) {
                    continue;
                }
                String name = text("stream", stream.getOrDefault("stream", stream.get("tap_stream_id")));
                if (name == null) {
                    throw new ConfigurationException(file + ": a stream has neither stream nor tap_stream_id: name its table");
                }
                String schema = text("schema", stream.getOrDefault("schema", schemaOf(stream, defaultSchema)));
                String table = quoted(schema) + "." + quoted(name);
                tables.add(table);
                String method = text("replication_method", stream.get("replication_method"));
                if (method != null) {
                    methods.add(method.toUpperCase(Locale.ROOT));
                }
                String key = text("replication_key", stream.get("replication_key"));
                if (key != null && !key.isEmpty()) {
                    keys.add(table + ":" + quoted(key));
                }
            }
            if (methods.size() > 1) {
                throw new ConfigurationException(file + ": the selected streams use " + String.join(" and ", methods)
                        + "; one pgsource run uses one replication method: run one pgsource per method, each with its "
                        + "streams (and its own replication_slot for LOG_BASED)");
            }
            if (!tables.isEmpty()) {
                props.setProperty("source.tables", String.join(",", tables));
            }
            if (!keys.isEmpty()) {
                props.setProperty("source.replication_keys", String.join(",", keys));
            }
            if (!methods.isEmpty() && !props.containsKey("source.replication_method")) {
                props.setProperty("source.replication_method", methods.iterator().next());
            }
        }

        private static Object schemaOf(Map<String, Object> stream, String defaultSchema) {
            if (stream.get("metadata") instanceof List<?> entries) {
                for (Object entry : entries) {
                    if (entry instanceof Map<?, ?> m && m.get("metadata") instanceof Map<?, ?> md && md.get("schema-name") != null) {
                        return md.get("schema-name");
                    }
                }
            }
            return defaultSchema;
        }

        /** Singer's selection: the stream's own metadata (breadcrumb []) says selected; absent means selected. */
        private static boolean selected(Map<String, Object> stream) {
            if (stream.get("metadata") instanceof List<?> entries) {
                for (Object entry : entries) {
                    if (entry instanceof Map<?, ?> m && m.get("breadcrumb") instanceof List<?> b && b.isEmpty()
                            && m.get("metadata") instanceof Map<?, ?> md && md.containsKey("selected")) {
                        return Boolean.parseBoolean(String.valueOf(md.get("selected")));
                    }
                }
            }
            return !Boolean.FALSE.equals(stream.get("selected"));
        }

        private static String quoted(String identifier) {
            return identifier.matches("[a-z_][a-z0-9_$]*") ? identifier : "\"" + identifier.replace("\"", "\"\"") + "\"";
        }

        private static boolean isPgSourceKey(String key) {
            return key.equals("destination") || key.startsWith("source.") || key.startsWith("destination.")
                    || key.startsWith("sync.") || key.startsWith("demo.") || key.startsWith("camel.");
        }

        @SuppressWarnings("unchecked")
        private Map<String, Object> map(Object node, String what) {
            if (node == null) {
                return new LinkedHashMap<>();
            }
            if (!(node instanceof Map<?, ?>)) {
                throw new ConfigurationException(file + ": " + what + " must be a map of keys (host: ..., port: ...), not "
                        + (node instanceof List<?> ? "a list" : "a single value"));
            }
            Map<String, Object> out = new LinkedHashMap<>();
            ((Map<Object, Object>) node).forEach((k, v) -> out.put(String.valueOf(k), v));
            return out;
        }

        /** A scalar value as text, with Mage's env_var templates resolved. */
        private String text(String key, Object value) {
            if (value == null) {
                return null;
            }
            if (value instanceof Map<?, ?> || value instanceof List<?>) {
                throw new ConfigurationException(file + ": " + key + " must be a single value");
            }
            String text = String.valueOf(value);
            Matcher m = TEMPLATE.matcher(text);
            StringBuilder out = new StringBuilder();
            while (m.find()) {
                String function = m.group(1);
                String name = m.group(2);
                if (!"env_var".equals(function)) {
                    throw new ConfigurationException(file + ": " + key + " uses Mage's " + function + "('" + name + "'), which "
                            + "only Mage can read: put the value in an environment variable and write {{ env_var('"
                            + name + "') }}, or set " + KEYS.getOrDefault(key, key) + " in the environment ("
                            + EffectiveProperties.envName(KEYS.getOrDefault(key, key)) + ")");
                }
                String resolved = env.get(name);
                if (resolved == null) {
                    throw new ConfigurationException(file + ": " + key + " reads the environment variable " + name
                            + " ({{ env_var('" + name + "') }}), which is not set: export it before starting pgsource");
                }
                m.appendReplacement(out, Matcher.quoteReplacement(resolved));
            }
            m.appendTail(out);
            return out.toString();
        }
    }
}
