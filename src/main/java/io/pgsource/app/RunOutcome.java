package io.pgsource.app;

import io.pgsource.change.ChangeHeaders;
import io.pgsource.config.ConfigurationException;
import io.pgsource.pgoutput.PrerequisiteException;
import io.pgsource.pgoutput.SlotLostException;
import io.pgsource.sink.reject.DestinationErrors;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangePropertyKey;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.spi.ExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a run of pgsource ends, decided in one place: it hears the capture's exchanges end (log replication, batch-query
 * runs, and the copies' pages sent straight to the pipeline), is the {@code pgoutput:} consumer's
 * {@link ExceptionHandler} ({@code exceptionHandler: "#pgsourceRunOutcome"} in the route), is told of copies and
 * starts that failed ({@link #copyFailed}, {@link #startFailed}) and decides when {@code sync.once} reached its end
 * ({@link #finishWhenCaughtUp}). The first end counts: it runs the stop action (the launcher ends the application
 * with {@link #exitCode(int)}; elsewhere the capture routes stop: {@link #of}), and the error a user reads (the cause
 * first, with pgsource's way out) is logged once: by the launcher as the last line of the run ({@link #error()}), after
 * Camel's shutdown; elsewhere at once.
 *
 * <p>What ends a run: a failure retrying cannot fix ({@link DestinationErrors#permanent}: a change the destination
 * refuses, a schema change it cannot follow), a slot that can no longer deliver every change ({@link SlotLostException}),
 * a WAL message larger than the heap, a log-replication start that failed; with {@code sync.once} also its end, and the
 * first failed run or transaction. Transient failures (a lost connection, a deadlock) are left to the retries: the
 * consumer's backoff, the next run. Nothing past a failure was acknowledged, so a run after the fix continues where
 * this one stopped.
 */
public final class RunOutcome extends ExchangeEndNotifier implements ExceptionHandler {
    public static final String BEAN_NAME = "pgsourceRunOutcome";
    private static final Logger LOG = LoggerFactory.getLogger(RunOutcome.class);
    /** A Java class name leading a message ({@code java.sql.SQLException: }): Java's way of wrapping, not the cause. */
    private static final Pattern CLASS_PREFIX = Pattern.compile("\\b(?:[a-z][a-z0-9_]*\\.)+[A-Z][A-Za-z0-9_$]*(?:Exception|Error): ");

    /**
     * How the run ended: a failure, or (failure null) the sync finished or pgsource was asked to stop.
     *
     * @param error     the line that tells the failure, or null
     * @param stoppedBy what asked pgsource to stop (SIGTERM, SIGINT), or null
     */
    private record End(Throwable failure, String error, String stoppedBy) {
    }

    private final boolean once;
    private final boolean errorLast;
    private final Duration interval;
    private final Runnable stop;
    private final AtomicReference<End> end = new AtomicReference<>();

    /**
     * @param once      {@code sync.once}: the sync ends after its first run (batch query) or once caught up (LOG_BASED)
     * @param errorLast the caller logs the error that ended the run ({@link #error()}) as the run's last line; false:
     *                  it is logged when it happens
     * @param interval  the time between batch-query runs (for the log)
     * @param stop      ends the capture; called once, with the first end
     */
    public RunOutcome(boolean once, boolean errorLast, Duration interval, Runnable stop) {
        this.once = once;
        this.errorLast = errorLast;
        this.interval = interval;
        this.stop = stop;
    }

    /**
     * The run's outcome in a Camel runtime: the one the launcher bound ({@value #BEAN_NAME}), or, in another runtime, a new
     * one (bound so) whose end stops the capture routes, on a thread of their own (the end is reported from inside a
     * route). Either hears the capture's exchanges end from then on.
     */
    static RunOutcome of(CamelContext context, Duration interval) {
        RunOutcome outcome = context.getRegistry().lookupByNameAndType(BEAN_NAME, RunOutcome.class);
        if (outcome == null) {
            outcome = new RunOutcome(false, false, interval, () -> stopCapture(context));
            context.getRegistry().bind(BEAN_NAME, outcome);
        }
        if (!context.getManagementStrategy().getEventNotifiers().contains(outcome)) {
            context.getManagementStrategy().addEventNotifier(outcome);
        }
        return outcome;
    }

    private static void stopCapture(CamelContext context) {
        var executors = context.getExecutorServiceManager();
        var executor = executors.newSingleThreadExecutor(context, "pgsource-stop");
        executor.submit(() -> {
            for (CaptureRoute.Part part : List.of(CaptureRoute.Part.LOG_REPLICATION, CaptureRoute.Part.BATCH_QUERY)) {
                try {
                    CaptureRoute.of(context, part).stopRoute();
                } catch (Exception e) {
                    LOG.warn("cannot stop the route of {}: {}", part.bean, e.getMessage());
                }
            }
            LOG.error("Capture routes stopped; fix the cause and restart");
            executors.shutdown(executor);
        });
    }

    /** Whether this run is a {@code sync.once} run. */
    public boolean once() {
        return once;
    }

    /**
     * {@code sync.once} with log replication, once its start is done: checks every 250 ms whether the destination applied
     * everything committed before the start, and then the sync has finished. Returns at once without sync.once, and when
     * the run ended otherwise.
     */
    void finishWhenCaughtUp(CaughtUp caughtUp) throws Exception {
        if (!once) {
            return;
        }
        while (!ended()) {
            if (caughtUp.check()) {
                LOG.info("Log replication caught up with everything committed before the start");
                finished();
                return;
            }
            Thread.sleep(250);
        }
    }

    /** Whether the destination has applied everything committed before the start. */
    @FunctionalInterface
    interface CaughtUp {
        boolean check() throws Exception;
    }

    /**
     * The copy inside a new slot's snapshot failed: the consumer drops the slot and tries again later. A one-off sync has
     * failed, and a failure no retry fixes would make the consumer copy again forever: either ends the run.
     */
    public void copyFailed(Throwable cause) {
        if (once || DestinationErrors.permanent(cause)) {
            fail(cause);
        }
    }

    /**
     * The start of log replication failed (the slot's checks, the copy before streaming): without the capture running
     * there is nothing left to do, so the run ends; unless the start is tried again ({@code retried}: the leader of
     * sync.ha tries again while it leads).
     */
    public void startFailed(Throwable cause, boolean retried) {
        if (!retried) {
            fail(cause);
        }
    }

    /** {@code sync.once} reached its end: every selected table is synced to its current end. */
    public void finished() {
        if (end.compareAndSet(null, new End(null, null, null))) {
            LOG.info("Sync finished: every selected table is synced to its current end");
            stop.run();
        }
    }

    /** Ends the run with this failure, logged once; later calls are ignored. */
    public void fail(Throwable cause) {
        fail(cause, null);
    }

    /** Ends the run with this failure; {@code line} is the error to log (null: the failure's {@link #message}). */
    private void fail(Throwable cause, String line) {
        String error = line != null ? line : message(cause);
        if (end.compareAndSet(null, new End(cause, error, null))) {
            reported(error);
            if (!errorLast) {
                LOG.error("{}", error);
            }
            slotLost(cause);
            stop.run();
        }
    }

    /** Where the errors this outcome hears of go too, each as the one line a user reads (the status page's last errors). */
    void reportErrorsTo(java.util.function.Consumer<String> errors) {
        this.errors = errors;
    }

    private volatile java.util.function.Consumer<String> errors = line -> { };

    private void reported(String line) {
        try {
            errors.accept(line);
        } catch (RuntimeException e) {
            LOG.debug("could not record the error for the status page: {}", e.getMessage());
        }
    }

    /** What to do, before the run ends, when the slot lost changes (e.g. remember the tables that need a copy). */
    void onSlotLost(java.util.function.Consumer<SlotLostException> action) {
        this.onSlotLost = action;
    }

    private volatile java.util.function.Consumer<SlotLostException> onSlotLost = lost -> { };

    private void slotLost(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SlotLostException lost) {
                try {
                    onSlotLost.accept(lost);
                } catch (RuntimeException e) {
                    LOG.warn("Could not record what the lost slot needs at the next start: {}", e.getMessage());
                }
                return;
            }
        }
    }

    /** The error that ended the run, for the run's last line (the cause first, then the fix); null when none did. */
    public String error() {
        End e = end.get();
        return e == null ? null : e.error();
    }

    /**
     * pgsource was asked to stop (SIGINT, SIGTERM): the capture stops cleanly, nothing in flight is acknowledged, and
     * the next run continues where this one stopped. Ignored when the run has ended already.
     */
    public void stopRequested(String by) {
        if (end.compareAndSet(null, new End(null, null, by))) {
            stop.run();
        }
    }

    /** What asked pgsource to stop (SIGTERM, SIGINT) before the run ended otherwise, or null. */
    public String stoppedBy() {
        End e = end.get();
        return e == null ? null : e.stoppedBy();
    }

    /** Whether the run has ended (finished, failed, or asked to stop). */
    public boolean ended() {
        return end.get() != null;
    }

    /**
     * The exit code of a run whose Camel runtime ended with {@code runtimeCode}: the runtime's own when the run ended by
     * no end this outcome saw (Camel Main's duration limits), else {@link #exitCode()}.
     */
    public int exitCode(int runtimeCode) {
        return ended() || once ? exitCode() : runtimeCode;
    }

    /** Whether a {@code sync.once} run stopped before its sync finished, with no end this outcome saw. */
    public boolean stoppedUnfinished() {
        return once && !ended();
    }

    /**
     * 0 when the run ended well (the sync finished, or pgsource was asked to stop); 2 when the source (slot, publication,
     * setup) or the configuration needs fixing; 1 when the sync failed, or a {@code sync.once} run ended before it
     * finished (also when asked to stop: its sync is not done).
     */
    public int exitCode() {
        End e = end.get();
        if (e == null || e.stoppedBy() != null) {
            return once ? 1 : 0;
        }
        return e.failure() == null ? 0 : needsFix(e.failure()) ? 2 : 1;
    }

    /** Whether the configuration or the source must be fixed before a run can work (exit code 2). */
    static boolean needsFix(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof PrerequisiteException || t instanceof ConfigurationException) {
                return true;
            }
        }
        return false;
    }

    // ---- the capture's exchanges ----

    @Override
    public boolean isEnabled(CamelEvent event) {
        if (!(event instanceof CamelEvent.ExchangeCompletedEvent) && !(event instanceof CamelEvent.ExchangeFailedEvent)) {
            return false;
        }
        Exchange exchange = ((CamelEvent.ExchangeEvent) event).getExchange();
        // a whole run or transaction, not the split's per-table copies inside a batch-query run, nor transactions the
        // pgoutput: consumer combined (it delivers them again one by one, and the one that fails alone counts)
        return partOf(exchange) != null && exchange.getProperty(ExchangePropertyKey.CORRELATION_ID) == null
                && exchange.getIn().getHeader(ChangeHeaders.TX_COUNT, 1, Integer.class) == 1;
    }

    @Override
    public void notify(CamelEvent event) {
        Exchange exchange = ((CamelEvent.ExchangeEvent) event).getExchange();
        Throwable error = exchange.getException();
        if (error == null) {
            error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        }
        if (partOf(exchange) == CaptureRoute.Part.BATCH_QUERY) {
            batchRunEnded(System.currentTimeMillis() - exchange.getClock().getCreated(), error);
        } else if (error != null && (once || DestinationErrors.permanent(error))) {
            fail(error);
        } else if (error != null && !ended()) {
            // retried by the consumer: not the end, but what an operator looks for
            reported(message(error));
        }
    }

    /** The part of the capture whose route the exchange started in, or null for another route's. */
    private static CaptureRoute.Part partOf(Exchange exchange) {
        for (CaptureRoute.Part part : CaptureRoute.Part.values()) {
            CaptureRoute route = exchange.getContext().getRegistry().lookupByNameAndType(part.bean, CaptureRoute.class);
            if (route != null && route.startedHere(exchange)) {
                return part;
            }
        }
        return null;
    }

    /** A batch-query run ended: said in one line; with sync.once, or after a failure retrying cannot fix, the run ends. */
    private void batchRunEnded(long millis, Throwable error) {
        if (error == null) {
            LOG.info(once ? "Batch run finished in {} ms" : "Batch run finished in {} ms; next run in {}", millis,
                    interval.toString().substring(2).toLowerCase(Locale.ROOT));
            if (once) {
                finished();
            }
            return;
        }
        String line = "Batch run failed after " + millis + " ms: " + message(error)
                + ". Nothing after the last committed page was bookmarked; the next run resumes there.";
        if (ended()) {
            // cut short by the stop (a signal, or a failure reported already)
            LOG.info("{}", line);
        } else if (once || DestinationErrors.permanent(error)) {
            fail(error, line);
        } else {
            LOG.error("{}", line);
            reported(line);
        }
    }

    // ---- the pgoutput: consumer's failures ----

    @Override
    public void handleException(Throwable exception) {
        fail(exception);
    }

    @Override
    public void handleException(String message, Throwable exception) {
        fail(exception);
    }

    @Override
    public void handleException(String message, Exchange exchange, Throwable exception) {
        fail(exception);
    }

    // ---- the line a user reads ----

    /**
     * The error a user reads: the cause first, without Java class names or Camel's wrappers, each cause's message once,
     * and for a lost slot pgsource's way out.
     */
    public static String message(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t && isWrapper(t)) {
            t = t.getCause();
        }
        StringBuilder sb = new StringBuilder(String.valueOf(t.getMessage()));
        for (Throwable c = t.getCause(), prev = t; c != null && c != prev; prev = c, c = c.getCause()) {
            if (c.getMessage() != null && !sb.toString().contains(c.getMessage())) {
                sb.append(": ").append(c.getMessage());
            }
        }
        String message = CLASS_PREFIX.matcher(sb).replaceAll("");
        return t instanceof SlotLostException lost ? message + ". " + wayOut(lost) : message;
    }

    /** An exception that only carries its cause: Camel's exchange and route wrappers, Java's default wrapping message. */
    private static boolean isWrapper(Throwable t) {
        String m = t.getMessage();
        return t instanceof org.apache.camel.CamelExchangeException || t instanceof java.util.concurrent.ExecutionException
                || m == null || m.contains(t.getCause().toString());
    }

    private static String wayOut(SlotLostException lost) {
        String resnapshot = "run it once with sync.resnapshot=true (SYNC_RESNAPSHOT=true, for example together with"
                + " sync.once=true): it drops what is left of the slot, creates a new one and copies every table again inside"
                + " its exported snapshot, replacing the rows of each destination table, then streams on. Remove the setting"
                + " afterwards: every start with it copies everything again.";
        return switch (lost.reason()) {
            case UNPUBLISHED -> lost.tables().isEmpty() ? "To recover with pgsource: add the table back to the publication, then "
                    + resnapshot + " Or take the table out of source.tables (or source.schema) and restart: the other tables are"
                    + " complete." : "To recover with pgsource: add the table back to the publication and start pgsource again: it"
                    + " copies that table again (in chunks while the other tables stream, on PostgreSQL 14+ for a table with a"
                    + " primary key; else inside a temporary slot's snapshot), the other tables are not copied again. Or take the"
                    + " table out of source.tables (or source.schema) and restart: the other tables are complete.";
            default -> "To recover with pgsource: " + resnapshot;
        };
    }
}
