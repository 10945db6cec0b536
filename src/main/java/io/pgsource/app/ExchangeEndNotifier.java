package io.pgsource.app;

import org.apache.camel.support.EventNotifierSupport;

/**
 * An event notifier that hears only how exchanges end (completed, failed): Camel then does not create the other events
 * for it at all, on every exchange and step.
 */
abstract class ExchangeEndNotifier extends EventNotifierSupport {
    ExchangeEndNotifier() {
        setIgnoreCamelContextEvents(true);
        setIgnoreRouteEvents(true);
        setIgnoreServiceEvents(true);
        setIgnoreStepEvents(true);
        setIgnoreExchangeCreatedEvent(true);
        setIgnoreExchangeSentEvents(true);
        setIgnoreExchangeSendingEvents(true);
        setIgnoreExchangeRedeliveryEvents(true);
    }
}
