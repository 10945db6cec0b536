package io.pgsource.app;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** pgsource streaming without end in the background, until {@link #close}. */
final class StreamingRun implements AutoCloseable {
    private final ExecutorService thread = Executors.newSingleThreadExecutor();
    private final Future<Integer> exit;

    StreamingRun(Map<String, String> env) throws Exception {
        Map<String, String> streaming = new java.util.HashMap<>(env);
        streaming.put("SYNC_ONCE", "false");
        streaming.put("SOURCE_SLOT_CHECK_INTERVAL", "1s");
        exit = thread.submit(() -> PgSourceMain.run(streaming, new Properties()));
    }

    /** Waits until it ended by itself (at most the given seconds) and returns its exit code. */
    int awaitExit(long seconds) throws Exception {
        return exit.get(seconds, TimeUnit.SECONDS);
    }

    /** Stops it cleanly and returns its exit code. */
    int stop() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!exit.isDone() && !PgSourceMain.stopRunning("the test") && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        return exit.get(60, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
        if (!exit.isDone()) {
            stop();
        }
        thread.shutdownNow();
    }
}
