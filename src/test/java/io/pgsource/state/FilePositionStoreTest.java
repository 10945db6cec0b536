package io.pgsource.state;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilePositionStoreTest {
    @TempDir
    Path dir;

    @Test
    void savesDurablyAndReadsBackInANewInstance() throws Exception {
        Path file = dir.resolve("sub").resolve("_pgsource-positions.json");
        FilePositionStore store = new FilePositionStore(file);
        assertThat(store.load("public.t")).isEmpty();

        store.save("public.t", "{\"id\":5}");
        store.save("slot:s1", "0/16B3748");
        store.save("public.t", "{\"id\":9}");

        assertThat(Files.readString(file)).isEqualTo("{\"public.t\":\"{\\\"id\\\":9}\",\"slot:s1\":\"0/16B3748\"}\n");
        assertThat(Files.list(file.getParent())).containsExactly(file);
        FilePositionStore reopened = new FilePositionStore(file);
        assertThat(reopened.load("public.t")).contains("{\"id\":9}");
        assertThat(reopened.load("slot:s1")).contains("0/16B3748");
        assertThat(reopened.load("other")).isEmpty();
    }

    @Test
    void refreshReadsWhatAnotherInstanceSavedSince() {
        Path file = dir.resolve("_pgsource-positions.json");
        FilePositionStore standby = new FilePositionStore(file);
        FilePositionStore leader = new FilePositionStore(file);
        leader.save("slot:s", "0/10");
        leader.save("public.t", "done");
        assertThat(standby.load("slot:s")).isEmpty();

        standby.refresh();
        assertThat(standby.load("slot:s")).contains("0/10");
        standby.save("slot:s", "0/20");
        // saving keeps what the other instance wrote
        assertThat(new FilePositionStore(file).load("public.t")).contains("done");
    }

    @Test
    void memoryStoreForgetsOnANewInstance() {
        MemoryPositionStore a = new MemoryPositionStore();
        a.save("s", "1");
        assertThat(a.load("s")).contains("1");
        assertThat(new MemoryPositionStore().load("s")).isEmpty();
    }

    @Test
    void positionsAreStoredUnderTheStreamOrTheSlot() {
        assertThat(Positions.stream(new io.pgsource.change.Position.Batch("a.b", "x"), "ignored")).isEqualTo("a.b");
        io.pgsource.change.Position log = new io.pgsource.change.Position.Log(0x1_0000_0010L, 1, null);
        assertThat(Positions.stream(log, (String) null)).isEqualTo("slot:slot");
        assertThat(Positions.stream(log, "mine")).isEqualTo("slot:mine");
        assertThat(Positions.value(log)).isEqualTo("1/10");
    }
}
