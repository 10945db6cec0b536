package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.impossibl.postgres.jdbc.PGDataSource;

import io.pgsource.config.ConfigurationException;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.SourceSettings;
import io.pgsource.config.SslSettings;
import java.net.ServerSocket;
import java.sql.SQLException;
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

    @Test
    void theDataSourceBoundWithoutNotifyIsTheSameOneMadeAtItsFirstUse() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        SourceSettings settings = new SourceSettings("127.0.0.1", closed, "shop", "pgsource", "secret", List.of("public"),
                List.of(), "slot", "pub", 1000, ReplicationMethod.INCREMENTAL, "updated_at", Map.of(), Duration.ZERO, SslSettings.NONE);
        PGDataSource made = NotifyDataSource.lazy(settings).unwrap(PGDataSource.class);
        assertThat(made.getServerName()).isEqualTo("127.0.0.1");
        assertThat(made.getPortNumber()).isEqualTo(closed);
        assertThat(made.getDatabaseName()).isEqualTo("shop");
        assertThat(made.getUser()).isEqualTo("pgsource");
        assertThat(made.getSslMode()).isEqualTo("prefer");
        assertThatThrownBy(() -> NotifyDataSource.lazy(settings).getConnection()).isInstanceOf(SQLException.class)
                .hasMessageContaining(String.valueOf(closed));
    }
}
