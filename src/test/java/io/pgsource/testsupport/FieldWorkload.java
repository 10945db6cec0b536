package io.pgsource.testsupport;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tables of an ordinary application database that pgsource did not design, in schema {@code app}, and a writer
 * that changes them the way applications do:
 * <ul>
 * <li>{@code measurements}: partitioned by month range, each range partitioned again by region (two levels), keyed by
 * (id, taken_on, region); rows inserted, updated, deleted, moved to another region (a change of partition and key),
 * and a partition for a new year created while the writer runs;</li>
 * <li>{@code event_log}: no key, insert-only (an application log; PostgreSQL rejects UPDATE and DELETE on it while a
 * publication with updates publishes it);</li>
 * <li>{@code parcels}: a stored generated column ({@code area = w * h});</li>
 * <li>{@code orders} and {@code customers}: the tables other consumers' publications filter ({@code orders WHERE region =
 * 'eu'}, with the REPLICA IDENTITY FULL PostgreSQL asks for then) and trim ({@code customers (id, name, email)}, leaving out
 * {@code secret}); see {@link #createFilteredPublications}.</li>
 * </ul>
 */
public final class FieldWorkload {
    private static final Logger LOG = LoggerFactory.getLogger(FieldWorkload.class);
    /** The tables in schema {@code app}. */
    public static final List<String> TABLES = List.of("measurements", "event_log", "parcels", "orders", "customers");
    private static final String[] REGIONS = {"eu", "us", "apac"};

    private final MixedWorkload.Connector connector;
    private final long seed;
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private Thread thread;
    private volatile boolean stopping;

    public FieldWorkload(MixedWorkload.Connector connector, long seed) {
        this.connector = connector;
        this.seed = seed;
    }

    /** The schema and its first rows. */
    public void prepare() throws SQLException {
        try (Connection c = connector.open(); Statement s = c.createStatement()) {
            s.execute("SELECT setseed(" + Math.floorMod(seed, 1000) / 1000.0 + ")");
            s.execute("CREATE SCHEMA app");
            s.execute("CREATE TABLE app.measurements (id bigint NOT NULL, taken_on date NOT NULL, region text NOT NULL,"
                    + " value numeric(12,3), note text, PRIMARY KEY (id, taken_on, region)) PARTITION BY RANGE (taken_on)");
            for (int year : new int[] {2025, 2026}) {
                s.execute("CREATE TABLE app.measurements_" + year + " PARTITION OF app.measurements FOR VALUES FROM ('" + year
                        + "-01-01') TO ('" + (year + 1) + "-01-01') PARTITION BY LIST (region)");
                s.execute("CREATE TABLE app.measurements_" + year + "_eu PARTITION OF app.measurements_" + year + " FOR VALUES IN ('eu')");
                s.execute("CREATE TABLE app.measurements_" + year + "_other PARTITION OF app.measurements_" + year + " DEFAULT");
            }
            s.execute("INSERT INTO app.measurements SELECT g, DATE '2025-01-01' + (g % 700), (ARRAY['eu','us','apac'])[1 + g % 3],"
                    + " round((random() * 1000)::numeric, 3), 'seed ' || g FROM generate_series(1, 3000) g");
            s.execute("CREATE TABLE app.event_log (at timestamptz NOT NULL DEFAULT now(), level text NOT NULL, message text)");
            s.execute("INSERT INTO app.event_log (at, level, message) SELECT now() - g * interval '1 minute', 'info', 'boot ' || g"
                    + " FROM generate_series(1, 500) g");
            s.execute("INSERT INTO app.event_log (at, level, message) SELECT at, level, message FROM app.event_log LIMIT 20"); // duplicates
            s.execute("CREATE TABLE app.parcels (id int PRIMARY KEY, w numeric NOT NULL, h numeric NOT NULL,"
                    + " area numeric GENERATED ALWAYS AS (w * h) STORED)");
            s.execute("INSERT INTO app.parcels (id, w, h) SELECT g, g % 17 + 0.5, g % 13 + 0.25 FROM generate_series(1, 1000) g");
            s.execute("CREATE TABLE app.orders (id int PRIMARY KEY, region text NOT NULL, total numeric(10,2) NOT NULL)");
            s.execute("INSERT INTO app.orders SELECT g, (ARRAY['eu','us','apac'])[1 + g % 3], g * 1.25 FROM generate_series(1, 900) g");
            s.execute("CREATE TABLE app.customers (id int PRIMARY KEY, name text NOT NULL, email text, secret text)");
            s.execute("INSERT INTO app.customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', md5(g::text)"
                    + " FROM generate_series(1, 600) g");
            s.execute("ANALYZE");
        }
        LOG.info("Field workload: schema app prepared (seed {})", seed);
    }

    /**
     * Publications of other consumers on the same database (PostgreSQL 15+): a row filter on {@code orders} and a column
     * list on {@code customers}, in publications named {@code eu_orders_pub} and {@code customer_names_pub}.
     */
    public void createFilteredPublications() throws SQLException {
        try (Connection c = connector.open(); Statement s = c.createStatement()) {
            // PostgreSQL publishes UPDATEs of a row-filtered table only when the filter's columns are in its replica identity
            s.execute("ALTER TABLE app.orders REPLICA IDENTITY FULL");
            s.execute("CREATE PUBLICATION eu_orders_pub FOR TABLE app.orders WHERE (region = 'eu')");
            s.execute("CREATE PUBLICATION customer_names_pub FOR TABLE app.customers (id, name, email)");
        }
    }

    /** Starts the writer: one transaction after another until {@link #stopAndJoin}. */
    public synchronized void start() {
        stopping = false;
        thread = new Thread(this::run, "field-workload");
        thread.setDaemon(true);
        thread.start();
    }

    /** Stops the writer and waits for its last transaction; rethrows what made it fail. */
    public void stopAndJoin(Duration timeout) throws InterruptedException {
        stopping = true;
        thread.join(timeout.toMillis());
        if (thread.isAlive()) {
            throw new IllegalStateException("the field workload did not stop within " + timeout);
        }
        Throwable t = failure.get();
        if (t != null) {
            throw new IllegalStateException("the field workload failed (seed " + seed + "): " + t, t);
        }
    }

    public long transactions() {
        return transactions.get();
    }

    private void run() {
        Random random = new Random(seed);
        long nextId = 1_000_000;
        boolean created2027 = false;
        try (Connection c = connector.open(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            while (!stopping) {
                long n = transactions.get();
                if (!created2027 && n == 150) {
                    // a new year arrives while streaming: a partition created (with its own sub-partitions) mid-stream
                    s.execute("CREATE TABLE app.measurements_2027 PARTITION OF app.measurements FOR VALUES FROM ('2027-01-01')"
                            + " TO ('2028-01-01') PARTITION BY LIST (region)");
                    s.execute("CREATE TABLE app.measurements_2027_all PARTITION OF app.measurements_2027 DEFAULT");
                    c.commit();
                    created2027 = true;
                }
                int years = created2027 ? 3 * 365 : 2 * 365;
                for (int i = 0, rows = 1 + random.nextInt(5); i < rows; i++) {
                    LocalDate day = LocalDate.of(2025, 1, 1).plusDays(random.nextInt(years));
                    s.execute("INSERT INTO app.measurements VALUES (" + nextId++ + ", DATE '" + day + "', '" + region(random) + "', "
                            + random.nextInt(1_000_000) / 1000.0 + ", 'tx " + n + "')");
                }
                long id = 1 + random.nextInt(3000);
                switch (random.nextInt(4)) {
                    case 0 -> s.execute("UPDATE app.measurements SET value = value + 1, note = 'updated in tx " + n + "' WHERE id = " + id);
                    case 1 -> s.execute("DELETE FROM app.measurements WHERE id = " + id);
                    // another region: the row moves to another partition, and its key changes
                    case 2 -> s.execute("UPDATE app.measurements SET region = '" + region(random) + "' WHERE id = " + id);
                    default -> s.execute("UPDATE app.measurements SET taken_on = taken_on + 1 WHERE id = " + id);
                }
                for (int i = 0, rows = 1 + random.nextInt(3); i < rows; i++) {
                    s.execute("INSERT INTO app.event_log (level, message) VALUES ('" + (random.nextBoolean() ? "info" : "warn")
                            + "', 'event of tx " + n + "')");
                }
                int parcel = 1 + random.nextInt(1200);
                s.execute("INSERT INTO app.parcels (id, w, h) VALUES (" + parcel + ", " + random.nextInt(100) + ".5, 2)"
                        + " ON CONFLICT (id) DO UPDATE SET w = EXCLUDED.w, h = app.parcels.h + 1");
                int order = 1 + random.nextInt(1000);
                s.execute("INSERT INTO app.orders VALUES (" + order + ", '" + region(random) + "', " + random.nextInt(10_000) / 100.0 + ")"
                        + " ON CONFLICT (id) DO UPDATE SET region = EXCLUDED.region, total = app.orders.total + 1");
                if (random.nextInt(5) == 0) {
                    s.execute("DELETE FROM app.orders WHERE id = " + (1 + random.nextInt(1000)));
                }
                s.execute("UPDATE app.customers SET email = 'new" + n + "@example.com', secret = md5(random()::text) WHERE id = "
                        + (1 + random.nextInt(600)));
                c.commit();
                transactions.incrementAndGet();
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    private static String region(Random random) {
        return REGIONS[random.nextInt(REGIONS.length)];
    }

    @Override
    public String toString() {
        return "field workload: " + transactions.get() + " transactions (seed " + seed + ")";
    }
}
