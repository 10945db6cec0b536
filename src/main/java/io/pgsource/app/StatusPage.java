package io.pgsource.app;

import io.pgsource.config.Sizes;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * {@code /observe/status}: one {@link StatusSnapshot} as a page a browser shows without any script or anything fetched
 * from elsewhere: the state and health, per table the copy's progress and ETA and the changes applied, the slot lag and
 * apply rate of the last samples as an inline SVG plot, and the last errors with their fix. It reloads itself every
 * {@code sync.status_interval} (a meta refresh). Every text from the snapshot is HTML-escaped.
 */
final class StatusPage {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);
    private static final int WIDTH = 1000;
    private static final int HEIGHT = 140;
    private static final int LEFT = 80;

    private StatusPage() {
    }

    static String html(StatusSnapshot s) {
        StringBuilder b = new StringBuilder(16_384);
        long refresh = Math.max(5, s.interval().toSeconds());
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"")
                .append(refresh).append("\"><title>pgsource: ").append(esc(s.state())).append("</title><style>")
                .append("body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}h1{font-size:20px;margin:0 0 4px}")
                .append("h2{font-size:16px;margin:20px 0 6px}table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;")
                .append("border-bottom:1px solid #ddd}td.n,th.n{text-align:right}.ok{color:#0a7d28}.bad{color:#b00020}")
                .append(".bar{width:160px;height:10px;background:#eee;display:inline-block}.bar i{display:block;height:10px;background:#2a6fdb}")
                .append(".muted{color:#777}.fix{color:#0a4a9e}svg text{font:11px sans-serif;fill:#555}")
                .append("</style></head><body>\n");
        b.append("<h1>pgsource <span id=\"state\">").append(esc(s.state())).append("</span>: <span id=\"health\" class=\"")
                .append(s.healthy() ? "ok\">healthy" : "bad\">not healthy").append("</span></h1>\n");
        b.append("<div class=\"muted\">").append(esc(s.source().method())).append(" from ").append(esc(s.source().database()));
        if (s.source().slot() != null) {
            b.append(", slot ").append(esc(s.source().slot()));
        }
        b.append(" into ").append(esc(s.source().destination())).append("; up ").append(duration(Duration.between(s.started(), s.at())))
                .append("; as of ").append(TIME.format(s.at())).append(" UTC</div>\n");
        for (StatusSnapshot.Check c : s.down()) {
            b.append("<div class=\"bad\">DOWN ").append(esc(c.id())).append(": ").append(esc(c.message())).append("</div>\n");
        }

        StatusSnapshot.Stream st = s.stream();
        if (st != null) {
            b.append("<h2>Log replication</h2>\n<div id=\"stream\">");
            b.append(st.streaming() ? "Streaming" : "Not streaming").append(" slot ").append(esc(st.slot())).append(": lag ")
                    .append(st.lagBytes() == null ? "unknown (no slot check yet)" : Sizes.human(st.lagBytes()));
            if (st.walStatus() != null) {
                b.append(" (wal_status ").append(esc(st.walStatus())).append(')');
            }
            b.append("; ").append(String.format(Locale.ROOT, "%,d transaction(s), %,d change(s) applied since the start; %,.1f changes/s now",
                    st.transactions(), st.changes(), st.changesPerSecond()));
            if (st.lastAppliedCommit() != null) {
                b.append("; last applied transaction committed ").append(duration(Duration.between(st.lastAppliedCommit().toInstant(), s.at())))
                        .append(" ago");
            }
            b.append("</div>\n");
            if (st.problem() != null) {
                b.append("<div class=\"bad\">Waiting for: ").append(esc(st.problem())).append("</div>\n");
            }
        }

        b.append("<h2>Slot lag and apply rate, last ").append(duration(s.interval().multipliedBy(StatusSnapshot.HISTORY)))
                .append("</h2>\n");
        plot(b, s.history(), s.interval());

        b.append("<h2>Tables</h2>\n<table id=\"tables\"><tr><th>table</th><th>copy</th><th>progress</th><th class=\"n\">rows copied</th>")
                .append("<th class=\"n\">rows/s</th><th class=\"n\">ETA</th><th class=\"n\">")
                .append(st == null ? "rows applied" : "changes applied").append("</th></tr>\n");
        for (StatusSnapshot.Table t : s.tables()) {
            Double pct = t.percent();
            b.append("<tr><td>").append(esc(t.table())).append("</td><td>").append(esc(t.copy())).append("</td><td>");
            if (pct != null) {
                b.append(String.format(Locale.ROOT, "<span class=\"bar\"><i style=\"width:%.0f%%\"></i></span> %.0f%%", pct, pct));
            } else if (!"none".equals(t.copy())) {
                b.append("<span class=\"muted\">size unknown</span>");
            }
            b.append("</td><td class=\"n\">").append("none".equals(t.copy()) ? "" : String.format(Locale.ROOT, "%,d", t.rowsCopied()));
            if (t.estimatedRows() > 0 && "copying".equals(t.copy())) {
                b.append(String.format(Locale.ROOT, " of ~%,d", t.estimatedRows()));
            }
            b.append("</td><td class=\"n\">").append("none".equals(t.copy()) ? "" : String.format(Locale.ROOT, "%,.0f", t.rowsPerSecond()))
                    .append("</td><td class=\"n\">");
            if ("copying".equals(t.copy())) {
                b.append(t.etaSeconds() == null ? "unknown" : duration(Duration.ofSeconds(Math.round(t.etaSeconds()))));
            } else if ("copied".equals(t.copy())) {
                b.append("done in ").append(duration(Duration.ofMillis(Math.round(t.copySeconds() * 1000))));
            }
            b.append("</td><td class=\"n\">").append(String.format(Locale.ROOT, "%,d", t.applied())).append("</td></tr>\n");
        }
        b.append("</table>\n");

        b.append("<h2>Last errors</h2>\n");
        if (s.errors().isEmpty()) {
            b.append("<div id=\"errors\" class=\"muted\">none since the start</div>\n");
        } else {
            b.append("<table id=\"errors\"><tr><th>at (UTC)</th><th>error</th><th>fix</th></tr>\n");
            for (int i = s.errors().size() - 1; i >= 0; i--) {
                StatusSnapshot.Error e = s.errors().get(i);
                b.append("<tr><td>").append(TIME.format(e.at())).append("</td><td>").append(esc(e.message())).append("</td><td class=\"fix\">")
                        .append(e.fix() == null ? "" : esc(e.fix())).append("</td></tr>\n");
            }
            b.append("</table>\n");
        }
        b.append("<p class=\"muted\">The same as JSON: <a href=\"status.json\">status.json</a>; metrics: <a href=\"metrics\">metrics</a>;")
                .append(" health: <a href=\"health\">health</a></p>\n</body></html>\n");
        return b.toString();
    }

    /** Two panels, one under the other: the slot lag and the apply rate, over the samples' times. */
    private static void plot(StringBuilder b, List<StatusSnapshot.Sample> samples, Duration interval) {
        int height = 2 * HEIGHT + 60;
        b.append("<svg id=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH).append("\" height=\"").append(height)
                .append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(height).append("\">\n");
        panel(b, samples, interval, 10, "slot lag", "lag", "#2a6fdb", x -> x.lagBytes() < 0 ? Double.NaN : x.lagBytes(), true);
        panel(b, samples, interval, HEIGHT + 40, "changes/s applied", "rate", "#0a7d28", StatusSnapshot.Sample::changesPerSecond, false);
        b.append("</svg>\n");
    }

    private static void panel(StringBuilder b, List<StatusSnapshot.Sample> samples, Duration interval, int top, String label,
                              String cls, String color, ToDoubleFunction<StatusSnapshot.Sample> value, boolean asBytes) {
        int plotWidth = WIDTH - LEFT - 10;
        double max = 0;
        for (StatusSnapshot.Sample x : samples) {
            double v = value.applyAsDouble(x);
            if (!Double.isNaN(v)) {
                max = Math.max(max, v);
            }
        }
        double top1 = max <= 0 ? 1 : max * 1.1;
        b.append("<rect x=\"").append(LEFT).append("\" y=\"").append(top).append("\" width=\"").append(plotWidth).append("\" height=\"")
                .append(HEIGHT).append("\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n");
        b.append("<text x=\"4\" y=\"").append(top + 12).append("\">").append(esc(label)).append("</text>\n");
        b.append("<text x=\"4\" y=\"").append(top + 28).append("\">max ")
                .append(asBytes ? Sizes.human(Math.round(max)) : String.format(Locale.ROOT, "%,.1f", max)).append("</text>\n");
        if (samples.isEmpty()) {
            b.append("<text x=\"").append(LEFT + 10).append("\" y=\"").append(top + HEIGHT / 2).append("\">no samples yet (one every ")
                    .append(duration(interval)).append(")</text>\n");
            return;
        }
        Instant last = samples.get(samples.size() - 1).at();
        double span = interval.toMillis() * (double) (StatusSnapshot.HISTORY - 1);
        StringBuilder points = new StringBuilder();
        for (StatusSnapshot.Sample x : samples) {
            double v = value.applyAsDouble(x);
            if (Double.isNaN(v)) {
                continue;
            }
            double age = Duration.between(x.at(), last).toMillis();
            double px = LEFT + plotWidth * (1 - Math.min(1, age / span));
            double py = top + HEIGHT - HEIGHT * v / top1;
            points.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
        }
        b.append("<polyline class=\"").append(cls).append("\" fill=\"none\" stroke=\"").append(color).append("\" stroke-width=\"1.5\" points=\"")
                .append(points.toString().strip()).append("\"/>\n");
        b.append("<text x=\"").append(LEFT).append("\" y=\"").append(top + HEIGHT + 14).append("\">-")
                .append(duration(interval.multipliedBy(StatusSnapshot.HISTORY - 1))).append("</text>\n");
        b.append("<text x=\"").append(WIDTH - 70).append("\" y=\"").append(top + HEIGHT + 14).append("\">").append(TIME.format(last))
                .append(" UTC</text>\n");
    }

    /** 3725 s → "1h 2m 5s". */
    static String duration(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 60) {
            return d.toMillis() < 10_000 && d.toMillis() % 1000 != 0 ? String.format(Locale.ROOT, "%.1fs", Math.max(0, d.toMillis()) / 1000.0) : s + "s";
        }
        if (s < 3600) {
            return (s / 60) + "m " + (s % 60) + "s";
        }
        return (s / 3600) + "h " + (s % 3600 / 60) + "m";
    }

    static String esc(String text) {
        if (text == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
