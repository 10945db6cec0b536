package io.pgsource.app;

import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.Settings;
import io.pgsource.config.SourceConnections;
import java.util.function.BiConsumer;

/** Creates the processors and stores the routes refer to by name. STUB until the batch and sink work merges. */
final class PgSourceBeans {
    private PgSourceBeans() {
    }

    static void bind(BiConsumer<String, Object> registry, Settings settings) {
        registry.accept("sourceConnections", sourceConnections(settings));
    }

    static SourceConnections sourceConnections(Settings settings) {
        return new PgSourceConnections(settings.source());
    }
}
