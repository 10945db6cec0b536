package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sync.ha set up wrongly stops pgsource at start with exit code 2 and a message that names the fix. */
class HighAvailabilityConfigurationTest {
    private static TestPostgres pg;
    private static String source;

    @BeforeAll
    static void setUp() throws Exception {
        pg = TestPostgres.server();
        source = SourceFixture.createSource(pg, "ha_config_src");
    }

    private static Map<String, String> env(String mode) {
        Map<String, String> env = SourceFixture.env(pg, source, "public");
        env.remove("SYNC_ONCE");
        env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
        env.put("DESTINATION", "log");
        env.put("SYNC_HA", mode);
        return env;
    }

    private static String run(Map<String, String> env) {
        try (LogCapture logs = new LogCapture()) {
            assertThat(PgSourceMain.run(env, new Properties())).as("exit code").isEqualTo(2);
            return logs.text();
        }
    }

    @Test
    void aLockDirectoryThatCannotBeCreatedIsNamed(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("not-a-directory"), "x");
        Map<String, String> env = env("file");
        env.put("SYNC_HA_ROOT", file.resolve("locks").toString());
        assertThat(run(env)).contains("sync.ha.root=" + file.resolve("locks")).contains("cannot be created")
                .contains("every instance can write");
    }

    @Test
    void clusterWithoutAClusterServiceSaysHowToConfigureOne() {
        assertThat(run(env("cluster"))).contains("sync.ha=cluster needs exactly one CamelClusterService bean, found 0")
                .contains("camel.beans.cluster=#class:").contains("sync.ha=file");
    }
}
