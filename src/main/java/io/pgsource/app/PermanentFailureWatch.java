package io.pgsource.app;

import io.pgsource.change.ChangeHeaders;
import io.pgsource.sink.reject.DestinationErrors;
import java.util.Set;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangePropertyKey;
import org.apache.camel.spi.CamelEvent;

/**
 * Watches the capture's exchanges (log replication, batch-query runs, and the initial copy's pages sent straight to the
 * pipeline) and hands a failure retrying cannot fix ({@link DestinationErrors#permanent}) to {@link FatalStop}.
 * Transient failures (a lost connection, a deadlock) are left to the retries: the consumer's backoff, the next run.
 */
final class PermanentFailureWatch extends ExchangeEndNotifier {
    private static final Set<String> ROUTES = Set.of(CaptureStarter.LOG_ROUTE, CaptureStarter.BATCH_ROUTE, "pipeline");

    private final FatalStop stop;

    PermanentFailureWatch(FatalStop stop) {
        this.stop = stop;
        setIgnoreExchangeCompletedEvent(true);
    }

    @Override
    public boolean isEnabled(CamelEvent event) {
        if (!(event instanceof CamelEvent.ExchangeFailedEvent failed)) {
            return false;
        }
        Exchange exchange = failed.getExchange();
        // a whole run or transaction, not the split's per-table copies inside a batch-query run, nor transactions the
        // pgoutput: consumer combined (it delivers them again one by one, and stops on the one that fails alone)
        return ROUTES.contains(exchange.getFromRouteId()) && exchange.getProperty(ExchangePropertyKey.CORRELATION_ID) == null
                && exchange.getIn().getHeader(ChangeHeaders.TX_COUNT, 1, Integer.class) == 1;
    }

    @Override
    public void notify(CamelEvent event) {
        Exchange exchange = ((CamelEvent.ExchangeFailedEvent) event).getExchange();
        Throwable error = exchange.getException();
        if (error == null) {
            error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        }
        if (error != null && DestinationErrors.permanent(error)) {
            stop.stop(error);
        }
    }
}
