package io.pgsource.app;

import org.apache.camel.CamelContext;
import org.apache.camel.DelegateEndpoint;
import org.apache.camel.Endpoint;
import org.apache.camel.Exchange;
import org.apache.camel.Route;
import org.apache.camel.support.RoutePolicySupport;

/**
 * Marks a route that plays a part in the capture, so pgsource's Java code knows the route by its part and never by its
 * id: each route file names its part's bean as its {@code routePolicy} ({@code pgsourceLogReplication},
 * {@code pgsourceBatchQuery}, {@code pgsourcePipeline}), and Camel hands the route to it when the route is set up. A
 * user may rename or rewrite the routes; the part stays with whichever route refers to it.
 */
final class CaptureRoute extends RoutePolicySupport {

    /** The parts a route plays. */
    enum Part {
        /** Reads the replication slot ({@code pgoutput:}); started after the copy, if one is needed. */
        LOG_REPLICATION("pgsourceLogReplication"),
        /** The timer-driven batch query. */
        BATCH_QUERY("pgsourceBatchQuery"),
        /** The shared pipeline the copies send their pages to directly. */
        PIPELINE("pgsourcePipeline");

        /** The bean the route file names as its routePolicy. */
        final String bean;

        Part(String bean) {
            this.bean = bean;
        }
    }

    private final Part part;
    private volatile Route route;

    CaptureRoute(Part part) {
        this.part = part;
    }

    Part part() {
        return part;
    }

    /** Binds one bean per part; the route files refer to them. */
    static void bind(CamelContext context) {
        for (Part part : Part.values()) {
            context.getRegistry().bind(part.bean, new CaptureRoute(part));
        }
    }

    /** The bean of a part, as bound in the context. */
    static CaptureRoute of(CamelContext context, Part part) {
        CaptureRoute found = context.getRegistry().lookupByNameAndType(part.bean, CaptureRoute.class);
        if (found == null) {
            throw new IllegalStateException("no " + part.bean + " bean: pgsource's configuration class did not run");
        }
        return found;
    }

    @Override
    public void onInit(Route route) {
        this.route = route;
    }

    @Override
    public void onRemove(Route route) {
        if (this.route == route) {
            this.route = null;
        }
    }

    /** The route playing this part, or null when no route file refers to it. */
    Route route() {
        return route;
    }

    /** Whether the exchange started in this part's route. */
    boolean startedHere(Exchange exchange) {
        Route r = route;
        return r != null && r.getRouteId().equals(exchange.getFromRouteId());
    }

    /** Starts the route (declared with {@code autoStartup: false}). */
    void startRoute() throws Exception {
        startRoute(required());
    }

    /** Stops the route; nothing when no route plays this part. */
    void stopRoute() throws Exception {
        Route r = route;
        if (r != null) {
            stopRoute(r);
        }
    }

    /** The endpoint the route consumes from, unwrapped from a delegating one ({@code master:} under sync.ha). */
    Endpoint endpoint() {
        Endpoint endpoint = required().getEndpoint();
        while (endpoint instanceof DelegateEndpoint delegate) {
            endpoint = delegate.getEndpoint();
        }
        return endpoint;
    }

    private Route required() {
        Route r = route;
        if (r == null) {
            throw new IllegalStateException("no route has routePolicy " + part.bean + ": the route files of pgsource set it on the"
                    + " route that plays this part");
        }
        return r;
    }
}
