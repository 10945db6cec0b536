package io.pgsource.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The publication option as a list, and the name of the insert-only publication that goes with one. */
class PublicationNamesTest {

    @Test
    void aListSplitsAtCommasOutsideDoubleQuotesAndReadsBackWhatItWrites() {
        assertThat(Publications.names("a, b ,c")).containsExactly("a", "b", "c");
        assertThat(Publications.names("\"a,b\",\"say \"\"hi\"\"\",Pub \"x\"; 'ü'")).containsExactly("a,b", "say \"hi\"", "Pub \"x\"; 'ü'");
        List<String> hostile = List.of("plain", "with,comma", "with \"quote\"", "Ünï (y) &p=1%");
        assertThat(Publications.names(Publications.list(hostile))).isEqualTo(hostile);
    }

    @Test
    void theKeylessCompanionFitsPostgresNameLimit() {
        assertThat(Publications.keylessCompanion("pgsource_pub")).isEqualTo("pgsource_pub_keyless");
        String longName = "ü".repeat(31); // 62 bytes
        String companion = Publications.keylessCompanion(longName);
        assertThat(companion.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(63);
        assertThat(companion).endsWith("_keyless").startsWith("ü".repeat(27));
    }
}
