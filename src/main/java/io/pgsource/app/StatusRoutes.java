package io.pgsource.app;

import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import java.util.function.Supplier;
import org.apache.camel.CamelContext;
import org.apache.camel.component.platform.http.PlatformHttpComponent;
import org.apache.camel.component.platform.http.main.ManagementHttpServer;

/**
 * Mounts the status page on Camel Main's management server, as Camel's Prometheus scraper mounts {@code /observe/metrics}:
 * routes on the server's Vert.x router, listed with the platform-http component's management endpoints. Apart from
 * {@link StatusBoard} so that a runtime without camel-platform-http-main never loads it.
 */
final class StatusRoutes {
    private StatusRoutes() {
    }

    /** Mounts the page and its JSON next to the health endpoint; returns the page's URL, or null without a server. */
    static String mount(CamelContext context, Supplier<StatusSnapshot> snapshot) {
        ManagementHttpServer server = context.hasService(ManagementHttpServer.class);
        if (server == null || server.getRouter() == null) {
            return null;
        }
        // next to the health endpoint (camel.management.health-path, by default /observe/health), as the metrics are
        String health = server.getHealthPath() == null ? "/observe/health" : server.getHealthPath();
        String base = health.contains("/") ? health.substring(0, health.lastIndexOf('/')) : "";
        String page = base + "/status";
        String json = base + "/status.json";
        server.getRouter().route(HttpMethod.GET, page).handler(ctx -> send(ctx, "text/html; charset=utf-8", StatusPage.html(snapshot.get())));
        server.getRouter().route(HttpMethod.GET, json).handler(ctx -> send(ctx, "application/json; charset=utf-8",
                snapshot.get().toJson().toPrettyString()));
        PlatformHttpComponent http = context.getComponent("platform-http", PlatformHttpComponent.class);
        if (http != null) {
            http.addHttpManagementEndpoint(page, "GET", null, "text/html", null);
            http.addHttpManagementEndpoint(json, "GET", null, "application/json", null);
        }
        return "http://" + (server.getHost() == null ? "0.0.0.0" : server.getHost()) + ":" + server.getPort() + page;
    }

    private static void send(RoutingContext ctx, String type, String body) {
        ctx.response().putHeader("Content-Type", type).putHeader("Cache-Control", "no-store").end(body);
    }
}
