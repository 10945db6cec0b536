package io.pgsource.app;

import io.pgsource.batch.CopyProgress;
import io.pgsource.config.ReplicationMethod;
import io.pgsource.config.Secrets;
import io.pgsource.config.Settings;
import io.pgsource.pgoutput.PgOutputComponent;
import io.pgsource.pgoutput.PgOutputConsumer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.CamelContext;
import org.apache.camel.StartupListener;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckHelper;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that writes pgsource's {@link StatusSnapshot}: every {@code sync.status_interval} it reads the copies'
 * progress ({@link CopyProgress}), what the destination applied ({@link ProgressLog}), the log-replication consumer's
 * state (its slot lag), Camel's health checks and the errors the run reported ({@link RunOutcome}), and publishes one new
 * immutable snapshot, adding a sample to the plot's ring buffer. It serves the snapshot on Camel Main's management
 * server ({@code camel.management.enabled=true}), next to {@code /observe/metrics} and {@code /observe/health}, the way
 * Camel's own Prometheus scraper mounts itself on that server's router ({@link StatusRoutes}): {@code /observe/status} as a
 * page (HTML with an inline SVG plot, refreshing itself, no script) and {@code /observe/status.json}. Without the
 * management server it takes no snapshot after the first.
 */
final class StatusBoard extends ServiceSupport implements StartupListener {
    private static final Logger LOG = LoggerFactory.getLogger(StatusBoard.class);
    /** A fix in pgsource's error lines begins with one of these (sentence-initial) words. */
    private static final Pattern FIX = Pattern.compile("(?:^|(?<=[.:;!?)] ))(?:Check|Set|Run|Add|Renew|Enable|Close|Create|Grant|Remove"
            + "|Fix|Start|Raise|Take|Write|Give|Use|Install|Drop|Increase|Lower|Make|Unset|To recover)\\b");

    private final CamelContext context;
    private final StatusSnapshot.Source source;
    private final List<String> tables;
    private final String slot;
    private final Duration interval;
    private final CopyProgress copies;
    private final ProgressLog applied;
    private final RunOutcome outcome;
    private final List<String> secrets;
    private final boolean standbyPossible;
    private final Instant started = Instant.now();
    private final AtomicReference<StatusSnapshot> current = new AtomicReference<>();
    /** Written by the sampler only (under this board's lock). */
    private final Deque<StatusSnapshot.Sample> history = new ArrayDeque<>();
    /** Written by any thread that reports an error, under its own lock. */
    private final Deque<StatusSnapshot.Error> errors = new ArrayDeque<>();
    private String lastProblem;
    /** The consumer's failures at the last sample; -1 before the first. */
    private long lastFailures = -1;
    private ProgressLog.Totals lastTotals;
    private long lastSampleNanos;
    private ScheduledExecutorService sampler;

    /** @param tables the selected tables ({@code schema.table}) at the start */
    StatusBoard(CamelContext context, Settings settings, List<String> tables, CopyProgress copies, ProgressLog applied,
                RunOutcome outcome) {
        this.context = context;
        boolean log = settings.source().replicationMethod() == ReplicationMethod.LOG_BASED;
        this.slot = log ? settings.source().replicationSlot() : null;
        this.source = new StatusSnapshot.Source(settings.source().replicationMethod().name(),
                settings.source().host() + ":" + settings.source().port() + "/" + settings.source().database(), slot,
                settings.destination().kind());
        this.tables = List.copyOf(tables);
        this.interval = settings.sync().statusInterval();
        this.copies = copies;
        this.applied = applied;
        this.outcome = outcome;
        this.secrets = java.util.stream.Stream.of(settings.source().password(), settings.destination().password())
                .filter(p -> p != null && !p.isEmpty()).toList();
        this.standbyPossible = settings.sync().ha().enabled();
        outcome.reportErrorsTo(this::error);
        current.set(take());
    }

    /** The snapshot every reader reads. */
    StatusSnapshot snapshot() {
        return current.get();
    }

