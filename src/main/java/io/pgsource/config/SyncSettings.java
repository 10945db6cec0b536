package io.pgsource.config;

import java.time.Duration;

/**
 * The {@code sync.*} keys.
 *
 * @param interval how often the batch route runs again ({@code sync.interval}, default 60s)
 * @param once       {@code sync.once}: sync every selected table to its current end once, then exit
 * @param resnapshot {@code sync.resnapshot}: LOG_BASED, start from a new slot and copy every table again
 * @param ha         {@code sync.ha*}: one streaming instance among several on a slot
 * @param progressInterval {@code sync.progress_interval}: how often a line says what the copy or the stream did
 *                   (default 30s); zero: never
 * @param statusInterval {@code sync.status_interval}: how often the status page's state is taken and its plot sampled
 *                   (default 10s; the plot shows the last 360 samples: an hour by default)
 */
public record SyncSettings(Duration interval, boolean once, boolean resnapshot, HaSettings ha, Duration progressInterval,
                           Duration statusInterval) {
    /** The default {@code sync.status_interval}. */
    public static final Duration DEFAULT_STATUS_INTERVAL = Duration.ofSeconds(10);
}
