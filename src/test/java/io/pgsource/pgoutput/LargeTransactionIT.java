package io.pgsource.pgoutput;

import static io.pgsource.pgoutput.PgOutputTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeBatch;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A 1M-row transaction through the consumer in a 256 MB heap (failsafe runs this with -Xmx256m). */
class LargeTransactionIT extends CamelTestSupport {
    private static final Logger LOG = LoggerFactory.getLogger(LargeTransactionIT.class);
    private static final int ROWS = 1_000_000;
    private static PgOutputTestSupport db;

    @BeforeAll
    static void database() throws Exception {
        db = new PgOutputTestSupport("pgoutput_large");
        db.execute("CREATE TABLE big (id int PRIMARY KEY, v text)", "CREATE PUBLICATION big_pub FOR TABLE big");
    }

    @AfterAll
    static void dropSlots() throws Exception {
        db.dropSlots();
    }

    @Test
    void aMillionRowTransactionPassesInBoundedMemory() throws Exception {
        assertThat(Runtime.getRuntime().maxMemory()).as("run with -Xmx256m").isLessThanOrEqualTo(300L << 20);
        String slot = db.createSlot("large");
        AtomicLong events = new AtomicLong();
        AtomicInteger parts = new AtomicInteger();
        AtomicInteger lastParts = new AtomicInteger();
        AtomicInteger largest = new AtomicInteger();
        AtomicLong xid = new AtomicLong();
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from(db.uri(slot, "big_pub", "")).routeId("large").process(exchange -> {
                    ChangeBatch batch = exchange.getMessage().getBody(ChangeBatch.class);
                    events.addAndGet(batch.size());
                    parts.incrementAndGet();
                    largest.accumulateAndGet(batch.size(), Math::max);
                    xid.set(exchange.getMessage().getHeader(PgOutputConstants.TX_ID, Long.class));
                    if (batch.last()) {
                        lastParts.incrementAndGet();
                    }
                });
            }
        });
        long inserted = db.transaction("INSERT INTO big SELECT g, 'row number ' || g FROM generate_series(1, " + ROWS + ") g");
        long start = System.nanoTime();
        await(Duration.ofMinutes(3), () -> lastParts.get() == 1, "the whole transaction");
        double seconds = (System.nanoTime() - start) / 1e9;
        LOG.info("{} rows in one transaction delivered in {} s ({} rows/s) in {} parts", ROWS, String.format("%.1f", seconds),
                Math.round(ROWS / seconds), parts.get());

        assertThat(events.get()).isEqualTo(ROWS);
        assertThat(largest.get()).isEqualTo(10_000);
        assertThat(parts.get()).isEqualTo(ROWS / 10_000);
        assertThat(xid.get()).isEqualTo(inserted);
    }
}
