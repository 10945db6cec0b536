package io.pgsource.pgoutput;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.camel.CamelContext;
import org.apache.camel.Endpoint;
import org.apache.camel.spi.annotations.Component;
import org.apache.camel.support.HealthCheckComponent;

/**
 * The {@code pgoutput:} component: PostgreSQL logical replication (pgoutput plugin) as a Camel consumer. It knows its
 * running consumers by slot, so an application asks it for a slot's state ({@link #status(CamelContext, String)})
 * without knowing which route reads the slot, or whether another endpoint ({@code master:}) wraps it.
 */
@Component("pgoutput")
public class PgOutputComponent extends HealthCheckComponent {
    private final Map<String, PgOutputConsumer> consumers = new ConcurrentHashMap<>();

    @Override
    protected Endpoint createEndpoint(String uri, String remaining, Map<String, Object> parameters) throws Exception {
        PgOutputConfiguration configuration = new PgOutputConfiguration();
        configuration.setSlot(remaining);
        PgOutputEndpoint endpoint = new PgOutputEndpoint(uri, this, configuration);
        setProperties(endpoint, parameters);
        return endpoint;
    }

    /** The state of the consumer running on the slot, if one runs in this component. */
    public Optional<PgOutputConsumer.Status> status(String slot) {
        return Optional.ofNullable(consumers.get(slot)).map(PgOutputConsumer::status);
    }

    /** The state of the consumer running on the slot in any pgoutput component of the context (whatever its scheme). */
    public static Optional<PgOutputConsumer.Status> status(CamelContext context, String slot) {
        for (String name : context.getComponentNames()) {
            if (context.hasComponent(name) instanceof PgOutputComponent component) {
                Optional<PgOutputConsumer.Status> status = component.status(slot);
                if (status.isPresent()) {
                    return status;
                }
            }
        }
        return Optional.empty();
    }

    void started(PgOutputConsumer consumer) {
        consumers.put(consumer.getEndpoint().getConfiguration().getSlot(), consumer);
    }

    void stopped(PgOutputConsumer consumer) {
        consumers.remove(consumer.getEndpoint().getConfiguration().getSlot(), consumer);
    }
}
