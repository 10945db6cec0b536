package io.pgsource.app;

import org.apache.camel.Exchange;
import org.apache.camel.ExchangePropertyKey;
import org.apache.camel.spi.CamelEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the runs of the batch-query route: logs how each run ended and, with {@code sync.once}, ends the
 * application after the first run with its outcome.
 */
public final class BatchRunMonitor extends ExchangeEndNotifier {
    private static final Logger LOG = LoggerFactory.getLogger(BatchRunMonitor.class);
    public static final String ROUTE_ID = "batch-query";

    private final SyncOnce once;
    private final java.time.Duration interval;

    /**
     * @param once     with sync.once, where the first run's outcome goes; null otherwise
     * @param interval the time between runs (for the log)
     */
    public BatchRunMonitor(SyncOnce once, java.time.Duration interval) {
        this.once = once;
        this.interval = interval;
    }

    @Override
    public boolean isEnabled(CamelEvent event) {
        if (!(event instanceof CamelEvent.ExchangeCompletedEvent) && !(event instanceof CamelEvent.ExchangeFailedEvent)) {
            return false;
        }
        Exchange exchange = ((CamelEvent.ExchangeEvent) event).getExchange();
        // only the run itself, not the split's per-table copies
        return ROUTE_ID.equals(exchange.getFromRouteId()) && exchange.getProperty(ExchangePropertyKey.CORRELATION_ID) == null;
    }

    @Override
    public void notify(CamelEvent event) {
        Exchange exchange = ((CamelEvent.ExchangeEvent) event).getExchange();
        long millis = System.currentTimeMillis() - exchange.getClock().getCreated();
        Throwable error = exchange.getException();
        if (error == null) {
            error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        }
        if (error != null) {
            LOG.error("Batch run failed after {} ms: {}. Nothing after the last committed page was bookmarked; the next run resumes there.",
                    millis, rootMessage(error));
        } else {
            LOG.info(once != null ? "Batch run finished in {} ms" : "Batch run finished in {} ms; next run in {}", millis,
                    interval.toString().substring(2).toLowerCase(java.util.Locale.ROOT));
        }
        if (once != null) {
            once.finish(error);
        }
    }

    static String rootMessage(Throwable t) {
        // Camel's wrappers ("Multicast processing failed for number 0. Exchange[...]. Caused by: ...") add nothing
        while (t instanceof org.apache.camel.CamelExchangeException && t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        StringBuilder sb = new StringBuilder(String.valueOf(t.getMessage()));
        Throwable c = t.getCause();
        while (c != null && c != t) {
            if (c.getMessage() != null && !sb.toString().contains(c.getMessage())) {
                sb.append(": ").append(c.getMessage());
            }
            t = c;
            c = c.getCause();
        }
        return sb.toString();
    }
}
