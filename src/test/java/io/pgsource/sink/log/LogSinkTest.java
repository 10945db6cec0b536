package io.pgsource.sink.log;

import io.pgsource.sink.DestinationStep;
import static io.pgsource.sink.TestChanges.batch;
import static io.pgsource.sink.TestChanges.col;
import static io.pgsource.sink.TestChanges.delete;
import static io.pgsource.sink.TestChanges.insert;
import static io.pgsource.sink.TestChanges.page;
import static io.pgsource.sink.TestChanges.row;
import static io.pgsource.sink.TestChanges.table;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.pgsource.change.TableSchema;
import java.util.List;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LogSinkTest {
    @Test
    void logsOneEnvelopePerChangeAtInfoAndKeepsThePositionInMemory() throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(LogSink.LOGGER);
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        Level old = logger.getLevel();
        logger.setLevel(Level.INFO);
        try {
            TableSchema t = table("s", "t", List.of("id"), col("id", "bigint"));
            Exchange ex = new DefaultExchange(new DefaultCamelContext());
            ex.getIn().setBody(batch(page("s.t", "5"), insert(row(t, 1L)), delete(row(t, 1L))));
            LogSink sink = new LogSink();
            new DestinationStep(sink).process(ex);

            assertThat(appender.list).extracting(ILoggingEvent::getLevel).containsOnly(Level.INFO);
            assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
                    "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1},\"source\":{\"schema\":\"s\",\"table\":\"t\",\"stream\":\"s.t\",\"bookmark\":\"5\"}}",
                    "{\"op\":\"d\",\"before\":{\"id\":1},\"after\":null,\"source\":{\"schema\":\"s\",\"table\":\"t\",\"stream\":\"s.t\",\"bookmark\":\"5\"}}");
            assertThat(sink.positions().load("s.t")).contains("5");
        } finally {
            logger.detachAppender(appender);
            logger.setLevel(old);
        }
    }
}
