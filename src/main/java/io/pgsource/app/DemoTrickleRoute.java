package io.pgsource.app;

import io.pgsource.config.SourceConnections;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import org.apache.camel.builder.RouteBuilder;

/** Keeps the demo database changing: every second a new order, a customer update, a stock change, an audit row. */
final class DemoTrickleRoute extends RouteBuilder {
    private final SourceConnections connections;
    private Connection connection;
    private long tick;

    DemoTrickleRoute(SourceConnections connections) {
        this.connections = connections;
    }

    @Override
    public void configure() {
        from("timer:demo-trickle?period=1000&delay=1000").routeId("demo-trickle").process(exchange -> change());
    }

    private synchronized void change() throws SQLException {
        if (connection == null || connection.isClosed()) {
            connection = connections.open();
        }
        tick++;
        try (Statement s = connection.createStatement()) {
            s.execute("""
                    WITH o AS (
                      INSERT INTO shop.orders (customer_id, total, placed_at) VALUES (1 + (random() * 999)::int, 0, now()) RETURNING id)
                    INSERT INTO shop.order_items (order_id, line_no, sku, quantity, unit_price)
                    SELECT o.id, l, 'SKU-' || lpad((1 + (random() * 199)::int)::text, 5, '0'), 1 + l, round((random() * 90 + 10)::numeric, 2)
                    FROM o, generate_series(1, 2) l""");
            s.execute("UPDATE shop.customers SET vip = NOT vip, updated_at = now() WHERE id = 1 + (random() * 999)::int");
            s.execute("UPDATE shop.products SET stock = greatest(stock - 1, 0), updated_at = now() WHERE sku = 'SKU-' || lpad((1 + (random() * 199)::int)::text, 5, '0')");
            try (PreparedStatement ps = connection.prepareStatement(
                    "INSERT INTO crm.audit_log (actor, action, details) VALUES ('demo', 'trickle', jsonb_build_object('tick', ?::bigint))")) {
                ps.setLong(1, tick);
                ps.executeUpdate();
            }
            if (tick % 10 == 0) {
                s.execute("UPDATE shop.orders SET status = 'shipped', updated_at = now() WHERE id = (SELECT min(id) FROM shop.orders WHERE status = 'paid')");
            }
        } catch (SQLException e) {
            connection.close();
            throw e;
        }
    }
}
