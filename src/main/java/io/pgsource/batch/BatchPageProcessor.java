package io.pgsource.batch;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Position;
import io.pgsource.config.SourceConnections;
import io.pgsource.state.PositionStore;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;
import java.util.concurrent.Executor;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.support.SynchronizationAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code batchPage} processor: reads the next page of the {@link StreamTask} found in the exchange property
 * {@value #TASK}, replaces the body with that page (a {@link ChangeBatch}) and sets {@value #MORE_PAGES} to
 * whether more pages follow.
 *
 * <p>The first call of a stream run loads the stream's bookmark from the {@link PositionStore} and opens one
 * source connection, kept (in an exchange property) for the run's pages and closed after the last page, or when
 * the exchange completes or fails, whichever comes first. Each page is read in its own transaction, the next one
 * while the current one goes down the pipeline ({@link PrefetchingPageReader}).
 */
public final class BatchPageProcessor implements Processor {
    /** Exchange property holding the {@link StreamTask} to read. */
    public static final String TASK = "PgSourceStreamTask";
    /** Exchange property set to {@code Boolean.TRUE} while more pages of the stream follow. */
    public static final String MORE_PAGES = "PgSourceMorePages";
    /** Exchange property holding the open reader of the current stream run. */
    static final String READER = "PgSourceStreamReader";

    private static final Logger LOG = LoggerFactory.getLogger(BatchPageProcessor.class);

    private final SourceConnections connections;
    private final PositionStore positions;
    private final Executor readers;

    /** @param readers runs the reads ahead: each run reads its next page there while the current one is applied */
    public BatchPageProcessor(SourceConnections connections, PositionStore positions, Executor readers) {
        this.connections = connections;
        this.positions = positions;
        this.readers = readers;
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        StreamTask task = exchange.getProperty(TASK, StreamTask.class);
        if (task == null) {
            throw new IllegalStateException("batchPage needs the stream to read in the exchange property " + TASK
                    + " (set it from a StreamTask of batchStreams)");
        }
        PageReader reader = exchange.getProperty(READER, PageReader.class);
        if (reader != null && reader.task() != task) {
            reader.close();
            reader = null;
        }
        if (reader == null) {
            reader = open(task);
            exchange.setProperty(READER, reader);
            PageReader run = reader;
            exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
                @Override
                public void onDone(Exchange done) {
                    run.close();
                }
            });
        }
        ChangeBatch page;
        try {
            page = reader.next();
        } catch (Exception e) {
            exchange.removeProperty(READER);
            reader.close();
            throw e;
        }
        boolean more = reader.more();
        if (!more) {
            exchange.removeProperty(READER);
            reader.close();
        }
        exchange.getMessage().setBody(page);
        exchange.getMessage().setHeader(ChangeHeaders.STREAM, task.stream());
        exchange.getMessage().setHeader(ChangeHeaders.BOOKMARK, ((Position.Batch) page.position()).bookmark());
        exchange.setProperty(MORE_PAGES, more);
    }

    private PageReader open(StreamTask task) throws SQLException {
        Bookmark stored = storedBookmark(task);
        Connection connection = connections.open();
        try {
            connection.setAutoCommit(false);
            connection.setReadOnly(true);
            LOG.debug("{}: starting a run", task);
            PageReader reader = task.keyless() ? new CtidPageReader(task, connection) : new KeysetPageReader(task, connection, stored);
            return new PrefetchingPageReader(reader, readers);
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        }
    }

    private Bookmark storedBookmark(StreamTask task) {
        Optional<String> text = positions.load(task.stream());
        if (text.isEmpty()) {
            return null;
        }
        try {
            return Bookmark.parse(text.get());
        } catch (IllegalArgumentException e) {
            LOG.warn("{}: the stored bookmark cannot be read ({}); reading the table from the beginning", task.stream(), e.getMessage());
            return null;
        }
    }
}
