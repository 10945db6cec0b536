package io.pgsource.batch;

import io.pgsource.change.ChangeBatch;
import java.sql.SQLException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the next page on another thread while the caller sends the current one down the pipeline, so the source
 * server, the type mapping and the destination work at the same time instead of taking turns. At most one page is
 * read ahead (memory: two pages). Pages, their order and their bookmarks are those of the wrapped reader; a page read
 * ahead but never taken (the run failed or stopped) is dropped, and the next run resumes at the destination's
 * bookmark as always.
 */
final class PrefetchingPageReader implements PageReader {
    private static final Logger LOG = LoggerFactory.getLogger(PrefetchingPageReader.class);
    /** How long close() waits for a page still being read before closing its connection under it. */
    private static final long CLOSE_WAIT_SECONDS = 60;

    private final PageReader reader;
    private final Executor executor;
    private FutureTask<ChangeBatch> ahead;
    private boolean more = true;

    PrefetchingPageReader(PageReader reader, Executor executor) {
        this.reader = reader;
        this.executor = executor;
        readAhead();
    }

    private void readAhead() {
        ahead = new FutureTask<>(reader::next);
        executor.execute(ahead);
    }

    @Override
    public StreamTask task() {
        return reader.task();
    }

    @Override
    public boolean more() {
        return more;
    }

    @Override
    public ChangeBatch next() throws SQLException {
        if (!more) {
            throw new IllegalStateException(task().stream() + ": the run already returned its last page");
        }
        ChangeBatch page;
        try {
            page = ahead.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(task().stream() + ": interrupted while reading a page", e);
        } catch (ExecutionException e) {
            more = false;
            ahead = null;
            Throwable cause = e.getCause();
            if (cause instanceof SQLException sql) {
                throw sql;
            }
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(cause);
        }
        ahead = null;
        // the reader's state is safe to read here: get() happens after everything next() did
        more = reader.more();
        if (more) {
            readAhead();
        }
        return page;
    }

    @Override
    public void close() {
        FutureTask<ChangeBatch> pending = ahead;
        ahead = null;
        more = false;
        if (pending != null) {
            // never close the connection under a read in progress (cancel would not stop it): let it end first
            try {
                pending.get(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                LOG.debug("{}: a page read ahead is dropped: {}", task().stream(), e.toString());
            }
        }
        reader.close();
    }
}
