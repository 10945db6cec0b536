package io.pgsource.config;

import io.pgsource.change.TableId;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.apache.camel.util.TimeUtils;

/**
 * Reads and validates the settings from a key lookup (application.properties, overridden by environment
 * variables and system properties; see {@link EffectiveProperties}). Every error names the key and the fix.
 */
public final class SettingsLoader {
    public static final Set<String> DESTINATIONS = Set.of("jsonl", "postgres", "log", "discard");

    private final Function<String, String> lookup;

    public SettingsLoader(Function<String, String> lookup) {
        this.lookup = lookup;
    }

    public Settings load() {
        return new Settings(source(), destination(), sync());
    }

    SourceSettings source() {
        ReplicationMethod method = replicationMethod();
        return new SourceSettings(
                text("source.host"),
                integer("source.port", 5432, 1, 65535),
                textOr("source.database", "postgres"),
                textOr("source.username", "postgres"),
                raw("source.password"),
                schemas(),
                tables(),
                textOr("source.replication_slot", "pgsource_slot"),
                textOr("source.publication_name", "pgsource_pub"),
                integer("source.batch_fetch_limit", 50_000, 1, 10_000_000),
                method,
                text("source.replication_key"),
                replicationKeys(),
                duration("sync.incremental_lag", Duration.ZERO),
                new SslSettings(text("source.sslmode"), text("source.sslrootcert"), text("source.sslcert"), text("source.sslkey")));
    }

    DestinationSettings destination() {
        String kind = textOr("destination", "jsonl").toLowerCase(Locale.ROOT);
        if (!DESTINATIONS.contains(kind)) {
            throw new ConfigurationException("destination=" + kind + " is not a known destination: use one of jsonl, postgres, log, discard");
        }
        return new DestinationSettings(kind, text("destination.url"), text("destination.username"), raw("destination.password"),
                text("destination.schema"), Path.of(textOr("destination.directory", "./output")), bool("destination.soft_delete"));
    }

    SyncSettings sync() {
        Duration interval = duration("sync.interval", Duration.ofSeconds(60));
        if (interval.isZero() || interval.isNegative()) {
            throw new ConfigurationException("sync.interval=" + raw("sync.interval") + " must be positive, e.g. 60s or 5m");
        }
        return new SyncSettings(interval, bool("sync.once"));
    }

    private ReplicationMethod replicationMethod() {
        String value = textOr("source.replication_method", "LOG_BASED").toUpperCase(Locale.ROOT);
        try {
            return ReplicationMethod.valueOf(value);
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("source.replication_method=" + value
                    + " is not a replication method: use FULL_TABLE, INCREMENTAL or LOG_BASED");
        }
    }

    private List<String> schemas() {
        List<String> schemas = list("source.schema").stream().map(SettingsLoader::unquote).toList();
        return schemas.isEmpty() ? List.of("public") : schemas;
    }

    private List<TableId> tables() {
        List<TableId> tables = new ArrayList<>();
        for (String t : list("source.tables")) {
            tables.add(table("source.tables", t));
        }
        return List.copyOf(tables);
    }

    /** {@code schema.table:column,schema.table:column}. */
    private Map<TableId, String> replicationKeys() {
        Map<TableId, String> keys = new LinkedHashMap<>();
        for (String entry : list("source.replication_keys")) {
            int colon = entry.lastIndexOf(':');
            if (colon <= 0 || colon == entry.length() - 1) {
                throw new ConfigurationException("source.replication_keys entry '" + entry
                        + "' is not schema.table:column (example: public.orders:updated_at,public.users:modified)");
            }
            keys.put(table("source.replication_keys", entry.substring(0, colon)), entry.substring(colon + 1).strip());
        }
        return Map.copyOf(keys);
    }

    private static TableId table(String key, String value) {
        try {
            return TableId.parse(value);
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException(key + ": " + e.getMessage());
        }
    }

    /** Schema names may be written plain or double-quoted; commas inside names are not supported. */
    private static String unquote(String name) {
        return name.length() >= 2 && name.startsWith("\"") && name.endsWith("\"")
                ? name.substring(1, name.length() - 1).replace("\"\"", "\"") : name;
    }

    private List<String> list(String key) {
        String v = text(key);
        if (v == null) {
            return List.of();
        }
        return Arrays.stream(v.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    private String raw(String key) {
        return lookup.apply(key);
    }

    /** The trimmed value, or null when unset or blank. */
    private String text(String key) {
        String v = lookup.apply(key);
        return v == null || v.isBlank() ? null : v.strip();
    }

    private String textOr(String key, String fallback) {
        String v = text(key);
        return v == null ? fallback : v;
    }

    private int integer(String key, int fallback, int min, int max) {
        String v = text(key);
        if (v == null) {
            return fallback;
        }
        try {
            int i = Integer.parseInt(v.replace("_", ""));
            if (i < min || i > max) {
                throw new ConfigurationException(key + "=" + v + " is out of range: use a whole number from " + min + " to " + max);
            }
            return i;
        } catch (NumberFormatException e) {
            throw new ConfigurationException(key + "=" + v + " is not a whole number");
        }
    }

    private boolean bool(String key) {
        String v = text(key);
        if (v == null) {
            return false;
        }
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "1" -> true;
            case "false", "no", "0" -> false;
            default -> throw new ConfigurationException(key + "=" + v + " is not a boolean: use true or false");
        };
    }

    private Duration duration(String key, Duration fallback) {
        String v = text(key);
        if (v == null) {
            return fallback;
        }
        try {
            return Duration.ofMillis(TimeUtils.toMilliSeconds(v));
        } catch (RuntimeException e) {
            throw new ConfigurationException(key + "=" + v + " is not a duration: write it like 500ms, 30s, 5m or 1h");
        }
    }
}
