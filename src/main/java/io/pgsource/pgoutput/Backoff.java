package io.pgsource.pgoutput;

/** Waits that double after every failure, from an initial delay up to a maximum; reset after a success. */
final class Backoff {
    private final long initial;
    private final long max;
    private long next;

    Backoff(long initialMillis, long maxMillis) {
        this.initial = initialMillis;
        this.max = maxMillis;
        this.next = initialMillis;
    }

    /** The delay to wait now; the following one is twice as long, at most the maximum. */
    long nextDelay() {
        long delay = next;
        next = Math.min(max, next * 2);
        return delay;
    }

    void reset() {
        next = initial;
    }
}
