package io.pgsource.app;

import io.pgsource.config.ConfigurationException;
import io.pgsource.pgoutput.PrerequisiteException;
import io.pgsource.pgoutput.SlotLostException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.camel.Exchange;
import org.apache.camel.spi.ExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ends the capture when it cannot go on without a person's fix: a change the destination refuses, a schema change it
 * cannot follow, a WAL message larger than the heap, a slot that can no longer deliver every change
 * ({@link SlotLostException}), a log-replication start that failed. Logs the error once with pgsource's way out, records
 * it and runs the stop action (the pgsource launcher ends the application with {@link #exitCode()}; elsewhere the capture
 * routes stop). Nothing past the failure was acknowledged, so a run after the fix continues where this one stopped.
 *
 * <p>Bound as bean {@value #BEAN_NAME}. It is also the {@code pgoutput:} consumer's {@link ExceptionHandler}
 * ({@code exceptionHandler: "#pgsourceFatalStop"} in the route), which reports there what it cannot get past.
 */
public final class FatalStop implements ExceptionHandler {
    public static final String BEAN_NAME = "pgsourceFatalStop";
    private static final Logger LOG = LoggerFactory.getLogger(FatalStop.class);

    private final Consumer<Throwable> action;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    /** @param action what stops the capture; called once, with the first fatal failure */
    public FatalStop(Consumer<Throwable> action) {
        this.action = action;
    }

    /** Stops the capture for this failure; later calls are ignored. */
    public void stop(Throwable cause) {
        if (failure.compareAndSet(null, cause)) {
            LOG.error("pgsource stops: {}", describe(cause));
            action.accept(cause);
        }
    }

    /** The failure that stopped the capture, or null. */
    public Throwable failure() {
        return failure.get();
    }

    /** 2 when the source (slot, publication, setup) or the configuration needs fixing, else 1. */
    public int exitCode() {
        Throwable f = failure.get();
        return f instanceof PrerequisiteException || f instanceof ConfigurationException ? 2 : 1;
    }

    /** The error's message, plus pgsource's way out for a lost slot. */
    static String describe(Throwable e) {
        String message = BatchRunMonitor.rootMessage(e);
        if (!(e instanceof SlotLostException lost)) {
            return message;
        }
        String resnapshot = "run it once with sync.resnapshot=true (SYNC_RESNAPSHOT=true, for example together with"
                + " sync.once=true): it drops what is left of the slot, creates a new one and copies every table again inside"
                + " its exported snapshot, replacing the rows of each destination table, then streams on. Remove the setting"
                + " afterwards: every start with it copies everything again.";
        return switch (lost.reason()) {
            case UNPUBLISHED -> message + ". To recover with pgsource: add the table back to the publication, then " + resnapshot
                    + " Or take the table out of source.tables (or source.schema) and restart: the other tables are complete.";
            default -> message + ". To recover with pgsource: " + resnapshot;
        };
    }

    @Override
    public void handleException(Throwable exception) {
        stop(exception);
    }

    @Override
    public void handleException(String message, Throwable exception) {
        stop(exception);
    }

    @Override
    public void handleException(String message, Exchange exchange, Throwable exception) {
        stop(exception);
    }
}
