package io.pgsource.sink.discard;

import io.pgsource.batch.Bookmark;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.Position;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.state.MemoryPositionStore;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code discard} destination (bean {@value #BEAN_NAME}): accepts every batch and drops it, so a run measures
 * everything pgsource does up to the destination. It counts changes and batches and logs the totals and the rate
 * when it stops. Positions are kept in memory only ({@link MemoryPositionStore}).
 *
 * <p>Two benchmark aids, both off by default:
 * <ul>
 * <li>{@code assumeCopied}: every table's copy counts as complete, so LOG_BASED on an existing slot streams at once
 * instead of first copying the tables (the copy would be discarded anyway);</li>
 * <li>{@code latencyFile}: for every log batch that ends a source transaction, one line with the microseconds from
 * the source commit time to the moment this sink saw the batch (same machine clock).</li>
 * </ul>
 */
public final class DiscardSink extends ServiceSupport implements Processor {
    /** The bean name routes refer to. */
    public static final String BEAN_NAME = "discardSink";
    private static final Logger LOG = LoggerFactory.getLogger(DiscardSink.class);
    /** What a finished FULL_TABLE copy of a table stores; reported for every table with assumeCopied. */
    private static final String COPIED = new Bookmark(ReplicationMethod.FULL_TABLE, List.of(), List.of(), true).serialize();

    private final MemoryPositionStore positions = new MemoryPositionStore();
    private final boolean assumeCopied;
    private final Path latencyFile;
    private final AtomicLong changes = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private volatile Instant first;
    private volatile Instant last;
    private BufferedWriter latencies;

    /**
     * @param assumeCopied report every table's copy as complete (LOG_BASED then streams only)
     * @param latencyFile  where to write per-transaction latencies in microseconds, or null for none
     */
    public DiscardSink(boolean assumeCopied, Path latencyFile) {
        this.assumeCopied = assumeCopied;
        this.latencyFile = latencyFile;
    }

    /** Positions in memory; with assumeCopied every table stream reads as copied. */
    public PositionStore positionStore() {
        return new PositionStore() {
            @Override
            public Optional<String> load(String stream) {
                Optional<String> stored = positions.load(stream);
                return stored.isPresent() || !assumeCopied || stream.startsWith("slot:") ? stored : Optional.of(COPIED);
            }

            @Override
            public void save(String stream, String position) {
                positions.save(stream, position);
            }
        };
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        Instant now = Instant.now();
        ChangeBatch batch = exchange.getIn().getMandatoryBody(ChangeBatch.class);
        if (first == null) {
            first = now;
        }
        last = now;
        changes.addAndGet(batch.size());
        batches.incrementAndGet();
        Position position = batch.position();
        if (latencies != null && batch.last() && position instanceof Position.Log log && log.commitTime() != null) {
            writeLatency(ChronoUnit.MICROS.between(log.commitTime().toInstant(), now));
        }
        if (position != null) {
            positions.save(Positions.stream(position, exchange), Positions.value(position));
        }
    }

    private synchronized void writeLatency(long micros) throws IOException {
        latencies.write(Long.toString(micros));
        latencies.newLine();
        latencies.flush();
    }

    @Override
    protected void doStart() throws Exception {
        if (latencyFile != null) {
            latencies = Files.newBufferedWriter(latencyFile, StandardCharsets.UTF_8);
        }
    }

    @Override
    protected synchronized void doStop() throws Exception {
        if (latencies != null) {
            latencies.close();
            latencies = null;
        }
        Instant a = first;
        Instant b = last;
        long n = changes.get();
        double seconds = a == null ? 0 : Duration.between(a, b).toNanos() / 1e9;
        LOG.info("Discarded {} change(s) in {} batch(es); first batch at {}, last at {}; {} changes/s between them "
                        + "[discard changes={} batches={} firstMs={} lastMs={}]",
                n, batches.get(), a, b, seconds > 0 ? Math.round(n / seconds) : "-",
                n, batches.get(), a == null ? 0 : a.toEpochMilli(), b == null ? 0 : b.toEpochMilli());
    }
}
