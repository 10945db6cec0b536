package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.camel.component.seda.SedaEndpoint;
import org.apache.camel.main.BaseMainSupport;
import org.apache.camel.main.Main;
import org.apache.camel.main.MainListenerSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The routes and application.properties alone, in a plain Camel Main (what Camel JBang and other Camel Main
 * runtimes do): no PgSourceMain, the beans come from the configuration class named in application.properties.
 */
class PlainCamelMainTest {

    @Test
    void routesRunInAPlainCamelMainWithTheJarOnTheClasspath(@TempDir Path out) throws Exception {
        Main main = plainMain(overrides("plain_main_src", out));
        CompletableFuture<Integer> pollTimeout = batchPollTimeout(main);
        Thread runner = run(main);
        try {
            Path file = out.resolve("sales.customers.jsonl");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && (!Files.exists(file) || Files.readAllLines(file).size() < 180)) {
                Thread.sleep(100);
            }
            assertThat(Files.readAllLines(file)).hasSize(180);
            assertThat(pollTimeout.get(30, TimeUnit.SECONDS)).as("the batch-query consumer's idle wait between runs").isEqualTo(50);
        } finally {
            main.completed();
            runner.join(30_000);
        }
    }

    /**
     * A sync.once run ends the application after its one run, and Camel's shutdown waits for the batch-query consumer's
     * idle wait (its seda {@code pollTimeout}) to end: the configuration shortens it to 5 ms for such a run.
     */
    @Test
    void aSyncOnceRunsBatchConsumerWaitsBriefly(@TempDir Path out) throws Exception {
        Properties overrides = overrides("plain_main_once_src", out);
        overrides.setProperty("sync.once", "true");
        overrides.setProperty("sync.repeat_count", "1");
        Main main = plainMain(overrides);
        CompletableFuture<Integer> pollTimeout = batchPollTimeout(main);
        Thread runner = run(main);
        try {
            assertThat(pollTimeout.get(60, TimeUnit.SECONDS)).isEqualTo(5);
        } finally {
            main.completed();
            runner.join(30_000);
        }
    }

    /** A FULL_TABLE run of a new source database's sales schema into jsonl files in the directory. */
    private static Properties overrides(String database, Path out) throws Exception {
        TestPostgres pg = TestPostgres.server();
        String source = SourceFixture.createSource(pg, database);
        Properties overrides = new Properties();
        overrides.setProperty("source.host", pg.host());
        overrides.setProperty("source.port", Integer.toString(pg.port()));
        overrides.setProperty("source.database", source);
        overrides.setProperty("source.username", pg.user());
        overrides.setProperty("source.password", pg.password());
        overrides.setProperty("source.schema", "sales");
        overrides.setProperty("source.replication_method", "FULL_TABLE");
        overrides.setProperty("destination.directory", out.toString());
        overrides.setProperty("camel.main.routes-include-pattern", "file:routes/*.camel.yaml,file:routes/destinations/jsonl.camel.yaml");
        return overrides;
    }

    /** A plain Camel Main with application.properties and the overrides: no PgSourceMain. */
    private static Main plainMain(Properties overrides) {
        Main main = new Main();
        main.setPropertyPlaceholderLocations("file:application.properties");
        main.setOverrideProperties(overrides);
        return main;
    }

    private static Thread run(Main main) {
        Thread runner = new Thread(() -> {
            try {
                main.run();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        runner.start();
        return runner;
    }

    /** The pollTimeout of the batch-query route's seda consumer, once Camel has started. */
    private static CompletableFuture<Integer> batchPollTimeout(Main main) {
        CompletableFuture<Integer> pollTimeout = new CompletableFuture<>();
        main.addMainListener(new MainListenerSupport() {
            @Override
            public void afterStart(BaseMainSupport started) {
                pollTimeout.complete(((SedaEndpoint) started.getCamelContext().getRoute("batch-query").getEndpoint()).getPollTimeout());
            }
        });
        return pollTimeout;
    }
}