    // ---- the management server ----

    @Override
    public void onCamelContextStarted(CamelContext context, boolean alreadyStarted) {
        // the management server's router exists once it started: mounted in onCamelContextFullyStarted
    }

    @Override
    public void onCamelContextFullyStarted(CamelContext context, boolean alreadyStarted) {
        // Camel Main's management server (camel-platform-http-main) is not in every Camel runtime (Spring Boot has its own)
        if (context.getClassResolver().resolveClass(MANAGEMENT_SERVER) == null) {
            LOG.debug("no Camel Main management server in this runtime: no status page");
            return;
        }
        String page = StatusRoutes.mount(context, this::snapshot);
        if (page == null) {
            LOG.debug("no management server (camel.management.enabled=false): no status page");
            return;
        }
        sampler = context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "pgsource-status");
        sampler.scheduleWithFixedDelay(this::tick, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info("Status page at {} (and its JSON at {}.json; java -jar pgsource.jar status prints it)", page,
                page.substring(page.indexOf('/', page.indexOf("//") + 2)));
    }

    private static final String MANAGEMENT_SERVER = "org.apache.camel.component.platform.http.main.ManagementHttpServer";

    @Override
    protected void doStop() {
        if (sampler != null) {
            context.getExecutorServiceManager().shutdown(sampler);
            sampler = null;
        }
    }

    // ---- the snapshot ----

    /** Takes a new snapshot and a new sample; never throws (a failed tick is retried at the next one). */
    void tick() {
        try {
            current.set(take());
        } catch (RuntimeException e) {
            LOG.debug("status snapshot failed: {}", e.getMessage(), e);
        }
    }

    private synchronized StatusSnapshot take() {
        Instant now = Instant.now();
        long nanos = System.nanoTime();
        ProgressLog.Totals totals = applied.totals();
        PgOutputConsumer.Status consumer = slot == null || !context.getStatus().isStarted() ? null
                : PgOutputComponent.status(context, slot).orElse(null);
        if (consumer != null && consumer.problem() != null && !consumer.problem().equals(lastProblem)) {
            error(consumer.problem());
        } else if (consumer != null && consumer.problem() == null && consumer.failures() > lastFailures && lastFailures >= 0) {
            // failed and recovered between two samples: its line is in the log
            error("Log replication failed " + (consumer.failures() - lastFailures) + " time(s) since the last sample and"
                    + " recovered; the log has each failure's line");
        }
        lastProblem = consumer == null ? null : consumer.problem();
        lastFailures = consumer == null ? lastFailures : consumer.failures();

        double changesPerSecond = 0;
        double transactionsPerSecond = 0;
        if (lastTotals != null && nanos > lastSampleNanos) {
            double seconds = (nanos - lastSampleNanos) / 1e9;
            changesPerSecond = (totals.changes() - lastTotals.changes()) / seconds;
            transactionsPerSecond = (totals.transactions() - lastTotals.transactions()) / seconds;
            long lag = consumer == null ? -1 : consumer.slotLagBytes();
            history.addLast(new StatusSnapshot.Sample(now, lag, changesPerSecond, transactionsPerSecond));
            while (history.size() > StatusSnapshot.HISTORY) {
                history.removeFirst();
            }
        }
        lastTotals = totals;
        lastSampleNanos = nanos;

        SortedMap<String, CopyProgress.TableState> copied = copies.states();
        List<String> names = new ArrayList<>(tables);
        copied.keySet().stream().filter(t -> !names.contains(t)).forEach(names::add);
        // log replication: the changes streamed (the copies' rows are the copy's); batch query: the rows its runs read
        Map<String, Long> appliedPerTable = slot != null ? totals.changesPerTable() : totals.rowsPerTable();
        appliedPerTable.keySet().stream().filter(t -> !names.contains(t)).forEach(names::add);
        List<StatusSnapshot.Table> rows = new ArrayList<>();
        boolean copying = false;
        for (String name : names) {
            CopyProgress.TableState c = copied.get(name);
            long appliedHere = appliedPerTable.getOrDefault(name, 0L);
            if (c == null) {
                rows.add(new StatusSnapshot.Table(name, "none", 0, -1, 0, null, 0, appliedHere));
            } else {
                copying |= c.copying();
                rows.add(new StatusSnapshot.Table(name, c.copying() ? "copying" : "copied", c.rows(), c.estimatedRows(),
                        c.rowsPerSecond(), Double.isNaN(c.etaSeconds()) ? null : c.etaSeconds(), c.seconds(), appliedHere));
            }
        }

        StatusSnapshot.Stream stream = slot == null ? null : new StatusSnapshot.Stream(slot, consumer != null && consumer.streaming(),
                consumer == null ? null : scrub(consumer.problem()), consumer == null || consumer.slotLagBytes() < 0 ? null
                : consumer.slotLagBytes(), consumer == null || consumer.lag() == null ? null : consumer.lag().walStatus(),
                totals.lastCommit(), totals.transactions(), totals.changes(), changesPerSecond, transactionsPerSecond);

        List<StatusSnapshot.Check> down = new ArrayList<>();
        if (context.getStatus().isStarted()) {
            for (HealthCheck.Result r : HealthCheckHelper.invoke(context)) {
                if (r.getState() == HealthCheck.State.DOWN) {
                    String message = r.getMessage().orElse(r.getError().map(RunOutcome::message).orElse("DOWN"));
                    down.add(new StatusSnapshot.Check(r.getCheck().getId(), scrub(message)));
                }
            }
        }
        String state = state(consumer, copying);
        List<StatusSnapshot.Error> lastErrors;
        synchronized (errors) {
            lastErrors = List.copyOf(errors);
        }
        return new StatusSnapshot(now, started, state, down.isEmpty() && !"failed".equals(state), down, source, rows, stream,
                List.copyOf(history), interval, lastErrors);
    }

