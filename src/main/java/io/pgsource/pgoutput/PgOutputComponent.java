package io.pgsource.pgoutput;

import java.util.Map;
import org.apache.camel.Endpoint;
import org.apache.camel.spi.annotations.Component;
import org.apache.camel.support.HealthCheckComponent;

/** The {@code pgoutput:} component: PostgreSQL logical replication (pgoutput plugin) as a Camel consumer. */
@Component("pgoutput")
public class PgOutputComponent extends HealthCheckComponent {

    @Override
    protected Endpoint createEndpoint(String uri, String remaining, Map<String, Object> parameters) throws Exception {
        PgOutputConfiguration configuration = new PgOutputConfiguration();
        configuration.setSlot(remaining);
        PgOutputEndpoint endpoint = new PgOutputEndpoint(uri, this, configuration);
        setProperties(endpoint, parameters);
        return endpoint;
    }
}
