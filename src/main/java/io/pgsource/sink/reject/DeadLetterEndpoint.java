package io.pgsource.sink.reject;

import java.util.List;
import org.apache.camel.CamelContext;
import org.apache.camel.Endpoint;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.util.URISupport;

/**
 * {@code destination.dead_letter_uri}: sends each change the destination refused, as one JSON message
 * ({@link RejectedChange#toJson()}), to any Camel endpoint ({@code file:dead-letter}, {@code direct:myHandler},
 * {@code kafka:...}), synchronously and in source order; a failed send fails the batch, so nothing is lost. Headers:
 * {@value #TABLE_HEADER} ({@code schema.table}), {@value #SQL_STATE_HEADER}, {@value #POSITION_HEADER}.
 */
public final class DeadLetterEndpoint implements RejectedChanges, AutoCloseable {
    public static final String TABLE_HEADER = "PgSourceRejectedTable";
    public static final String SQL_STATE_HEADER = "PgSourceRejectedSqlState";
    public static final String POSITION_HEADER = "PgSourceRejectedPosition";

    private final CamelContext context;
    private final Endpoint endpoint;
    private ProducerTemplate template;

    /** Resolves the endpoint now, so a wrong URI stops pgsource at start. */
    public DeadLetterEndpoint(CamelContext context, String uri) {
        this.context = context;
        this.endpoint = context.getEndpoint(uri);
    }

    @Override
    public synchronized void accept(List<RejectedChange> rejected) throws Exception {
        if (template == null) {
            template = context.createProducerTemplate();
        }
        for (RejectedChange r : rejected) {
            Exchange done = template.send(endpoint, e -> {
                e.getMessage().setBody(r.toJson());
                e.getMessage().setHeader(Exchange.CONTENT_TYPE, "application/json");
                e.getMessage().setHeader(TABLE_HEADER, r.change().tableId().toString());
                e.getMessage().setHeader(SQL_STATE_HEADER, r.sqlState());
                e.getMessage().setHeader(POSITION_HEADER, r.where());
            });
            if (done.getException() != null) {
                throw done.getException();
            }
        }
    }

    @Override
    public String describe() {
        return URISupport.sanitizeUri(endpoint.getEndpointUri());
    }

    @Override
    public synchronized void close() throws Exception {
        if (template != null) {
            template.close();
        }
    }
}
