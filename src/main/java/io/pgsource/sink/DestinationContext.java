package io.pgsource.sink;

import io.pgsource.change.TableId;
import io.pgsource.config.PgSourceConnections;
import io.pgsource.config.Settings;
import java.util.List;
import org.apache.camel.CamelContext;

/**
 * What a destination gets when it opens.
 *
 * @param camel         the Camel context (its registry, properties, endpoints)
 * @param settings      every setting ({@code settings.destination()} holds the {@code destination.*} keys)
 * @param captured      the source tables selected at start
 * @param source        connections to the source (to tell whether a database destination is the source itself)
 * @param copiedTable   the stored position of a table whose copy is complete (a benchmark aid may report every table so)
 */
public record DestinationContext(CamelContext camel, Settings settings, List<TableId> captured, PgSourceConnections source,
        String copiedTable) {

    /** A property of Camel's configuration ({@code destination.<name>.*}), or the default when unset or blank. */
    public String property(String key, String defaultValue) {
        return camel.getPropertiesComponent().resolveProperty(key).map(String::strip).filter(v -> !v.isEmpty()).orElse(defaultValue);
    }
}
