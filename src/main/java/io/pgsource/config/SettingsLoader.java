package io.pgsource.config;

import io.pgsource.catalog.Publications;
import io.pgsource.change.TableId;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.util.TimeUtils;

/**
 * Reads and validates the settings from a key lookup (application.properties, overridden by environment
 * variables and system properties; see {@link EffectiveProperties}). Every error names the key and the fix.
 */
public final class SettingsLoader {
    private static final Pattern SIZE = Pattern.compile("(?i)\\s*([0-9][0-9_]*)\\s*(b|k|kb|m|mb|g|gb)?\\s*");

    private final Function<String, String> lookup;

    public SettingsLoader(Function<String, String> lookup) {
        this.lookup = lookup;
    }

    public Settings load() {
        Settings settings = new Settings(source(), destination(), sync(), badInput(), copy());
        checkHa(settings);
        return settings;
    }

    /** High availability coordinates one slot's stream between long-running instances; other uses are mistakes. */
    private static void checkHa(Settings settings) {
        HaSettings ha = settings.sync().ha();
        if (!ha.enabled()) {
            return;
        }
        String mode = "sync.ha=" + ha.mode().name().toLowerCase(Locale.ROOT);
        if (settings.source().replicationMethod() != ReplicationMethod.LOG_BASED) {
            throw new ConfigurationException(mode + " runs log replication on one instance at a time; source.replication_method="
                    + settings.source().replicationMethod() + " (the batch query) does not support it: use LOG_BASED, or run one "
                    + "instance and set sync.ha=off");
        }
        if (settings.sync().once()) {
            throw new ConfigurationException(mode + " keeps a standby instance waiting to take over; sync.once=true ends after one "
                    + "sync: set one of them off");
        }
        if (settings.source().host() == null) {
            throw new ConfigurationException(mode + " needs one source every instance streams from: set source.host (without it "
                    + "each instance starts its own embedded demo database)");
        }
    }

    SourceSettings source() {
        ReplicationMethod method = replicationMethod();
        return new SourceSettings(
                text("source.host"),
                integer("source.port", 5432, 1, 65535),
                textOr("source.database", "postgres"),
                textOr("source.username", "postgres"),
                secret("source.password"),
                schemas(),
                tables(),
                slotName(),
                publicationName(),
                integer("source.batch_fetch_limit", 50_000, 1, 10_000_000),
                method,
                text("source.replication_key"),
                replicationKeys(),
                duration("sync.incremental_lag", Duration.ZERO),
                textOr("sync.incremental_timezone", SourceSettings.DEFAULT_INCREMENTAL_TIME_ZONE),
                ssl("source"),
                notifySettings(method));
    }

    /**
     * {@code source.notify} wakes the batch query; {@code source.notify_channel} is used unquoted in {@code LISTEN}, which
     * folds it to lower case, while {@code pg_notify} takes it as written: only names that read the same both ways.
     */
    private NotifySettings notifySettings(ReplicationMethod method) {
        boolean enabled = bool("source.notify");
        String channel = textOr("source.notify_channel", NotifySettings.DEFAULT_CHANNEL);
        if (!channel.matches("[a-z_][a-z0-9_]{0,62}")) {
            throw new ConfigurationException("source.notify_channel=" + channel + " is not a usable channel name: use lower-case"
                    + " letters, digits and underscores, at most 63, not starting with a digit (e.g. " + NotifySettings.DEFAULT_CHANNEL + ")");
        }
        if (enabled && method == ReplicationMethod.LOG_BASED) {
            throw new ConfigurationException("source.notify=true wakes the batch query (FULL_TABLE or INCREMENTAL); LOG_BASED streams"
                    + " every change as it commits already: unset source.notify, or set source.replication_method=INCREMENTAL");
        }
        return new NotifySettings(enabled, channel);
    }

