package io.pgsource.app;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code sync.once}: the outcome of the one sync, and the hook that ends the application when it is known.
 * Bound as bean {@value #BEAN_NAME} by the pgsource launcher; absent in other Camel runtimes, where sync.once
 * does not apply.
 */
public final class SyncOnce {
    public static final String BEAN_NAME = "pgsourceSyncOnce";

    private final Runnable onFinished;
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile Throwable failure;

    SyncOnce(Runnable onFinished) {
        this.onFinished = onFinished;
    }

    /** Records the outcome (null: success) and ends the application; only the first call counts. */
    public void finish(Throwable failure) {
        if (finished.compareAndSet(false, true)) {
            this.failure = failure;
            onFinished.run();
        }
    }

    public boolean finished() {
        return finished.get();
    }

    /** The failure, or null when the sync succeeded (meaningful once finished). */
    public Throwable failure() {
        return failure;
    }
}
