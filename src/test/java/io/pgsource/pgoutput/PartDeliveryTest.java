package io.pgsource.pgoutput;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Position;
import io.pgsource.change.TableSchema;
import io.pgsource.pgoutput.protocol.TransactionPart;
import io.pgsource.sink.TestChanges;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
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
        List<ChangeEvent> events = new ArrayList<>();
        Position.Log position = new Position.Log(lsn, lsn, null);
        for (int i = 0; i < size; i++) {
            events.add(TestChanges.insert(TestChanges.row(t, i)));
        }
        return new TransactionPart(new ChangeBatch(events, position, last), lsn, 0, false, null, List.of());
    }

    @Test
    void deliversInOrderAndAcknowledgesOnlyLastPartsAfterTheRoute() throws Exception {
        List<Long> delivered = Collections.synchronizedList(new ArrayList<>());
        List<Long> acknowledged = Collections.synchronizedList(new ArrayList<>());
        PartDelivery d = new PartDelivery(p -> delivered.add(p.xid()), 10, acknowledged::add);
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
        PartDelivery d = new PartDelivery(p -> {
            inRoute.incrementAndGet();
            await(release);
        }, 10, lsn -> { });
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
        PartDelivery d = new PartDelivery(p -> {
            await(queued);
            if (p.xid() == 2) {
                throw new IllegalStateException("destination down");
            }
            delivered.add(p.xid());
        }, 10, acknowledged::add);
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