    /**
     * {@code source.snapshot_workers} (a whole number of readers, 1 to {@value CopySettings#MAX_SNAPSHOT_WORKERS}),
     * {@code source.copy_progress_interval} (a duration, or 0 for only the line when a table's copy ends) and
     * {@code source.backfill_chunk_size} (rows per chunk).
     */
    CopySettings copy() {
        return new CopySettings(snapshotWorkers(), copyProgressInterval(), backfillChunkSize());
    }

    private int snapshotWorkers() {
        String v = text("source.snapshot_workers");
        if (v == null) {
            return CopySettings.DEFAULT_SNAPSHOT_WORKERS;
        }
        int workers = -1;
        try {
            workers = Integer.parseInt(v.replace("_", ""));
        } catch (NumberFormatException e) {
            // reported below
        }
        if (workers < 1 || workers > CopySettings.MAX_SNAPSHOT_WORKERS) {
            throw new ConfigurationException("source.snapshot_workers=" + v + " is not a number of snapshot readers: use a whole number"
                    + " from 1 (the default: one connection reads every table in turn) to " + CopySettings.MAX_SNAPSHOT_WORKERS
                    + ", e.g. 4 where the source and pgsource have 4 cores to spare");
        }
        return workers;
    }

    private Duration copyProgressInterval() {
        String v = text("source.copy_progress_interval");
        return v == null ? CopySettings.DEFAULT_PROGRESS_INTERVAL : duration("source.copy_progress_interval", v,
                "write it like 5s or 1m, or 0 for only one line per table when its copy ends");
    }

