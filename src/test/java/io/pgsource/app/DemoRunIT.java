package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's run command with no configuration: the packaged jar starts the embedded PostgreSQL, creates the
 * demo database and syncs it (here once, so the test ends) into JSON Lines files.
 */
class DemoRunIT {

    @Test
    void packagedJarSyncsTheDemoWithNoConfiguration(@TempDir Path workDir) throws Exception {
        Path jar = Path.of("target", "pgsource.jar").toAbsolutePath();
        assertThat(jar).exists();
        Path log = workDir.resolve("run.log");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", jar.toString())
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().put("SYNC_ONCE", "true");
        Process p = pb.start();
        boolean ended = p.waitFor(5, TimeUnit.MINUTES);
        if (!ended) {
            p.destroyForcibly();
        }
        String output = Files.readString(log);
        assertThat(ended).as(output).isTrue();
        assertThat(p.exitValue()).as(output).isZero();
        assertThat(output).contains("embedded PostgreSQL").contains("Sync finished");

        Path out = workDir.resolve("output");
        List<Path> files;
        try (Stream<Path> s = Files.list(out)) {
            files = s.filter(f -> f.toString().endsWith(".jsonl")).sorted().toList();
        }
        assertThat(files.stream().map(f -> f.getFileName().toString()))
                .contains("shop.customers.jsonl", "shop.orders.jsonl", "crm.customers.jsonl", "crm.audit_log.jsonl");
        // LOG_BASED by default: the initial copy inside the slot's snapshot (a truncate, then every row as a read)
        assertThat(Files.readAllLines(out.resolve("shop.orders.jsonl")).stream().filter(l -> l.startsWith("{\"op\":\"r\"")))
                .hasSize(3000);
        assertThat(new File(out.toFile(), "shop.order_items.jsonl")).exists();
    }
}
