package io.pgsource.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.TableSchema;
import io.pgsource.pgoutput.protocol.TransactionPart;
import io.pgsource.sink.TestChanges;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The hand-over from the replication reader to the route: order, acknowledgements, bounded memory, failures. */
class PartDeliveryTest {
    private final ExecutorService thread = Executors.newSingleThreadExecutor();
    private final TableSchema t = TestChanges.table("s", "t", List.of("id"), TestChanges.col("id", "integer"));

    @AfterEach
    void stopThread() {
        thread.shutdownNow();
    }

    /** A part of {@code size} changes; the last part of its transaction when {@code last}. */
    private TransactionPart part(long lsn, int size, boolean last) {
        return part(lsn, size, 0, last, t);
    }

    /** Part {@code index} of transaction {@code lsn}, of {@code size} changes of a table of the given shape. */
    private static TransactionPart part(long lsn, int size, int index, boolean last, TableSchema shape) {
        List<ChangeEvent> events = new ArrayList<>();
        Position.Log position = new Position.Log(lsn, lsn, null);
        for (int i = 0; i < size; i++) {
            Object[] values = new Object[shape.size()];
            values[0] = i;
            events.add(new ChangeEvent(Op.INSERT, shape, null, TestChanges.row(shape, values), Set.of(), position));
        }
        return new TransactionPart(new ChangeBatch(events, position, last), lsn, index, 0, false, null, List.of());
    }

    @Test
    void deliversInOrderAndAcknowledgesOnlyLastPartsAfterTheRoute() throws Exception {
        List<Long> delivered = Collections.synchronizedList(new ArrayList<>());
        List<Long> acknowledged = Collections.synchronizedList(new ArrayList<>());
        PartDelivery d = new PartDelivery((p, n) -> delivered.add(p.xid()), 10, false, acknowledged::add);
        d.start(thread);
        d.offer(part(100, 3, false), () -> true);
        d.offer(part(101, 3, true), () -> true);
        d.offer(part(200, 1, true), () -> true);
        drainAndStop(d);
        assertThat(delivered).containsExactly(100L, 101L, 200L);
        assertThat(acknowledged).containsExactly(101L, 200L);
        assertThat(d.busy()).isFalse();
    }

