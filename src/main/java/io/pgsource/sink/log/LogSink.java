package io.pgsource.sink.log;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.sink.json.ChangeEnvelope;
import io.pgsource.state.MemoryPositionStore;
import io.pgsource.state.PositionStore;
import io.pgsource.sink.Destination;
import io.pgsource.sink.DestinationContext;
import io.pgsource.sink.StoredPosition;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code log} destination: one line per change, the {@link ChangeEnvelope}, logged at INFO through the SLF4J logger
 * {@value #LOGGER}. Positions are kept in memory only ({@link MemoryPositionStore}): the source re-reads from the start
 * after a restart.
 */
public final class LogSink implements Destination {
    /** The value of {@code destination} that selects it. */
    public static final String NAME = "log";
    /** The logger every change goes to. */
    public static final String LOGGER = "io.pgsource.changes";
    private static final Logger CHANGES = LoggerFactory.getLogger(LOGGER);

    private final MemoryPositionStore positions = new MemoryPositionStore();

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void open(DestinationContext context) {
        // nothing to prepare
    }

    /** Positions of what was logged, in memory only (lost on restart). */
    @Override
    public PositionStore positions() {
        return positions;
    }

    @Override
    public void write(Exchange exchange, ChangeBatch batch, StoredPosition position) {
        ChangeEnvelope.Part part = ChangeEnvelope.Part.of(batch, exchange.getIn().getHeader(ChangeEnvelope.PART_HEADER, Integer.class));
        for (ChangeEvent e : batch) {
            if (CHANGES.isInfoEnabled()) {
                CHANGES.info(ChangeEnvelope.toJson(e, batch.position(), part));
            }
        }
    }
}
