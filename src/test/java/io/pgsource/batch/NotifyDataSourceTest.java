package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.config.ConfigurationException;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceSettings;
import io.pgsource.config.SslSettings;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The listening connection of source.notify, checked at the start: a failure is one line with what to check. */
class NotifyDataSourceTest {
    @Test
    void aListeningConnectionThatCannotBeMadeStopsTheStartWithWhatToCheck() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        SourceSettings settings = new SourceSettings("127.0.0.1", closed, "shop", "pgsource", "Notify-Check-Secret-9", List.of("public"),
                List.of(), "slot", "pub", 1000, ReplicationMethod.INCREMENTAL, "updated_at", Map.of(), Duration.ZERO, SslSettings.NONE);
        assertThatThrownBy(() -> NotifyDataSource.check(NotifyDataSource.of(settings), settings))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageStartingWith("source.notify=true: the LISTEN connection (Camel's pgevent, through pgjdbc-ng) to 127.0.0.1:"
                        + closed + "/shop failed: ")
                .hasMessageEndingWith("or unset source.notify")
                .hasMessageNotContaining("Notify-Check-Secret-9")
                .hasMessageNotContaining("\n");
    }
}
