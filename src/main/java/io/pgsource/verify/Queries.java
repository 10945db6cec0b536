package io.pgsource.verify;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import javax.sql.DataSource;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.jdbc.JdbcConstants;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;

/**
 * The queries of verify and repair, run through Camel's {@code jdbc:} component: the route file
 * {@code routes/verify/verify.camel.yaml} sends each statement to {@code jdbc:verifySource} or
 * {@code jdbc:verifyDestination}, the DataSource beans this class binds (a user may point the endpoints at beans of their
 * own). Every query returns one row or a few: a range's count and checksum, a few split points, the keys of a small
 * range. One statement per exchange costs nothing next to the servers' work.
 */
final class Queries implements AutoCloseable {
    static final String SOURCE = "direct:verify-source";
    static final String DESTINATION = "direct:verify-destination";

    private final CamelContext context;
    private final ProducerTemplate template;
    private final HikariDataSource source;
    private final HikariDataSource destination;

    /** The sides' DataSources, each behind a pool of one connection (a connection per statement would cost more than it). */
    Queries(DataSource sourceDataSource, DataSource destinationDataSource) throws Exception {
        source = pool("pgsource-verify-source", sourceDataSource);
        destination = pool("pgsource-verify-destination", destinationDataSource);
        context = new DefaultCamelContext();
        context.getRegistry().bind("verifySource", source);
        context.getRegistry().bind("verifyDestination", destination);
        String base = Files.isRegularFile(Path.of("routes", "verify", "verify.camel.yaml")) ? "file:" : "classpath:";
        PluginHelper.getRoutesLoader(context).loadRoutes(ResourceHelper.resolveMandatoryResource(context,
                base + "routes/verify/verify.camel.yaml"));
        context.start();
        template = context.createProducerTemplate();
    }

    /** The rows of a query at one side ({@link #SOURCE} or {@link #DESTINATION}), each column by its label. */
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> query(String side, String sql, Map<String, Object> parameters) throws SQLException {
        Exchange done = template.send(side, e -> {
            e.getMessage().setBody(sql);
            e.getMessage().setHeader(JdbcConstants.JDBC_PARAMETERS, parameters);
        });
        if (done.getException() != null) {
            Exception failure = done.getException();
            if (failure instanceof SQLException sql1) {
                throw sql1;
            }
            throw new SQLException(failure.getMessage(), failure);
        }
        return done.getMessage().getBody(List.class);
    }

    /** The one row of a query. */
    Map<String, Object> one(String side, String sql, Map<String, Object> parameters) throws SQLException {
        List<Map<String, Object>> rows = query(side, sql, parameters);
        return rows.isEmpty() ? Map.of() : rows.get(0);
    }

    private static HikariDataSource pool(String name, DataSource dataSource) {
        if (dataSource instanceof HikariDataSource pooled) {
            return pooled;
        }
        HikariConfig config = new HikariConfig();
        config.setPoolName(name);
        config.setDataSource(dataSource);
        config.setMaximumPoolSize(1);
        config.setMinimumIdle(0);
        // a side that cannot be reached fails the command at its first query, with the driver's message
        config.setInitializationFailTimeout(-1);
        return new HikariDataSource(config);
    }

    @Override
    public void close() {
        context.stop();
        source.close();
        destination.close();
    }
}
