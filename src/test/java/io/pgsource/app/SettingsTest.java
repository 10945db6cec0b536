package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.EffectiveProperties;
import io.pgsource.config.HaSettings;
import io.pgsource.config.InitialCopyMode;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Settings;
import io.pgsource.config.SettingsLoader;
import io.pgsource.sink.Destinations;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class SettingsTest {

    private static Settings load(Map<String, String> env, Properties system) {
        Properties p = EffectiveProperties.load(env, system);
        return new SettingsLoader(p::getProperty).load();
    }

    @Test
    void defaultsAreTheSeedsDefaults() {
        Settings s = load(Map.of(), new Properties());
        assertThat(s.source().port()).isEqualTo(5432);
        assertThat(s.source().batchFetchLimit()).isEqualTo(50_000);
        assertThat(s.source().schemas()).containsExactly("public");
        assertThat(s.source().replicationMethod()).isEqualTo(ReplicationMethod.LOG_BASED);
        assertThat(s.destination().kind()).isEqualTo("jsonl");
        assertThat(s.sync().interval()).isEqualTo(Duration.ofSeconds(60));
        assertThat(s.sync().once()).isFalse();
    }

    @Test
    void environmentOverridesTheFileAndSystemPropertiesOverrideTheEnvironment() {
        Properties system = new Properties();
        system.setProperty("source.port", "6000");
        Settings s = load(Map.of("SOURCE_HOST", "db.example.com", "SOURCE_PORT", "5999", "SOURCE_SCHEMA", "a, b ,\"C d\"",
                "SOURCE_REPLICATION_SLOT", "slot_x", "SOURCE_BATCH_FETCH_LIMIT", "1_000", "SYNC_INTERVAL", "5m",
                "SOURCE_REPLICATION_KEYS", "a.t1:updated_at,\"C d\".\"T 2\":ts", "DESTINATION", "postgres"), system);
        assertThat(s.source().host()).isEqualTo("db.example.com");
        assertThat(s.source().port()).isEqualTo(6000);
        assertThat(s.source().schemas()).containsExactly("a", "b", "C d");
        assertThat(s.source().replicationSlot()).isEqualTo("slot_x");
        assertThat(s.source().batchFetchLimit()).isEqualTo(1000);
        assertThat(s.sync().interval()).isEqualTo(Duration.ofMinutes(5));
        assertThat(s.source().replicationKeyFor(new TableId("C d", "T 2"))).isEqualTo("ts");
        assertThat(s.source().replicationKeyFor(new TableId("a", "other"))).isNull();
        assertThat(s.destination().kind()).isEqualTo("postgres");
    }

    @Test
    void environmentSetsKeysTheFileDoesNotList() {
        Properties p = EffectiveProperties.load(Map.of("SOURCE_MAX_BATCH_SIZE", "500", "DESTINATION_SOFT_DELETE", "true",
                "SOURCE", "ignored", "PATH", "/bin"), new Properties());
        assertThat(p.getProperty("source.max_batch_size")).isEqualTo("500");
        assertThat(p.getProperty("destination.soft_delete")).isEqualTo("true");
        assertThat(p.getProperty("source")).isNull();
    }

    @Test
    void passwordsNeverShowInToString() {
        Settings s = load(Map.of("SOURCE_PASSWORD", "hunter2-secret", "DESTINATION_PASSWORD", "other-secret"), new Properties());
        assertThat(s.source().toString()).doesNotContain("hunter2-secret").contains("<secret>");
        assertThat(s.destination().toString()).doesNotContain("other-secret");
        assertThat(s.toString()).doesNotContain("hunter2-secret").doesNotContain("other-secret");
    }

    @Test
    void badValuesNameTheKeyAndTheFix() {
        assertThatThrownBy(() -> load(Map.of("SOURCE_PORT", "abc"), new Properties()))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("source.port=abc");
        assertThatThrownBy(() -> load(Map.of("SOURCE_BATCH_FETCH_LIMIT", "0"), new Properties()))
                .hasMessageContaining("source.batch_fetch_limit=0").hasMessageContaining("from 1");
        // checked against the registered destinations where pgsource makes one
        assertThatThrownBy(() -> Destinations.create(load(Map.of("DESTINATION", "nosuch"), new Properties()).destination().kind()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("destination=nosuch is not a registered destination: set destination to one of ")
                .hasMessageContaining("jsonl").hasMessageContaining("postgres");
        assertThatThrownBy(() -> load(Map.of("SYNC_INTERVAL", "soon"), new Properties()))
                .hasMessage("sync.interval=soon is not a duration: write it like 500ms, 30s, 5m or 1h");
        // Camel's TimeUtils reads "often" as 0: it must not turn the progress lines off silently
        assertThatThrownBy(() -> load(Map.of("SYNC_PROGRESS_INTERVAL", "often"), new Properties()))
                .hasMessage("sync.progress_interval=often is not a duration: write it like 500ms, 30s, 5m or 1h");
        assertThat(load(Map.of("SYNC_INTERVAL", "1m30s"), new Properties()).sync().interval()).isEqualTo(Duration.ofSeconds(90));
        assertThatThrownBy(() -> load(Map.of("SOURCE_TABLES", "justatable"), new Properties()))
                .hasMessageContaining("source.tables").hasMessageContaining("schema.table");
        assertThatThrownBy(() -> load(Map.of("SOURCE_REPLICATION_KEYS", "public.t"), new Properties()))
                .hasMessageContaining("schema.table:column");
        assertThatThrownBy(() -> load(Map.of("SOURCE_SLOT_CHECK_INTERVAL", "100ms"), new Properties()))
                .hasMessageContaining("source.slot_check_interval=100ms").hasMessageContaining("at least 1s");
        assertThatThrownBy(() -> load(Map.of("SOURCE_MAX_RECONNECT_DELAY", "often"), new Properties()))
                .hasMessageContaining("source.max_reconnect_delay=often").hasMessageContaining("30s");
        assertThatThrownBy(() -> load(Map.of("SYNC_RESNAPSHOT", "please"), new Properties()))
                .hasMessageContaining("sync.resnapshot=please").hasMessageContaining("true or false");
    }

    @Test
    void notifyIsOffByDefaultAndItsChannelMustReadTheSameInListenAndPgNotify() {
        assertThat(load(Map.of(), new Properties()).source().notifications()).isEqualTo(io.pgsource.config.NotifySettings.OFF);
        Settings s = load(Map.of("SOURCE_REPLICATION_METHOD", "INCREMENTAL", "SOURCE_NOTIFY", "true",
                "SOURCE_NOTIFY_CHANNEL", "shop_changes"), new Properties());
        assertThat(s.source().notifications().enabled()).isTrue();
        assertThat(s.source().notifications().channel()).isEqualTo("shop_changes");
        for (String bad : new String[] {"Shop", "1st", "with space", "a-b", "x".repeat(64)}) {
            assertThatThrownBy(() -> load(Map.of("SOURCE_NOTIFY_CHANNEL", bad), new Properties())).as(bad)
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("source.notify_channel=" + bad)
                    .hasMessageContaining("lower-case");
        }
        assertThatThrownBy(() -> load(Map.of("SOURCE_NOTIFY", "true"), new Properties()))
                .isInstanceOf(ConfigurationException.class).hasMessageStartingWith("source.notify=true wakes the batch query")
                .hasMessageContaining("LOG_BASED");
    }

    @Test
    void highAvailabilityIsOffUnlessAskedForAndReadsItsKeysFromTheEnvironment() {
        assertThat(load(Map.of(), new Properties()).sync().ha().enabled()).isFalse();
        HaSettings ha = load(Map.of("SOURCE_HOST", "db", "SYNC_HA", "file", "SYNC_HA_ROOT", "/shared/locks", "SYNC_HA_INTERVAL", "2s",
                "SYNC_HA_MISSED_HEARTBEATS", "3"), new Properties()).sync().ha();
        assertThat(ha.mode()).isEqualTo(HaSettings.Mode.FILE);
        assertThat(ha.root()).isEqualTo(Path.of("/shared/locks"));
        assertThat(ha.interval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(ha.missedHeartbeats()).isEqualTo(3);
        assertThat(ha.detectionTime()).isEqualTo(Duration.ofSeconds(8));
        assertThat(load(Map.of("SOURCE_HOST", "db", "SYNC_HA", "CLUSTER"), new Properties()).sync().ha().mode()).isEqualTo(HaSettings.Mode.CLUSTER);
    }

    @Test
    void highAvailabilityMistakesNameTheFix() {
        assertThatThrownBy(() -> load(Map.of("SOURCE_HOST", "db", "SYNC_HA", "zookeeper"), new Properties()))
                .hasMessageContaining("sync.ha=zookeeper").hasMessageContaining("off, file").hasMessageContaining("cluster");
        assertThatThrownBy(() -> load(Map.of("SOURCE_HOST", "db", "SYNC_HA", "file"), new Properties()))
                .hasMessageContaining("sync.ha=file needs sync.ha.root");
        assertThatThrownBy(() -> load(Map.of("SOURCE_HOST", "db", "SYNC_HA", "cluster", "SOURCE_REPLICATION_METHOD", "FULL_TABLE"),
                new Properties())).hasMessageContaining("LOG_BASED");
        assertThatThrownBy(() -> load(Map.of("SOURCE_HOST", "db", "SYNC_HA", "cluster", "SYNC_ONCE", "true"), new Properties()))
                .hasMessageContaining("sync.once");
        assertThatThrownBy(() -> load(Map.of("SYNC_HA", "cluster"), new Properties()))
                .hasMessageContaining("source.host");
        assertThatThrownBy(() -> load(Map.of("SOURCE_HOST", "db", "SYNC_HA", "file", "SYNC_HA_ROOT", "/x", "SYNC_HA_INTERVAL", "0s"),
                new Properties())).hasMessageContaining("sync.ha.interval");
    }

    @Test
    void schemaListKeepsQuotedNamesForTheCatalog() {
        assertThat(load(Map.of("SOURCE_SCHEMA", "public"), new Properties()).source().schemas()).isEqualTo(List.of("public"));
    }

    /** source.copy_progress_interval: 5 s by default, a duration or 0; anything else is a configuration error naming the fix. */
    @Test
    void copyProgressIntervalIsADurationOrZero() {
        java.util.function.Function<String, Duration> interval = v -> load(v == null ? Map.of()
                : Map.of("SOURCE_COPY_PROGRESS_INTERVAL", v), new Properties()).copy().progressInterval();
        assertThat(interval.apply(null)).isEqualTo(Duration.ofSeconds(5));
        assertThat(interval.apply("250ms")).isEqualTo(Duration.ofMillis(250));
        assertThat(interval.apply("1m30s")).isEqualTo(Duration.ofSeconds(90));
        assertThat(interval.apply("0")).isZero();
        assertThatThrownBy(() -> interval.apply("often"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessage("source.copy_progress_interval=often is not a duration: write it like 5s or 1m, or 0 for only one line"
                        + " per table when its copy ends");
    }

    /** source.backfill_chunk_size: 10,000 rows by default, or a positive whole number; anything else names the fix. */
    @Test
    void backfillChunkSizeIsAPositiveWholeNumber() {
        java.util.function.Function<String, Integer> size = v -> load(v == null ? Map.of()
                : Map.of("SOURCE_BACKFILL_CHUNK_SIZE", v), new Properties()).copy().backfillChunkSize();
        assertThat(size.apply(null)).isEqualTo(10_000);
        assertThat(size.apply("50_000")).isEqualTo(50_000);
        for (String bad : List.of("0", "-5", "lots", "1.5")) {
            assertThatThrownBy(() -> size.apply(bad)).isInstanceOf(ConfigurationException.class)
                    .hasMessage("source.backfill_chunk_size=" + bad + " is not a positive whole number of rows: use e.g. 10000 (the default)");
        }
    }

    /** source.initial_copy: snapshot by default, or chunked (any case); anything else is a configuration error naming both. */
    @Test
    void initialCopyIsSnapshotOrChunked() {
        java.util.function.Function<Map<String, String>, InitialCopyMode> mode =
                env -> new SettingsLoader(EffectiveProperties.load(env, new Properties())::getProperty).initialCopy();
        assertThat(mode.apply(Map.of())).isEqualTo(InitialCopyMode.SNAPSHOT);
        assertThat(mode.apply(Map.of("SOURCE_INITIAL_COPY", "chunked"))).isEqualTo(InitialCopyMode.CHUNKED);
        assertThat(mode.apply(Map.of("SOURCE_INITIAL_COPY", " Snapshot "))).isEqualTo(InitialCopyMode.SNAPSHOT);
        assertThatThrownBy(() -> mode.apply(Map.of("SOURCE_INITIAL_COPY", "chunks")))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("source.initial_copy=chunks is not a way to copy the tables: use snapshot")
                .hasMessageContaining("or chunked");
    }

    /** source.snapshot_workers: 1 reader by default; a whole number from 1 to 64, else one line naming the fix. */
    @Test
    void snapshotWorkersIsAWholeNumberOfReaders() {
        assertThat(load(Map.of(), new Properties()).copy().snapshotWorkers()).isEqualTo(1);
        assertThat(load(Map.of("SOURCE_SNAPSHOT_WORKERS", "4"), new Properties()).copy().snapshotWorkers()).isEqualTo(4);
        assertThat(load(Map.of("SOURCE_SNAPSHOT_WORKERS", "1"), new Properties()).copy().snapshotWorkers()).isEqualTo(1);
        for (String bad : List.of("0", "many", "65", "-2", "2.5")) {
            assertThatThrownBy(() -> load(Map.of("SOURCE_SNAPSHOT_WORKERS", bad), new Properties()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessage("source.snapshot_workers=" + bad + " is not a number of snapshot readers: use a whole number from 1 (the"
                            + " default: one connection reads every table in turn) to 64, e.g. 4 where the source and pgsource have 4 cores"
                            + " to spare");
        }
    }
}
