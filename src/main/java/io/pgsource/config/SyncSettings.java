package io.pgsource.config;

import java.time.Duration;

/**
 * The {@code sync.*} keys.
 *
 * @param interval how often the batch route runs again ({@code sync.interval}, default 60s)
 * @param once     {@code sync.once}: sync every selected table to its current end once, then exit
 */
public record SyncSettings(Duration interval, boolean once) {
}
