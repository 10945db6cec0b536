package io.pgsource.testsupport;

import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mixed workload the fault tests run: twelve tables of different key shapes and types in one schema, seeded, and
 * a writer thread that changes them until stopped. Shared by the crash, source-fault, destination-outage and slot
 * tests and by the soak ({@code bench/soak.sh}).
 *
 * <p>Tables: {@code accounts} (bigint key, the big one), {@code orders} (composite text+int key, numeric(12,2)),
 * {@code users} (text key, jsonb, date), {@code docs} (int key, a ~200 kB incompressible TOASTed body), {@code blobs}
 * (uuid key, two TOASTed columns), {@code ledger} (no key, {@code REPLICA IDENTITY FULL}, duplicate rows),
 * {@code scratch} (truncated and refilled), {@code events} (bigserial, jsonb, numeric without scale incl. NaN),
 * {@code readings} (int+timestamptz key, double precision), {@code tags} (smallint key, text[], boolean),
 * {@code counters} (hot rows, updated again and again) and {@code schedules} (interval, date, real).
 *
 * <p>The writer (seeded {@link Random}; the seed is logged, pass it back with {@link Builder#seed} to repeat a run)
 * commits one transaction after another: inserts, updates, deletes, primary-key updates, occasional truncates, new
 * 200 kB TOAST values and updates that leave TOAST values unchanged (also together with a key change), in
 * transactions of one row up to {@link Builder#maxTransactionRows} (default 20,000) rows. It survives the source
 * going away (restart, terminated session, cut network): it reconnects and goes on, counting the interruption; a
 * transaction interrupted that way may or may not have committed, which no check here relies on.
 *
 * <p>Every committed transaction that changed something is recorded ({@link #commits()}: transaction id and the WAL
 * insert position just before its COMMIT), so an event destination can be checked for every transaction committed
 * after a given LSN. Compare the tables with {@link TableCompare}; check a jsonl destination with {@link JsonlEvents}.
 */
public final class MixedWorkload {
    private static final Logger LOG = LoggerFactory.getLogger(MixedWorkload.class);

    /** Opens a connection to the source database (a new one after each outage). */
    @FunctionalInterface
    public interface Connector {
        Connection open() throws SQLException;
    }

    /**
     * One table of the workload.
     *
     * @param name the table's name (in {@link #schema()})
     * @param key  its primary-key columns, empty for the keyless table
     */
    public record Table(String name, List<String> key) {
        public boolean keyless() {
            return key.isEmpty();
        }
    }

    /** A committed transaction that changed rows: its 32-bit transaction id and the WAL insert LSN before its COMMIT. */
    public record Commit(long xid, long lsnBeforeCommit) {
    }

    /** What the writer did so far. */
    public record Stats(long transactions, long rows, long bigTransactions, long truncates, long interruptions) {
        @Override
        public String toString() {
            return transactions + " transactions, " + rows + " rows changed, " + bigTransactions + " of 5,000+ rows, " + truncates
                    + " truncates, " + interruptions + " interrupted by source outages";
        }
    }

    public static final List<Table> TABLES = List.of(
            new Table("accounts", List.of("id")),
            new Table("orders", List.of("region", "order_no")),
            new Table("users", List.of("email")),
            new Table("docs", List.of("id")),
            new Table("blobs", List.of("id")),
            new Table("ledger", List.of()),
            new Table("scratch", List.of("id")),
            new Table("events", List.of("id")),
            new Table("readings", List.of("sensor", "at")),
            new Table("tags", List.of("id")),
            new Table("counters", List.of("name")),
            new Table("schedules", List.of("id")));

    private static final String TABLES_DDL = """
            CREATE TABLE accounts (id bigint PRIMARY KEY, balance int NOT NULL, note text, updated timestamptz NOT NULL DEFAULT now());
            CREATE TABLE orders (region text NOT NULL, order_no int NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL,
              placed timestamptz NOT NULL, PRIMARY KEY (region, order_no));
            CREATE TABLE users (email text PRIMARY KEY, name text NOT NULL, prefs jsonb, born date);
            CREATE TABLE docs (id int PRIMARY KEY, version int NOT NULL, title text, body text NOT NULL);
            CREATE TABLE blobs (id uuid PRIMARY KEY, kind text, data text, extra text, meta jsonb);
            CREATE TABLE ledger (account bigint NOT NULL, amount numeric NOT NULL, at timestamptz NOT NULL, memo text);
            ALTER TABLE ledger REPLICA IDENTITY FULL;
            CREATE TABLE scratch (id int PRIMARY KEY, v text);
            CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, payload jsonb, amount numeric);
            CREATE TABLE readings (sensor int NOT NULL, at timestamptz NOT NULL, value double precision, PRIMARY KEY (sensor, at));
            CREATE TABLE tags (id smallint PRIMARY KEY, name varchar(40) NOT NULL, labels text[], active boolean NOT NULL DEFAULT true);
            CREATE TABLE counters (name text PRIMARY KEY, n bigint NOT NULL, last_tx bigint);
            CREATE TABLE schedules (id int PRIMARY KEY, every interval NOT NULL, next_run date, weight real);
            """;

    /** About 200 kB of barely compressible text: stored out of line (TOAST), never inline or compressed away. */
    private static final String BIG_TEXT = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 6400))";
    private static final String[] REGIONS = {"eu", "us", "apac", "latam"};

    private final Connector connector;
    private final String schema;
    private final long seed;
    private final int scale;
    private final int maxTransactionRows;
    private final int maxPauseMillis;

    private final AtomicLong transactions = new AtomicLong();
    private final AtomicLong rows = new AtomicLong();
    private final AtomicLong bigTransactions = new AtomicLong();
    private final AtomicLong truncates = new AtomicLong();
    private final AtomicLong interruptions = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final List<Commit> commits = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean stopping;
    private volatile boolean paused;
    private volatile boolean idle;
    private Thread thread;

    private MixedWorkload(Builder b) {
        this.connector = b.connector;
        this.schema = b.schema;
        this.seed = b.seed;
        this.scale = b.scale;
        this.maxTransactionRows = b.maxTransactionRows;
        this.maxPauseMillis = b.maxPauseMillis;
    }

    public static Builder builder(Connector connector) {
        return new Builder(connector);
    }

    public String schema() {
        return schema;
    }

    public long seed() {
        return seed;
    }

    public List<Table> tables() {
        return TABLES;
    }

    /** {@code schema.table} of every table, for {@code source.tables}. */
    public List<String> qualifiedNames() {
        String s = schema.matches("[a-z_][a-z0-9_]*") ? schema : TableId.quoteIdent(schema);
        return TABLES.stream().map(t -> s + "." + t.name()).toList();
    }

    /** Creates the schema, its tables and sequences, and seeds them ({@code scale} rows in the biggest table). */
    public void create() throws SQLException {
        try (Connection c = connector.open(); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS " + TableId.quoteIdent(schema));
            useSchema(s, schema);
            s.execute(TABLES_DDL);
            int n = scale;
            s.execute("CREATE SEQUENCE account_ids START " + (n + 1)
                    + "; CREATE SEQUENCE order_nos START " + (n + 1)
                    + "; CREATE SEQUENCE user_ids START " + (n + 1)
                    + "; CREATE SEQUENCE doc_ids START 1001; CREATE SEQUENCE tag_ids START 1001; CREATE SEQUENCE reading_seq START 1");
            s.execute("SELECT setseed(" + sqlSeed() + ")");
            s.execute("INSERT INTO accounts (id, balance, note, updated) SELECT g, g % 1000, 'seed ' || g, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 second' "
                    + "FROM generate_series(1, " + n + ") g");
            s.execute("INSERT INTO orders SELECT (ARRAY['eu','us','apac','latam'])[1 + g % 4], g, round((g % 10000) / 3.0, 2), 'new', "
                    + "'2024-02-01T00:00:00Z'::timestamptz + g * interval '1 minute' FROM generate_series(1, " + n / 5 + ") g");
            s.execute("INSERT INTO users SELECT 'user' || g || '@example.com', 'User ' || g, jsonb_build_object('lang', 'en', 'n', g), "
                    + "'1970-01-01'::date + g FROM generate_series(1, " + n / 10 + ") g");
            s.execute("INSERT INTO docs SELECT d, 0, 'doc ' || d, (SELECT string_agg(md5(d || ':' || g), '') FROM generate_series(1, 6400) g) "
                    + "FROM generate_series(1, 30) d");
            s.execute("INSERT INTO blobs SELECT gen_random_uuid(), 'seed', (SELECT string_agg(md5(b || ':' || g), '') FROM generate_series(1, 6400) g), "
                    + "(SELECT string_agg(md5(b || '/' || g), '') FROM generate_series(1, 1600) g), jsonb_build_object('b', b) FROM generate_series(1, 10) b");
            // every tenth account has two identical ledger rows: deletes and updates must remove one copy, not both
            s.execute("INSERT INTO ledger SELECT g % " + Math.max(1, n / 10) + ", (g % 97) / 4.0, '2024-03-01T00:00:00Z'::timestamptz + (g % 10) * interval '1 day', "
                    + "'seed' FROM generate_series(1, " + n / 10 + ") g");
            s.execute("INSERT INTO scratch SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
            s.execute("INSERT INTO events (kind, payload, amount) SELECT 'seed', jsonb_build_object('n', g, 'nested', jsonb_build_object('a', g % 3)), "
                    + "CASE WHEN g % 1000 = 0 THEN 'NaN'::numeric ELSE g / 7.0 END FROM generate_series(1, " + n / 5 + ") g");
            s.execute("INSERT INTO readings SELECT g % 50, '2024-04-01T00:00:00Z'::timestamptz + g * interval '1 second', sqrt(g) "
                    + "FROM generate_series(1, " + n / 5 + ") g");
            s.execute("INSERT INTO tags SELECT g, 'tag ' || g, ARRAY['a' || g, 'b', NULL], g % 2 = 0 FROM generate_series(1, 500) g");
            s.execute("INSERT INTO counters SELECT 'c' || g, 0, NULL FROM generate_series(1, 20) g");
            s.execute("INSERT INTO schedules SELECT g, make_interval(days => g % 30, hours => g % 24, secs => g / 1000.0), '2024-05-01'::date + g, g / 3.0 "
                    + "FROM generate_series(1, 300) g");
            s.execute("ANALYZE");
        }
        LOG.info("Mixed workload: {} tables created and seeded in schema {} (scale {}, seed {})", TABLES.size(), schema, scale, seed);
    }

    /** Creates the tables only (same definitions, no rows, no sequences) in {@code targetSchema}, e.g. to load a model into. */
    public static void createTables(Connection c, String targetSchema) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS " + TableId.quoteIdent(targetSchema));
            useSchema(s, targetSchema);
            s.execute(TABLES_DDL.replace("bigserial", "bigint"));
            s.execute("RESET search_path");
        }
    }

    /** The seed for PostgreSQL's setseed(), in [-1, 1]. */
    private double sqlSeed() {
        return Math.floorMod(seed, 1000) / 1000.0;
    }

    private static void useSchema(Statement s, String schema) throws SQLException {
        s.execute("SET search_path = " + TableId.quoteIdent(schema));
    }

    // ---- the writer ----

    /** Starts the writer thread. */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("the workload writer already started");
        }
        LOG.info("Mixed workload writer starts (seed {}; repeat with MixedWorkload.builder(..).seed({}L))", seed, seed);
        thread = new Thread(this::run, "mixed-workload-writer");
        thread.setDaemon(true);
        thread.start();
    }

    /** Asks the writer to stop after its current transaction. */
    public void stop() {
        stopping = true;
    }

    /**
     * Holds the writer between transactions and waits until it is there (its transaction in flight committed), so a
     * test can run its own statements without lock conflicts with it.
     *
     * @throws AssertionError when the writer did not get there in time
     */
    public void pause(Duration timeout) throws InterruptedException {
        paused = true;
        long end = System.nanoTime() + timeout.toNanos();
        while (!idle && thread != null && thread.isAlive()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("the workload writer did not pause within " + timeout);
            }
            Thread.sleep(5);
        }
    }

    /** Lets a paused writer go on. */
    public void resume() {
        idle = false; // before the writer goes on, so a pause right after this one waits for it again
        paused = false;
    }

    /**
     * Stops the writer and waits for it.
     *
     * @throws AssertionError when it did not end in time, or failed (with the seed to repeat it)
     */
    public void stopAndJoin(Duration timeout) throws InterruptedException {
        stop();
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            t.join(timeout.toMillis());
            if (t.isAlive()) {
                throw new AssertionError("the workload writer did not stop within " + timeout + " (seed " + seed + ")");
            }
        }
        if (failure.get() != null) {
            throw new AssertionError("the workload writer failed (seed " + seed + ")", failure.get());
        }
        LOG.info("Mixed workload writer stopped (seed {}): {}", seed, stats());
    }

    /** The writer's failure so far, or null. */
    public Throwable failure() {
        return failure.get();
    }

    public Stats stats() {
        return new Stats(transactions.get(), rows.get(), bigTransactions.get(), truncates.get(), interruptions.get());
    }

    /** The committed transactions that changed something, in commit order. */
    public List<Commit> commits() {
        synchronized (commits) {
            return List.copyOf(commits);
        }
    }

    private void run() {
        Random rnd = new Random(seed);
        long outageStarted = 0;
        while (!stopping) {
            try (Connection c = connector.open(); Statement s = c.createStatement()) {
                if (outageStarted != 0) {
                    LOG.info("Mixed workload writer reconnected after {} ms", (System.nanoTime() - outageStarted) / 1_000_000);
                    outageStarted = 0;
                }
                useSchema(s, schema);
                // the SQL's random() repeats too (as far as the interleaving with outages allows)
                s.execute("SELECT setseed(" + sqlSeed() + ")");
                c.setAutoCommit(false);
                while (!stopping) {
                    if (paused) {
                        idle = true;
                        Thread.sleep(5);
                        continue;
                    }
                    idle = false;
                    transaction(c, s, rnd);
                    if (maxPauseMillis > 0) {
                        Thread.sleep(rnd.nextInt(maxPauseMillis + 1));
                    }
                }
            } catch (SQLException e) {
                if (!isOutage(e)) {
                    failure.set(e);
                    LOG.error("Mixed workload writer failed (seed {})", seed, e);
                    return;
                }
                // the source went away (restart, terminated backend, cut network): the transaction's fate is unknown
                interruptions.incrementAndGet();
                if (outageStarted == 0) {
                    outageStarted = System.nanoTime();
                    LOG.info("Mixed workload writer lost its connection ({}); reconnecting", e.getMessage());
                }
                if (System.nanoTime() - outageStarted > Duration.ofMinutes(3).toNanos()) {
                    failure.set(new AssertionError("the source stayed unreachable for 3 minutes", e));
                    return;
                }
                if (!pauseAfterOutage()) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Throwable e) {
                failure.set(e);
                LOG.error("Mixed workload writer failed (seed {})", seed, e);
                return;
            }
        }
    }

    /** Connection lost, server shutting down or starting, backend terminated. */
    private static boolean isOutage(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                String state = sql.getSQLState();
                if (state.startsWith("08") || state.startsWith("57P") || state.equals("53300")) {
                    return true;
                }
            }
        }
        return false;
    }

    private void transaction(Connection c, Statement s, Random rnd) throws SQLException {
        int statements = rnd.nextInt(6) == 0 ? 2 + rnd.nextInt(5) : 1;
        long changed = 0;
        boolean truncated = false;
        boolean big = false;
        try {
            for (int i = 0; i < statements; i++) {
                Change change = change(rnd);
                for (String sql : change.sql()) {
                    s.execute(sql);
                    changed += Math.max(0, s.getUpdateCount());
                }
                truncated |= change.truncates();
                big |= change.rows() >= 5_000;
            }
            long xid = -1;
            long lsn = 0;
            try (ResultSet rs = s.executeQuery("SELECT txid_current_if_assigned() % 4294967296, pg_current_wal_insert_lsn() - '0/0'::pg_lsn")) {
                rs.next();
                if (rs.getObject(1) != null) {
                    xid = rs.getLong(1);
                    lsn = rs.getLong(2);
                }
            }
            c.commit();
            transactions.incrementAndGet();
            rows.addAndGet(changed);
            if (big) {
                bigTransactions.incrementAndGet();
            }
            if (truncated) {
                truncates.incrementAndGet();
            }
            if (xid >= 0 && (changed > 0 || truncated)) {
                commits.add(new Commit(xid, lsn));
            }
        } catch (SQLException e) {
            try {
                c.rollback();
            } catch (SQLException ignored) {
                // the connection is gone: the caller reconnects
            }
            throw e;
        }
    }

    /** One statement or a few that belong together, and about how many rows they change. */
    private record Change(List<String> sql, int rows, boolean truncates) {
        static Change of(int rows, String... sql) {
            return new Change(List.of(sql), rows, false);
        }
    }

    /** Rows per statement: mostly a few, sometimes hundreds, now and then thousands. */
    private int size(Random rnd) {
        int r = rnd.nextInt(100);
        int n = r < 75 ? 1 + rnd.nextInt(20) : r < 96 ? 1 + rnd.nextInt(300) : 1000 + rnd.nextInt(4001);
        return Math.min(n, maxTransactionRows);
    }

    private Change change(Random rnd) {
        int n = size(rnd);
        long at = 1 + rnd.nextInt(Math.max(1, scale + scale / 10));
        return switch (rnd.nextInt(40)) {
            case 0, 1, 2 -> Change.of(n, "INSERT INTO accounts (id, balance, note) SELECT nextval('account_ids'), g, 'ins' FROM generate_series(1, " + n + ") g");
            case 3, 4, 5 -> Change.of(n, "UPDATE accounts SET balance = balance + 1, note = 'upd ' || txid_current(), updated = clock_timestamp() "
                    + "WHERE id IN (SELECT id FROM accounts WHERE id >= " + at + " ORDER BY id LIMIT " + n + ")");
            case 6 -> Change.of(n, "DELETE FROM accounts WHERE id IN (SELECT id FROM accounts WHERE id >= " + at + " ORDER BY id LIMIT " + Math.min(n, 300) + ")");
            // primary-key changes: the old key must disappear, the new one appear
            case 7 -> Change.of(n, "UPDATE accounts SET id = nextval('account_ids'), note = 'moved' "
                    + "WHERE id IN (SELECT id FROM accounts WHERE id >= " + at + " ORDER BY id LIMIT " + Math.min(n, 50) + ")");
            case 8, 9 -> Change.of(n, "INSERT INTO orders SELECT '" + REGIONS[rnd.nextInt(4)] + "', nextval('order_nos'), round((random() * 10000)::numeric, 2), 'new', "
                    + "clock_timestamp() FROM generate_series(1, " + n + ") g");
            case 10 -> Change.of(n, "UPDATE orders SET status = (ARRAY['paid','shipped','returned'])[1 + (order_no % 3)], amount = amount + 0.01 "
                    + "WHERE order_no IN (SELECT order_no FROM orders WHERE order_no >= " + at / 5 + " ORDER BY order_no LIMIT " + n + ")");
            case 11 -> Change.of(n, "UPDATE orders SET region = '" + REGIONS[rnd.nextInt(4)] + "' || '-moved' "
                    + "WHERE order_no IN (SELECT order_no FROM orders WHERE order_no >= " + at / 5 + " AND region NOT LIKE '%-moved' ORDER BY order_no LIMIT "
                    + Math.min(n, 40) + ")");
            case 12 -> Change.of(n, "DELETE FROM orders WHERE order_no IN (SELECT order_no FROM orders WHERE order_no >= " + at / 5 + " ORDER BY order_no LIMIT "
                    + Math.min(n, 100) + ")");
            case 13 -> Change.of(n, "INSERT INTO users SELECT 'new' || nextval('user_ids') || '@example.com', 'New user', "
                    + "jsonb_build_object('lang', 'de', 'tags', jsonb_build_array(g, 'x', null)), NULL FROM generate_series(1, " + Math.min(n, 200) + ") g");
            case 14 -> Change.of(n, "UPDATE users SET prefs = coalesce(prefs, '{}') || jsonb_build_object('seen', clock_timestamp()::text), name = name || '.' "
                    + "WHERE email IN (SELECT email FROM users WHERE email >= 'user" + at / 10 + "' ORDER BY email LIMIT " + Math.min(n, 300) + ")");
            case 15 -> Change.of(n, "UPDATE users SET email = 'moved' || nextval('user_ids') || '@example.com' "
                    + "WHERE email IN (SELECT email FROM users WHERE email >= 'user" + at / 10 + "' ORDER BY email LIMIT " + Math.min(n, 20) + ")");
            case 16 -> Change.of(n, "DELETE FROM users WHERE email IN (SELECT email FROM users WHERE email >= 'u" + at + "' ORDER BY email LIMIT "
                    + Math.min(n, 30) + ")");
            // the 200 kB body is not in the WAL of these updates (unchanged TOAST): the destination must keep it
            case 17, 18 -> Change.of(3, "UPDATE docs SET version = version + 1, title = 'v' || (version + 1) "
                    + "WHERE id IN (SELECT id FROM docs ORDER BY random() LIMIT 3)");
            case 19 -> switch (rnd.nextInt(5)) {
                // a key change with the TOASTed body unchanged
                case 0 -> Change.of(1, "UPDATE docs SET id = nextval('doc_ids'), version = version + 1 WHERE id = (SELECT min(id) FROM docs)");
                case 1 -> Change.of(1, "UPDATE docs SET body = " + BIG_TEXT + " WHERE id = (SELECT id FROM docs ORDER BY random() LIMIT 1)");
                case 2 -> Change.of(1, "INSERT INTO docs SELECT nextval('doc_ids'), 0, 'new', " + BIG_TEXT);
                case 3 -> Change.of(2, "UPDATE docs SET version = version + 1 WHERE id = (SELECT max(id) FROM docs)",
                        "UPDATE docs SET id = nextval('doc_ids') WHERE id = (SELECT max(id) FROM docs)");
                default -> Change.of(1, "DELETE FROM docs WHERE id = (SELECT max(id) FROM docs) AND (SELECT count(*) FROM docs) > 20");
            };
            case 20 -> switch (rnd.nextInt(5)) {
                case 0 -> Change.of(1, "UPDATE blobs SET kind = 'k' || txid_current() WHERE id = (SELECT id FROM blobs ORDER BY random() LIMIT 1)");
                case 1 -> Change.of(1, "UPDATE blobs SET data = " + BIG_TEXT + ", meta = meta || '{\"rewritten\": true}' "
                        + "WHERE id = (SELECT id FROM blobs ORDER BY random() LIMIT 1)");
                case 2 -> Change.of(1, "UPDATE blobs SET id = gen_random_uuid(), kind = 'moved' WHERE id = (SELECT id FROM blobs ORDER BY random() LIMIT 1)");
                case 3 -> Change.of(1, "INSERT INTO blobs VALUES (gen_random_uuid(), 'new', " + BIG_TEXT + ", NULL, '{\"new\": 1}')");
                default -> Change.of(1, "DELETE FROM blobs WHERE id = (SELECT id FROM blobs ORDER BY random() LIMIT 1) AND (SELECT count(*) FROM blobs) > 6");
            };
            case 21, 22 -> rnd.nextBoolean()
                    ? Change.of(n, "INSERT INTO ledger SELECT " + at % Math.max(1, scale / 10) + ", " + rnd.nextInt(100) + " / 4.0, '2024-03-01T00:00:00Z', 'dup' "
                            + "FROM generate_series(1, " + Math.min(n, 3) + ")")
                    : Change.of(n, "INSERT INTO ledger SELECT g, round((random() * 100)::numeric, 4), clock_timestamp(), 'w' FROM generate_series(1, " + n + ") g");
            case 23 -> Change.of(n, "UPDATE ledger SET amount = amount + 1, memo = 'upd' WHERE ctid IN (SELECT ctid FROM ledger WHERE account = "
                    + at % Math.max(1, scale / 10) + " LIMIT 2)");
            case 24 -> Change.of(n, "DELETE FROM ledger WHERE ctid IN (SELECT ctid FROM ledger WHERE account = " + at % Math.max(1, scale / 10) + " LIMIT 1)");
            case 25 -> rnd.nextInt(4) == 0
                    ? new Change(List.of("TRUNCATE scratch", "INSERT INTO scratch SELECT g, md5(random()::text) FROM generate_series(1, " + n + ") g"), n, true)
                    : Change.of(200, "UPDATE scratch SET v = md5(v) WHERE id % 10 = " + rnd.nextInt(10));
            case 26, 27 -> Change.of(n, "INSERT INTO events (kind, payload, amount) SELECT 'w', jsonb_build_object('g', g, 'r', random(), 's', 'ü\\\"x'), "
                    + "CASE WHEN g % 500 = 0 THEN 'NaN'::numeric ELSE round((random() * 1000)::numeric, 3) END FROM generate_series(1, " + n + ") g");
            case 28 -> Change.of(n, "UPDATE events SET payload = payload || '{\"touched\": true}', amount = amount + 0.001 "
                    + "WHERE id IN (SELECT id FROM events WHERE id >= " + at / 5 + " ORDER BY id LIMIT " + n + ")");
            case 29 -> Change.of(n, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id >= " + at / 5 + " ORDER BY id LIMIT " + Math.min(n, 200) + ")");
            case 30 -> Change.of(n, "INSERT INTO readings SELECT g % 50, '2030-01-01T00:00:00Z'::timestamptz + nextval('reading_seq') * interval '1 millisecond', "
                    + "random() * 1e6 FROM generate_series(1, " + n + ") g");
            case 31 -> Change.of(n, "UPDATE readings SET value = value / 3 WHERE sensor = " + rnd.nextInt(50) + " AND at IN "
                    + "(SELECT at FROM readings WHERE sensor = " + rnd.nextInt(50) + " ORDER BY at LIMIT " + Math.min(n, 100) + ")");
            case 32 -> rnd.nextInt(8) == 0
                    ? new Change(List.of("TRUNCATE readings", "INSERT INTO readings SELECT g % 50, '2024-04-01T00:00:00Z'::timestamptz + g * interval '1 second', "
                            + "sqrt(g) FROM generate_series(1, " + n + ") g"), n, true)
                    : Change.of(n, "DELETE FROM readings WHERE sensor = " + rnd.nextInt(50) + " AND at IN (SELECT at FROM readings ORDER BY at LIMIT " + Math.min(n, 50) + ")");
            case 33 -> Change.of(n, "UPDATE tags SET labels = array_append(labels, 'l' || txid_current()), active = NOT active "
                    + "WHERE id IN (SELECT id FROM tags ORDER BY random() LIMIT " + Math.min(n, 30) + ")");
            case 34 -> Change.of(1, "INSERT INTO tags VALUES (nextval('tag_ids') % 32000, 'new', '{}', true) ON CONFLICT (id) DO UPDATE SET name = 'again'");
            case 35, 36 -> Change.of(3, "UPDATE counters SET n = n + 1, last_tx = txid_current() WHERE name IN ('c1', 'c2', 'c" + (1 + rnd.nextInt(20)) + "')");
            case 37 -> Change.of(n, "UPDATE schedules SET every = every + interval '1 hour 2.5 seconds', next_run = next_run + 1, weight = weight / 3 + 1 "
                    + "WHERE id IN (SELECT id FROM schedules ORDER BY random() LIMIT " + Math.min(n, 50) + ")");
            // the big ones: thousands of rows in one transaction, arriving in parts
            case 38 -> rnd.nextInt(4) == 0 ? bigChange(rnd) : Change.of(1, "UPDATE counters SET n = n + 1 WHERE name = 'c20'");
            default -> Change.of(n, "UPDATE accounts SET balance = balance - 1 WHERE id IN (SELECT id FROM accounts WHERE id >= " + at
                    + " ORDER BY id LIMIT " + n + ")");
        };
    }

    private Change bigChange(Random rnd) {
        int n = Math.min(maxTransactionRows, 5_000 + rnd.nextInt(15_001));
        long at = 1 + rnd.nextInt(Math.max(1, scale));
        return switch (rnd.nextInt(3)) {
            case 0 -> Change.of(n, "UPDATE accounts SET balance = balance + 10, updated = clock_timestamp() "
                    + "WHERE id IN (SELECT id FROM accounts WHERE id >= " + at + " ORDER BY id LIMIT " + n + ")");
            case 1 -> Change.of(n, "INSERT INTO events (kind, payload, amount) SELECT 'bulk', jsonb_build_object('g', g), g * 1.5 FROM generate_series(1, " + n + ") g");
            default -> Change.of(n, "INSERT INTO accounts (id, balance, note) SELECT nextval('account_ids'), g, 'bulk' FROM generate_series(1, " + n + ") g");
        };
    }

    /** Waits a little before reconnecting; false when interrupted. */
    private static boolean pauseAfterOutage() {
        try {
            Thread.sleep(200);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Options of a workload. */
    public static final class Builder {
        private final Connector connector;
        private String schema = "public";
        private long seed = System.nanoTime();
        private int scale = 50_000;
        private int maxTransactionRows = 20_000;
        private int maxPauseMillis = 30;

        private Builder(Connector connector) {
            this.connector = connector;
        }

        /** The schema the tables go into (default {@code public}). */
        public Builder schema(String schema) {
            this.schema = schema;
            return this;
        }

        /** The writer's random seed (default: the clock); logged at start so a failing run can be repeated. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Seed rows of the biggest table ({@code accounts}); the others get a fixed fraction (default 50,000). */
        public Builder scale(int scale) {
            if (scale < 100) {
                throw new IllegalArgumentException("scale must be at least 100");
            }
            this.scale = scale;
            return this;
        }

        /** The most rows one statement changes (default 20,000): the biggest transactions are 5,000 to this. */
        public Builder maxTransactionRows(int rows) {
            this.maxTransactionRows = Math.max(1, rows);
            return this;
        }

        /** The writer pauses up to this long between transactions (default 30 ms; 0: none). */
        public Builder maxPauseMillis(int millis) {
            this.maxPauseMillis = Math.max(0, millis);
            return this;
        }

        public MixedWorkload build() {
            return new MixedWorkload(this);
        }
    }
}