    private String state(PgOutputConsumer.Status consumer, boolean copying) {
        if (outcome.ended()) {
            if (outcome.error() != null) {
                return "failed";
            }
            return outcome.stoppedBy() != null ? "stopping" : "finished";
        }
        if (copying) {
            return "copying";
        }
        if (slot == null) {
            return "batch";
        }
        if (consumer == null) {
            return standbyPossible ? "standby" : "starting";
        }
        if (consumer.streaming()) {
            return "streaming";
        }
        return consumer.problem() != null ? "waiting" : "starting";
    }

    // ---- errors ----

    /** An error line pgsource reported: kept (the last {@link StatusSnapshot#ERRORS}) with its fix split off. */
    void error(String line) {
        if (line == null || line.isBlank()) {
            return;
        }
        StatusSnapshot.Error e = split(Instant.now(), scrub(line));
        synchronized (errors) {
            StatusSnapshot.Error last = errors.peekLast();
            if (last != null && last.message().equals(e.message()) && java.util.Objects.equals(last.fix(), e.fix())) {
                errors.removeLast(); // the same error again: kept once, with its latest time
            }
            errors.addLast(e);
            while (errors.size() > StatusSnapshot.ERRORS) {
                errors.removeFirst();
            }
        }
    }

    /** Splits pgsource's one line at its fix: the first sentence that says what to do ("Check ...", "Set ...", ...). */
    static StatusSnapshot.Error split(Instant at, String line) {
        Matcher m = FIX.matcher(line);
        if (m.find() && m.start() > 0) {
            return new StatusSnapshot.Error(at, line.substring(0, m.start()).strip(), line.substring(m.start()).strip());
        }
        return new StatusSnapshot.Error(at, line.strip(), null);
    }

    /** Messages from drivers may echo what they were given: the passwords never get through. */
    private String scrub(String text) {
        if (text == null) {
            return null;
        }
        String out = text;
        for (String secret : secrets) {
            out = Secrets.scrub(out, secret);
        }
        return out;
    }
}
