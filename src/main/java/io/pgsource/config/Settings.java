package io.pgsource.config;

/** Everything pgsource is configured with, validated. */
public record Settings(SourceSettings source, DestinationSettings destination, SyncSettings sync, BadInputSettings badInput) {
}
