package io.pgsource.config;

/** Everything pgsource is configured with, validated. */
public record Settings(SourceSettings source, DestinationSettings destination, SyncSettings sync, BadInputSettings badInput,
        CopySettings copy) {

    /** Settings with the default {@link CopySettings}. */
    public Settings(SourceSettings source, DestinationSettings destination, SyncSettings sync, BadInputSettings badInput) {
        this(source, destination, sync, badInput, CopySettings.DEFAULT);
    }
}