    @Test
    void theReaderWaitsWhileTwoBatchesOfChangesAreAhead() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger inRoute = new AtomicInteger();
        PartDelivery d = new PartDelivery((p, n) -> {
            inRoute.incrementAndGet();
            await(release);
        }, 10, false, lsn -> { });
        d.start(thread);
        d.offer(part(1, 10, true), () -> true); // in the route
        d.offer(part(2, 10, true), () -> true); // waiting
        AtomicInteger checks = new AtomicInteger();
        // no room for a third: the offer waits, asking whether to keep waiting, and gives up when told to stop
        d.offer(part(3, 1, true), () -> checks.incrementAndGet() < 3);
        assertThat(checks).hasValue(3);
        assertThat(d.busy()).isTrue();
        release.countDown();
        drainAndStop(d);
        assertThat(inRoute).hasValue(2);
    }

    @Test
    void aFailedPartDropsThePartsBehindItAndTheReaderGetsTheFailure() throws Exception {
        List<Long> delivered = Collections.synchronizedList(new ArrayList<>());
        List<Long> acknowledged = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch queued = new CountDownLatch(1);
        PartDelivery d = new PartDelivery((p, n) -> {
            await(queued);
            if (p.xid() == 2) {
                throw new IllegalStateException("destination down");
            }
            delivered.add(p.xid());
        }, 10, false, acknowledged::add);
        d.start(thread);
        d.offer(part(1, 1, true), () -> true);
        d.offer(part(2, 1, true), () -> true);
        d.offer(part(3, 1, true), () -> true);
        queued.countDown();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (d.busy() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(d.busy()).as("the parts behind the failed one are dropped").isFalse();
        assertThatThrownBy(d::check).isInstanceOf(RouteFailedException.class).hasMessageContaining("destination down");
        assertThatThrownBy(() -> d.offer(part(4, 1, true), () -> true)).isInstanceOf(RouteFailedException.class);
        d.stop();
        assertThat(delivered).containsExactly(1L);
        assertThat(acknowledged).containsExactly(1L);
    }

    @Test
    void combinesTheWholeTransactionsWaitingBehindOneUpToMaxBatchSizeAndAcknowledgesEachGroupAtItsLastCommit() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        List<TransactionPart> delivered = Collections.synchronizedList(new ArrayList<>());
        List<Long> acknowledged = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch inRoute = new CountDownLatch(1);
        PartDelivery d = new PartDelivery((p, n) -> {
            inRoute.countDown();
            await(release);
            delivered.add(p);
        }, 10, true, acknowledged::add);
        d.start(thread);
        d.offer(part(1, 3, true), () -> true);
        await(inRoute); // the first part is in the route, taken alone: nothing waited behind it
        d.offer(part(2, 3, true), () -> true);
        d.offer(part(3, 3, true), () -> true);
        d.offer(part(4, 3, true), () -> true); // 2 + 3 + 4: 9 changes, within maxBatchSize
        d.offer(part(5, 2, true), () -> true); // would make 11: the next exchange
        release.countDown();
        drainAndStop(d);
        assertThat(delivered).extracting(TransactionPart::xid).containsExactly(1L, 4L, 5L);
        assertThat(delivered).extracting(p -> p.batch().size()).containsExactly(3, 9, 2);
        assertThat(delivered.get(1).batch().position()).isEqualTo(new Position.Log(4, 4, null));
        assertThat(delivered.get(1).batch()).extracting(e -> ((Position.Log) e.position()).txId()).containsExactly(2L, 2L, 2L, 3L, 3L, 3L,
                4L, 4L, 4L);
        assertThat(delivered.get(1).last()).isTrue();
        assertThat(acknowledged).containsExactly(1L, 4L, 5L);
        assertThat(d.busy()).isFalse();
    }

    @Test
    void neverCombinesPartsOfALargerTransactionNorTransactionsThatSeeATableInDifferentShapes() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        List<TransactionPart> delivered = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch inRoute = new CountDownLatch(1);
        PartDelivery d = new PartDelivery((p, n) -> {
            inRoute.countDown();
            await(release);
            delivered.add(p);
        }, 100, true, lsn -> { });
        TableSchema altered = TestChanges.table("s", "t", List.of("id"), TestChanges.col("id", "integer"), TestChanges.col("v", "text"));
        d.start(thread);
        d.offer(part(1, 1, true), () -> true);
        await(inRoute); // the first part is in the route, taken alone: nothing waited behind it
        d.offer(part(2, 2, 0, false, t), () -> true); // parts of transaction 2
        d.offer(part(2, 2, 1, true, t), () -> true);
        d.offer(part(3, 1, true), () -> true);
        d.offer(part(4, 1, 0, true, altered), () -> true); // t has another shape from here on
        d.offer(part(5, 1, 0, true, altered), () -> true);
        release.countDown();
        drainAndStop(d);
        assertThat(delivered).extracting(p -> p.xid() + ":" + p.batch().size()).containsExactly("1:1", "2:2", "2:2", "3:1", "5:2");
    }

    @Test
    void aCombinedExchangeThatFailsIsDeliveredAgainOneTransactionAtATimeAndFailsOnTheOneTheRouteCannotTake() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        List<String> attempts = Collections.synchronizedList(new ArrayList<>());
        List<Long> acknowledged = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch inRoute = new CountDownLatch(1);
        PartDelivery d = new PartDelivery((p, n) -> {
            inRoute.countDown();
            await(release);
            attempts.add(p.xid() + "x" + n);
            if (p.batch().stream().anyMatch(e -> ((Position.Log) e.position()).txId() == 3)) {
                throw new IllegalStateException("destination refuses a change of transaction 3");
            }
        }, 10, true, acknowledged::add);
        d.start(thread);
        d.offer(part(1, 1, true), () -> true);
        await(inRoute); // the first part is in the route, taken alone: nothing waited behind it
        d.offer(part(2, 1, true), () -> true);
        d.offer(part(3, 1, true), () -> true);
        d.offer(part(4, 1, true), () -> true);
        release.countDown();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (d.busy() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(attempts).containsExactly("1x1", "4x3", "2x1", "3x1");
        assertThat(acknowledged).as("the transaction before the refused one is applied, nothing after").containsExactly(1L, 2L);
        assertThatThrownBy(d::check).isInstanceOf(RouteFailedException.class).hasMessageContaining("transaction 3");
        d.stop();
    }

    /**
     * A stop while parts wait in the queue (a lagging route at SIGTERM) ends delivery at a part boundary: what went
     * through the route and was acknowledged is always the first parts offered, in order, never a later part with an
     * earlier one left out (acknowledging it would make the slot skip the one left out). Combining makes the loop take
     * several parts at once, where a stop draining the queue meanwhile once let it deliver a part behind drained ones.
     */
    @Test
    void aStopWhilePartsWaitDeliversOnlyTheFirstOnesInOrder() throws Exception {
        Random random = new Random(42);
        for (int round = 0; round < 200; round++) {
            List<Long> delivered = Collections.synchronizedList(new ArrayList<>());
            List<Long> acknowledged = Collections.synchronizedList(new ArrayList<>());
            PartDelivery d = new PartDelivery((p, n) -> {
                for (ChangeEvent e : p.batch()) {
                    long lsn = ((Position.Log) e.position()).commitLsn();
                    if (delivered.isEmpty() || delivered.get(delivered.size() - 1) != lsn) {
                        delivered.add(lsn);
                    }
                }
                if (random.nextInt(4) == 0) {
                    Thread.onSpinWait();
                }
            }, 5, true, acknowledged::add);
            d.start(thread);
            int stopAfter = random.nextInt(60);
            for (long lsn = 1; lsn <= 60; lsn++) {
                d.offer(part(lsn, 1, true), () -> true);
                if (lsn == stopAfter) {
                    break;
                }
            }
            d.stop();
            List<Long> prefix = new ArrayList<>();
            for (long lsn = 1; lsn <= delivered.size(); lsn++) {
                prefix.add(lsn);
            }
            assertThat(delivered).as("round %d", round).isEqualTo(prefix);
            // each delivered part is acknowledged at its last transaction: the last acknowledgement is the last delivered
            assertThat(acknowledged).as("round %d", round).isSorted().isSubsetOf(delivered);
            if (!delivered.isEmpty()) {
                assertThat(acknowledged).as("round %d", round).last().isEqualTo(delivered.get(delivered.size() - 1));
            }
        }
    }

    /** Waits until every queued part went through the route, then stops the loop. */
    private static void drainAndStop(PartDelivery d) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (d.busy() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        d.stop();
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
