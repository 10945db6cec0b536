package io.pgsource.pgoutput;

import io.pgsource.change.PendingDurability;
import io.pgsource.pgoutput.protocol.TransactionPart;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands transaction parts from the reader thread to the route on a thread of its own, in order, so the server's
 * walsender, the decoding and the route (the destination) work at the same time instead of taking turns. After the
 * route completed a transaction's last part, its LSN goes to {@code acknowledge} (from the delivery thread).
 *
 * <p>Memory stays bounded: the parts queued or being delivered hold at most twice {@code maxBatchSize} changes (one
 * part in the route, the next one waiting), whatever the transactions' sizes. When the route fails on a part, the
 * parts behind it are dropped (none of them is acknowledged), and the reader's next call to {@link #offer} or
 * {@link #check} throws the {@link RouteFailedException}, which ends the session: the slot sends them all again.
 *
 * <p>What is delivered is always a prefix of what was offered, in order: acknowledging a part acknowledges every part
 * before it, so a part may never be delivered after one before it was left out. Hence a stop ends the loop first and
 * only then drops the parts still queued (the loop is the queue's only consumer), and once one offer gave up (the reader
 * is stopping), no later part is queued.
 *
 * <p>A destination may commit without waiting for its durability and say so ({@link PendingDurability}, the
 * {@code postgres} destination does): then the transaction waits, in order, until the destination says its commit is
 * durable, and only then is acknowledged; while any waits, the delivery counts as {@link #busy} (so the reader does not
 * follow the server's position past it either). The loop asks after every exchange and every
 * {@link #DURABILITY_CHECK_MILLIS} while idle; a stop makes the last commit durable and acknowledges them all. When the
 * destination can no longer say (its connection was lost, and the commits may be lost with it), none of them is
 * acknowledged: the delivery fails, and the slot sends them again.
 */
final class PartDelivery {
    private static final Logger LOG = LoggerFactory.getLogger(PartDelivery.class);
    /** How often an idle loop asks whether the commits waiting for their durability are durable. */
    static final long DURABILITY_CHECK_MILLIS = 50;
    /** Ends the delivery loop. */
    private static final TransactionPart END = new TransactionPart(null, 0, 0, 0, false, null, java.util.List.of());

    private final ReplicationSession.PartHandler handler;
    private final LongConsumer acknowledge;
    private final BlockingQueue<TransactionPart> queue = new LinkedBlockingQueue<>();
    private final Semaphore room;
    private final int capacity;
    private final int maxBatchSize;
    private final boolean combine;
    /** Parts offered and not yet delivered and acknowledged (queued or in the route). */
    private final AtomicInteger pending = new AtomicInteger();
    private final Object done = new Object();
    /**
     * Delivered parts whose destination commit may not be durable yet, and those behind them, in order; the loop adds
     * and removes, {@link #stop} (after the loop ended) empties it, the reader asks {@link #busy}.
     */
    private final Queue<Delivered> waiting = new ConcurrentLinkedQueue<>();

    /** A delivered part: the LSN to acknowledge (-1: none, not a last part) once its commit is durable (null: it is). */
    private record Delivered(long lsn, PendingDurability durability) {
    }

    private volatile RouteFailedException failure;
    /** Set by an offer that gave up (the reader is stopping) or by {@link #stop}: no later part is queued. */
    private volatile boolean refusing;
    /** Set by {@link #stop}: the loop takes nothing more from the queue. */
    private volatile boolean stopping;
    private boolean running;

    /**
     * @param maxBatchSize the most changes a part holds
     * @param combine      whether whole transactions waiting behind one go to the route with it ({@link TransactionGroup})
     * @param acknowledge  receives the LSN of each transaction whose last part the route completed
     */
    PartDelivery(ReplicationSession.PartHandler handler, int maxBatchSize, boolean combine, LongConsumer acknowledge) {
        this.handler = handler;
        this.acknowledge = acknowledge;
        this.maxBatchSize = Math.max(1, maxBatchSize);
        this.combine = combine;
        this.capacity = 2 * this.maxBatchSize;
        this.room = new Semaphore(capacity);
    }

    /** Starts the delivery loop on a thread of the executor. */
    void start(Executor executor) {
        synchronized (done) {
            running = true;
        }
        executor.execute(this::loop);
    }

    /** Queues a part, waiting while the parts ahead hold too many changes; throws when the route failed. */
    void offer(TransactionPart part, BooleanSupplier keepWaiting) throws InterruptedException {
        int weight = weight(part);
        while (refusing || !room.tryAcquire(weight, 100, TimeUnit.MILLISECONDS)) {
            check();
            if (refusing || !keepWaiting.getAsBoolean()) {
                // stopping: the part is not delivered, so not acknowledged, and comes again; nor is any part after it
                refusing = true;
                return;
            }
        }
        check();
        if (refusing) {
            room.release(weight);
            return;
        }
        pending.incrementAndGet();
        queue.add(part);
    }

    /** Throws the route's failure, if it failed. */
    void check() {
        RouteFailedException f = failure;
        if (f != null) {
            throw f;
        }
    }

    /**
     * True while a part is queued or in the route (nothing may be acknowledged beyond what is delivered). When it turns
     * false because the route failed, {@link #check} already throws.
     */
    boolean busy() {
        return pending.get() > 0 || !waiting.isEmpty();
    }

    private int weight(TransactionPart part) {
        return Math.min(capacity, Math.max(1, part.batch().size()));
    }

    private void loop() {
        try {
            while (true) {
                TransactionPart first = waiting.isEmpty() ? queue.take() : queue.poll(DURABILITY_CHECK_MILLIS, TimeUnit.MILLISECONDS);
                if (first == null) {
                    acknowledgeDurable();
                    continue;
                }
                if (first == END || stopping) {
                    if (first != END) {
                        drop(first);
                    }
                    return; // stop() drops what is left, once this loop has ended
                }
                if (failure != null) {
                    drop(first);
                    continue;
                }
                List<TransactionPart> taken = combine ? takeWaiting(first) : List.of(first);
                try {
                    if (taken.size() == 1 || !deliver(TransactionGroup.combine(taken), taken.size())) {
                        // alone, or again one by one after the combined exchange failed: the route then fails (or
                        // stops pgsource) on the very transaction it cannot take, after applying the ones before it
                        for (TransactionPart part : taken) {
                            if (!deliver(part, 1)) {
                                break;
                            }
                        }
                    }
                    acknowledgeDurable();
                } finally {
                    taken.forEach(this::drop);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            synchronized (done) {
                running = false;
                done.notifyAll();
            }
        }
    }

    /**
     * Delivers a part and acknowledges it; false when the route failed. The failure of a single transaction's part is
     * the delivery's failure; that of a combined part is not (its transactions are delivered again one by one).
     */
    private boolean deliver(TransactionPart part, int transactions) {
        try {
            PendingDurability durability = handler.deliverPending(part, transactions);
            long lsn = part.acknowledgeLsn().orElse(-1);
            if (durability == null && waiting.isEmpty()) {
                if (lsn >= 0) {
                    acknowledge.accept(lsn);
                }
            } else {
                // added before the part is dropped (pending), so busy() stays true throughout
                waiting.add(new Delivered(lsn, durability));
            }
            return true;
        } catch (RuntimeException e) {
            if (transactions == 1) {
                failure = e instanceof RouteFailedException f ? f : new RouteFailedException(part, e);
            }
            return false;
        }
    }

    /**
     * Acknowledges, in order, the delivered parts whose commits the destination says are durable (each is acknowledged
     * before it leaves {@link #waiting}, so {@link #busy} never turns false before). When the destination can no longer
     * say, nothing waiting is acknowledged and the delivery fails.
     */
    private void acknowledgeDurable() {
        Delivered d;
        while ((d = waiting.peek()) != null && failure == null) {
            try {
                if (d.durability() != null && !d.durability().durable()) {
                    return;
                }
            } catch (Exception e) {
                failure = new RouteFailedException(e);
                waiting.clear();
                return;
            }
            if (d.lsn() >= 0) {
                acknowledge.accept(d.lsn());
            }
            waiting.poll();
        }
    }

    /** The first part and the whole transactions queued right behind it that can share its exchange. */
    private List<TransactionPart> takeWaiting(TransactionPart first) {
        TransactionGroup group = new TransactionGroup(first, maxBatchSize);
        TransactionPart next;
        // the loop is the queue's only consumer: what it saw at the head is what poll takes (remove(Object) would find it by
        // equals, whose first call builds the record's equals for about 2.6 ms of CPU inside the first combined transaction)
        while (!stopping && (next = queue.peek()) != null && next != END && group.accepts(next)) {
            group.add(queue.poll());
        }
        return group.parts();
    }

    private void drop(TransactionPart part) {
        room.release(weight(part));
        pending.decrementAndGet();
    }

    /**
     * Ends the loop after the part in the route and waits for it, so nothing acknowledges after the session closed its
     * stream; then drops the parts still queued (not acknowledged, they come again). Dropping them while the loop still
     * ran could let it deliver, and acknowledge, a part behind dropped ones: those would be lost.
     */
    void stop() throws InterruptedException {
        refusing = true;
        stopping = true;
        queue.add(END);
        synchronized (done) {
            while (running) {
                done.wait();
            }
        }
        TransactionPart p;
        while ((p = queue.poll()) != null) {
            if (p != END) {
                drop(p);
            }
        }
        makeWaitingDurable();
    }

    /**
     * After the loop ended: makes the last commit still waiting for its durability durable (each destination commit
     * before it with it) and acknowledges every waiting part. When that fails, none is acknowledged (the slot sends them
     * again).
     */
    private void makeWaitingDurable() {
        if (waiting.isEmpty()) {
            return;
        }
        PendingDurability last = null;
        for (Delivered d : waiting) {
            if (d.durability() != null) {
                last = d.durability();
            }
        }
        try {
            if (last != null) {
                last.makeDurable();
            }
            long lsn = -1;
            for (Delivered d : waiting) {
                lsn = Math.max(lsn, d.lsn());
            }
            if (lsn >= 0) {
                acknowledge.accept(lsn);
            }
        } catch (Exception e) {
            LOG.info("the destination's last commits could not be made durable before the stream closes ({}): they are not"
                    + " acknowledged, the slot sends them again", e.getMessage());
        } finally {
            waiting.clear();
        }
    }
}
