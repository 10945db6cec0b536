package io.pgsource.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The jar's routes are named, not scanned for (start-up): a route file added to ./routes must be named too. */
class JarRoutesTest {

    @Test
    void theNamedRoutesAreExactlyTheRoutesFolder() throws IOException {
        try (Stream<Path> files = Files.list(Path.of("routes"))) {
            List<String> onDisk = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".camel.yaml")).sorted().toList();
            assertEquals(onDisk, PgSourceMain.JAR_ROUTES.stream().sorted().toList(),
                    "routes/*.camel.yaml changed: update PgSourceMain.JAR_ROUTES to name every file the jar holds");
        }
    }
}
