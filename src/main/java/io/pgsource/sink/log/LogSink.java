package io.pgsource.sink.log;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.TableId;
import java.util.Map;
import io.pgsource.sink.json.ChangeEnvelope;
import io.pgsource.state.MemoryPositionStore;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code log} destination (bean {@code logSink}): one line per change, the {@link ChangeEnvelope}, logged at
 * INFO through the SLF4J logger {@value #LOGGER}. Positions are kept in memory only
 * ({@link MemoryPositionStore}): the source re-reads from the start after a restart.
 */
public final class LogSink implements Processor {
    /** The bean name routes refer to. */
    public static final String BEAN_NAME = "logSink";
    /** The logger every change goes to. */
    public static final String LOGGER = "io.pgsource.changes";
    private static final Logger CHANGES = LoggerFactory.getLogger(LOGGER);

    private final MemoryPositionStore positions = new MemoryPositionStore();

    /** Positions of what was logged, in memory only (lost on restart). */
    public PositionStore positionStore() {
        return positions;
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        @SuppressWarnings("unchecked")
        Map<TableId, Long> copiedAt = exchange.getIn().getHeader(ChangeHeaders.COPIED_AT, Map.class);
        // a change that a copy of its table, logged before, holds is not logged again
        ChangeBatch batch = Positions.withoutCopied(exchange.getIn().getMandatoryBody(ChangeBatch.class), copiedAt);
        ChangeEnvelope.Part part = ChangeEnvelope.Part.of(batch, exchange.getIn().getHeader(ChangeEnvelope.PART_HEADER, Integer.class));
        for (ChangeEvent e : batch) {
            if (CHANGES.isInfoEnabled()) {
                CHANGES.info(ChangeEnvelope.toJson(e, batch.position(), part));
            }
        }
        if (batch.position() != null) {
            positions.save(Positions.stream(batch.position(), exchange), Positions.value(batch.position()));
        }
    }
}
