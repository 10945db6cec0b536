package io.pgsource.sink.discard;

import io.pgsource.change.ChangeBatch;
import io.pgsource.sink.Destination;
import io.pgsource.sink.DestinationContext;
import io.pgsource.sink.StoredPosition;
import io.pgsource.state.MemoryPositionStore;
import io.pgsource.state.PositionStore;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code discard} destination: accepts every batch and drops it, so a run measures
 * everything pgsource does up to the destination. It counts changes and batches and logs the totals and the rate
 * when it stops. Positions are kept in memory only ({@link MemoryPositionStore}).
 *
 * <p>Two benchmark aids, both off by default ({@code -Ddestination.discard.assume_copied=true},
 * {@code -Ddestination.discard.latency_file=...}):
 * <ul>
 * <li>{@code assumeCopied}: every table's copy counts as complete, so LOG_BASED on an existing slot streams at once
 * instead of first copying the tables (the copy would be discarded anyway);</li>
 * <li>{@code latencyFile}: for every log batch that ends a source transaction, one line with the microseconds from
 * the source commit time to the moment this sink saw the batch (same machine clock).</li>
 * </ul>
 */
public final class DiscardSink implements Destination {
    /** The value of {@code destination} that selects it. */
    public static final String NAME = "discard";
    private static final Logger LOG = LoggerFactory.getLogger(DiscardSink.class);

    private final MemoryPositionStore positions = new MemoryPositionStore();
    /** What a table whose copy is complete stores; null unless every table's copy is assumed complete. */
    private String copied;
    private Path latencyFile;
    private final AtomicLong changes = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private volatile Instant first;
    private volatile Instant last;
    private BufferedWriter latencies;

    /** Made by the registry ({@link io.pgsource.sink.Destinations}); {@link #open} reads the benchmark aids. */
    public DiscardSink() {
    }

    /**
     * @param copied      what a table whose copy is complete stores, to report every table's copy as complete (LOG_BASED
     *                    then streams only); null for none
     * @param latencyFile where to write per-transaction latencies in microseconds, or null for none
     */
    public DiscardSink(String copied, Path latencyFile) {
        this.copied = copied;
        this.latencyFile = latencyFile;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void open(DestinationContext context) throws IOException {
        copied = Boolean.parseBoolean(context.property("destination.discard.assume_copied", "false")) ? context.copiedTable() : null;
        String file = context.property("destination.discard.latency_file", "");
        latencyFile = file.isEmpty() ? null : Path.of(file);
        start();
    }

    /** Whole batches are dropped in one step: waiting transactions may come combined. */
    @Override
    public boolean transactional() {
        return true;
    }

    /** Positions in memory; with assumeCopied every table stream reads as copied. */
    @Override
    public PositionStore positions() {
        return new PositionStore() {
            @Override
            public Optional<String> load(String stream) {
                Optional<String> stored = positions.load(stream);
                return stored.isPresent() || copied == null || stream.startsWith("slot:") ? stored : Optional.of(copied);
            }

            @Override
            public void save(String stream, String position) {
                positions.save(stream, position);
            }

            @Override
            public void saveAll(Map<String, String> all) {
                positions.saveAll(all);
            }
        };
    }

    /** It counts a transaction applied while in progress as it arrives, and only once it committed. */
    @Override
    public boolean appliesInProgress() {
        return true;
    }

    /** Whether a source transaction is counted in progress, and what its parts count so far. */
    private boolean inProgressOpen;
    private long inProgressChanges;
    private long inProgressBatches;

    @Override
    public synchronized boolean writeInProgress(Exchange exchange, ChangeBatch batch, boolean firstPart) {
        if (firstPart) {
            inProgressOpen = true;
            inProgressChanges = 0;
            inProgressBatches = 0;
        } else if (!inProgressOpen) {
            return false;
        }
        if (first == null) {
            first = Instant.now();
        }
        inProgressChanges += batch.size();
        inProgressBatches++;
        return true;
    }

    @Override
    public synchronized boolean commitInProgress(Exchange exchange, StoredPosition position) throws IOException {
        if (!inProgressOpen) {
            return false;
        }
        inProgressOpen = false;
        changes.addAndGet(inProgressChanges);
        batches.addAndGet(inProgressBatches - 1); // write() counts the commit's
        write(exchange, new ChangeBatch(List.of(), exchange.getIn().getBody(ChangeBatch.class).position(), true), position);
        return true;
    }

    @Override
    public synchronized void rollbackInProgress() {
        inProgressOpen = false;
    }

    @Override
    public void write(Exchange exchange, ChangeBatch batch, StoredPosition position) throws IOException {
        synchronized (this) {
            inProgressOpen = false; // another transaction: the one in progress is applied after its commit
        }
        Instant now = Instant.now();
        if (first == null) {
            first = now;
        }
        last = now;
        changes.addAndGet(batch.size());
        batches.incrementAndGet();
        if (latencies != null && batch.last() && batch.position() != null && batch.position().commitTime() != null) {
            writeLatency(ChronoUnit.MICROS.between(batch.position().commitTime().toInstant(), now));
        }
        if (position != null) {
            position.save(positions);
        }
    }

    private synchronized void writeLatency(long micros) throws IOException {
        latencies.write(Long.toString(micros));
        latencies.newLine();
        latencies.flush();
    }

    /** Opens the latency file, if any. */
    public void start() throws IOException {
        if (latencyFile != null) {
            latencies = Files.newBufferedWriter(latencyFile, StandardCharsets.UTF_8);
        }
    }

    @Override
    public synchronized void close() throws IOException {
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