    private int backfillChunkSize() {
        String v = text("source.backfill_chunk_size");
        if (v == null) {
            return CopySettings.DEFAULT_BACKFILL_CHUNK_SIZE;
        }
        try {
            int size = Integer.parseInt(v.replace("_", ""));
            if (size >= 1) {
                return size;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigurationException("source.backfill_chunk_size=" + v + " is not a positive whole number of rows: use e.g. "
                + CopySettings.DEFAULT_BACKFILL_CHUNK_SIZE + " (the default)");
    }

    DestinationSettings destination() {
        // checked against the registered destinations where one is made (io.pgsource.sink.Destinations)
        String kind = textOr("destination", "jsonl").toLowerCase(Locale.ROOT);
        return new DestinationSettings(kind, text("destination.url"), text("destination.username"), secret("destination.password"),
                text("destination.schema"), Path.of(textOr("destination.directory", "./output")), bool("destination.soft_delete"),
                ssl("destination"), text("destination.table_name"));
    }

    private SslSettings ssl(String side) {
        return new SslSettings(text(side + ".sslmode"), text(side + ".sslrootcert"), text(side + ".sslcert"), text(side + ".sslkey"));
    }

    /**
     * A password from its key ({@code source.password}) or from the file named by {@code <key>_file}, whose content
     * (less one trailing line break) is the password: a mounted secret (Docker, Kubernetes) never passes through the
     * environment or a properties file. Setting both is an error, so nobody wonders which one won.
     */
    private String secret(String key) {
        String plain = raw(key);
        String fileKey = key + "_file";
        String file = text(fileKey);
        if (file == null) {
            return plain;
        }
        if (plain != null && !plain.isEmpty()) {
            throw new ConfigurationException("both " + key + " and " + fileKey + " are set: keep one of them (" + fileKey
                    + " names a file that holds the password)");
        }
        String content;
        try {
            content = Files.readString(Path.of(file), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            // the exception's class says why (missing, a directory, not readable, not UTF-8); its text is the path only
            throw new ConfigurationException(fileKey + "=" + file + " cannot be read (" + e.getClass().getSimpleName()
                    + "): give the path of a readable file that holds the password");
        }
        String password = content.endsWith("\r\n") ? content.substring(0, content.length() - 2)
                : content.endsWith("\n") ? content.substring(0, content.length() - 1) : content;
        if (password.isEmpty()) {
            throw new ConfigurationException(fileKey + "=" + file + " is empty: write the password into it (or unset " + fileKey + ")");
        }
        return password;
    }

    SyncSettings sync() {
        Duration interval = duration("sync.interval", Duration.ofSeconds(60));
        if (interval.isZero() || interval.isNegative()) {
            throw new ConfigurationException("sync.interval=" + raw("sync.interval") + " must be positive, e.g. 60s or 5m");
        }
        // read by the log-replication route itself ({{source.slot_check_interval}}, ...); checked here for a clear error
        positive("source.slot_check_interval", "10s");
        positive("source.max_reconnect_delay", "30s");
        Duration progress = duration("sync.progress_interval", Duration.ofSeconds(30));
        if (progress.isNegative()) {
            throw new ConfigurationException("sync.progress_interval=" + raw("sync.progress_interval")
                    + " must not be negative: e.g. 30s, or 0 for no progress lines");
        }
        Duration status = duration("sync.status_interval", SyncSettings.DEFAULT_STATUS_INTERVAL);
        if (status.isZero() || status.isNegative()) {
            throw new ConfigurationException("sync.status_interval=" + raw("sync.status_interval")
                    + " must be positive: e.g. 10s (the status page's plot keeps 360 samples)");
        }
        return new SyncSettings(interval, bool("sync.once"), bool("sync.resnapshot"), ha(), progress, status);
    }

    /**
     * {@code source.initial_copy}: how log replication copies the tables for a new slot ({@link InitialCopyMode}), default
     * {@code snapshot}.
     */
    public InitialCopyMode initialCopy() {
        String value = textOr("source.initial_copy", "snapshot").toLowerCase(Locale.ROOT);
        return switch (value) {
            case "snapshot" -> InitialCopyMode.SNAPSHOT;
            case "chunked" -> InitialCopyMode.CHUNKED;
            default -> throw new ConfigurationException("source.initial_copy=" + value + " is not a way to copy the tables: use snapshot"
                    + " (inside the new slot's exported snapshot, before streaming; the fastest) or chunked (in primary-key chunks"
                    + " while streaming: short transactions on the source, resumes after a restart)");
        };
    }

    HaSettings ha() {
        String value = textOr("sync.ha", "off").toLowerCase(Locale.ROOT);
        HaSettings.Mode mode = switch (value) {
            case "off", "false", "none", "no" -> HaSettings.Mode.OFF;
            case "file" -> HaSettings.Mode.FILE;
            case "cluster" -> HaSettings.Mode.CLUSTER;
            default -> throw new ConfigurationException("sync.ha=" + value + " is not a high-availability mode: use off, file (a lock "
                    + "file in sync.ha.root on a filesystem every instance shares) or cluster (the CamelClusterService configured "
                    + "in Camel, e.g. Kubernetes or ZooKeeper)");
        };
        Duration interval = duration("sync.ha.interval", HaSettings.OFF.interval());
        if (interval.toMillis() <= 0) {
            throw new ConfigurationException("sync.ha.interval=" + raw("sync.ha.interval") + " must be positive, e.g. 1s");
        }
        int missed = integer("sync.ha.missed_heartbeats", HaSettings.OFF.missedHeartbeats(), 1, 1000);
        String root = text("sync.ha.root");
        if (mode == HaSettings.Mode.FILE && root == null) {
            throw new ConfigurationException("sync.ha=file needs sync.ha.root: a directory every instance shares (the same path "
                    + "on a shared filesystem with working file locks, e.g. NFSv4), where the leader holds its lock file");
        }
        return new HaSettings(mode, root == null ? null : Path.of(root), interval, missed);
    }

    /** PostgreSQL accepts only these slot names (and would not quote others): say so before anything connects. */
    private String slotName() {
        String slot = textOr("source.replication_slot", "pgsource_slot");
        if (!slot.matches("[a-z0-9_]{1,63}")) {
            throw new ConfigurationException("source.replication_slot=" + slot + " is not a valid replication slot name: PostgreSQL"
                    + " slot names use only lower-case letters, digits and underscores, at most 63 of them (e.g. pgsource_slot)");
        }
        return slot;
    }

    /**
     * One publication or a comma-separated list (a name with a comma or a double quote in double quotes). Any name works
     * (it is always quoted), but PostgreSQL cuts names longer than 63 bytes, and would not find it again.
     */
    private String publicationName() {
        String pub = textOr("source.publication_name", "pgsource_pub");
        if (pub.contains("{{") || pub.contains("}}")) {
            throw new ConfigurationException("source.publication_name must not contain {{ or }}: Camel reads them as a property"
                    + " placeholder in the route's publication option; choose another name");
        }
        List<String> names = Publications.names(pub);
        if (names.isEmpty()) {
            throw new ConfigurationException("source.publication_name names no publication: set it to one name, or a comma-separated list");
        }
        for (String name : names) {
            int bytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            if (bytes > 63) {
                throw new ConfigurationException("source.publication_name is " + bytes + " bytes long (UTF-8): PostgreSQL names hold at"
                        + " most 63 bytes; choose a shorter one");
            }
        }
        return pub;
    }

    BadInputSettings badInput() {
        String max = text("source.max_value_bytes");
        long maxValueBytes = max == null ? BadInputSettings.defaultMaxValueBytes() : bytes("source.max_value_bytes", max);
        return new BadInputSettings(maxValueBytes, text("destination.dead_letter_uri"));
    }

    /** {@code 1048576}, {@code 64kB}, {@code 300MB}, {@code 1GB} (units of 1024), at least 1 kB. */
    private static long bytes(String key, String value) {
        Matcher m = SIZE.matcher(value);
        if (!m.matches()) {
            throw new ConfigurationException(key + "=" + value + " is not a size: write it like 1048576, 64kB, 300MB or 1GB");
        }
        long unit = switch (m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT)) {
            case "k", "kb" -> 1L << 10;
            case "m", "mb" -> 1L << 20;
            case "g", "gb" -> 1L << 30;
            default -> 1;
        };
        try {
            long n = Math.multiplyExact(Long.parseLong(m.group(1).replace("_", "")), unit);
            if (n < 1024) {
                throw new ConfigurationException(key + "=" + value + " is too small: use at least 1kB");
            }
            return n;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new ConfigurationException(key + "=" + value + " is too large");
        }
    }

    private void positive(String key, String example) {
        Duration d = duration(key, Duration.ofSeconds(1));
        if (d.compareTo(Duration.ofSeconds(1)) < 0) {
            throw new ConfigurationException(key + "=" + raw(key) + " must be at least 1s, e.g. " + example);
        }
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

    /** Schema names may be written plain or double-quoted (then they may hold commas, dots and quotes written as ""). */
    private static String unquote(String name) {
        return name.length() >= 2 && name.startsWith("\"") && name.endsWith("\"")
                ? name.substring(1, name.length() - 1).replace("\"\"", "\"") : name;
    }

    private List<String> list(String key) {
        String v = text(key);
        if (v == null) {
            return List.of();
        }
        // commas inside double-quoted names belong to the name
        return TableId.splitList(v);
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
        return duration(key, v, "write it like 500ms, 30s, 5m or 1h");
    }

    /**
     * A duration setting's value: {@code 500ms}, {@code 30s}, {@code 1m30s}, {@code 2h}, or milliseconds. Camel's
     * TimeUtils reads what it does not understand as 0 (so {@code often} would turn a setting off), so the form is
     * checked first.
     *
     * @param fix what to write instead, for the error
     */
    public static Duration duration(String key, String value, String fix) {
        if (value.strip().matches("(?i)(\\d+\\s*(ms|s|m|h)?\\s*)+")) {
            try {
                return Duration.ofMillis(TimeUtils.toMilliSeconds(value.strip()));
            } catch (RuntimeException e) {
                // reported below
            }
        }
        throw new ConfigurationException(key + "=" + value + " is not a duration: " + fix);
    }
}
