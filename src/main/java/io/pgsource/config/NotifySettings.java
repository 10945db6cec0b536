package io.pgsource.config;

/**
 * {@code source.notify}: the batch query woken by the source's {@code NOTIFY} (a trigger on each selected table) as well
 * as by its timer.
 *
 * @param enabled {@code source.notify}
 * @param channel {@code source.notify_channel}: the {@code LISTEN} channel, lower-case letters, digits and underscores
 */
public record NotifySettings(boolean enabled, String channel) {
    /** The default channel (each table's trigger is named after its channel). */
    public static final String DEFAULT_CHANNEL = "pgsource_notify";
    public static final NotifySettings OFF = new NotifySettings(false, DEFAULT_CHANNEL);
}
