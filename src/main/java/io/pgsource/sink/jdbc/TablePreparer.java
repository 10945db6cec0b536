package io.pgsource.sink.jdbc;

import io.pgsource.change.TableId;
import io.pgsource.config.DestinationSettings;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the destination tables a copy is about to fill, on connections of their own ahead of the copy's pages: a
 * first run on thousands of small tables spends most of its destination time creating them (every table is files to
 * allocate and an index to fsync), which one connection does one at a time while the copy waits, and a few do at once.
 *
 * <p>Only tables that do not exist yet are created here, each in a transaction of its own (not waiting for the WAL
 * flush: the page that first writes the table commits after it, and WAL is flushed in order), with the very statement
 * {@link TargetTables} would run in the first page's transaction; a table that exists, one with generated columns or
 * an extension's type, or one whose creation fails is left to that transaction as before. The connection applying the
 * pages takes each table over once ({@link #claim}): created here, it is known to hold nothing but what this process
 * wrote into it since, which is nothing yet, so its copy's first TRUNCATE has nothing to empty. A table not yet begun
 * here is taken back and created in the page's transaction, so the copy never waits for these connections to reach it.
 *
 * <p>A crash leaves at most empty tables behind: the copy's stored positions, not the tables, say what was copied, and
 * the next run checks and empties them as any table that exists.
 */
final class TablePreparer {
    private static final Logger LOG = LoggerFactory.getLogger(TablePreparer.class);
    /** Fewer tables to create than this are created in their first page's transaction, as always. */
    static final int MIN_TABLES = 64;
    /** Connections of its own, each creating one table at a time. */
    static final int CONNECTIONS = 2;

    private static final int WAITING = 0;
    private static final int CREATING = 1;
    private static final int CREATED = 2;
    /** Left to the page's transaction: it exists, its creation failed, or the pages reached it first. */
    private static final int LEFT = 3;

    private final class Entry {
        final TargetTable target;
        final String create;
        final AtomicInteger state = new AtomicInteger(WAITING);
        final CompletableFuture<Boolean> done = new CompletableFuture<>();

        Entry(TargetTable target, String create) {
            this.target = target;
            this.create = create;
        }

        void end(int outcome) {
            state.set(outcome);
            done.complete(outcome == CREATED);
        }
    }

    private final DestinationSettings settings;
    private final List<Entry> order = new ArrayList<>();
    private final Map<TableId, Entry> byTable = new ConcurrentHashMap<>();
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger created = new AtomicInteger();
    private final List<Thread> threads = new ArrayList<>();
    private final Set<Integer> backends = ConcurrentHashMap.newKeySet();
    private volatile boolean stopped;
    /** Time the page's connection waited in {@link #claim}, for the log. */
    private final AtomicLong waited = new AtomicLong();
    private final long started = System.nanoTime();
    /** Creating connections still running; the last one logs the outcome. */
    private final AtomicInteger running = new AtomicInteger(CONNECTIONS);
    /** Set once the first connection found the existing tables and made the schemas: the others wait for it. */
    private final CompletableFuture<Void> ready = new CompletableFuture<>();

    /**
     * @param tables the copy's tables in the order its pages come, each with its {@code CREATE TABLE} statement (without
     *               {@code IF NOT EXISTS}: a table that appears meanwhile is left to the page's transaction)
     */
    TablePreparer(DestinationSettings settings, Map<TargetTable, String> tables) {
        this.settings = settings;
        tables.forEach((t, create) -> {
            Entry e = new Entry(t, create);
            if (byTable.putIfAbsent(t.id(), e) == null) {
                order.add(e);
            }
        });
    }

    /** Starts the connections; returns at once. */
    void start() {
        for (int i = 0; i < CONNECTIONS; i++) {
            boolean first = i == 0;
            Thread t = new Thread(() -> run(first), "pgsource-create-tables-" + (i + 1));
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    /** The number of tables and connections, for the log. */
    int size() {
        return order.size();
    }

    /** What the connection applying the pages finds when it takes a table over ({@link #claim}). */
    enum Claim {
        /** Not created here (never prepared, taken over before, left, or not reached): check or create it as always. */
        NONE,
        /** Created here for this shape, committed and empty: nothing to check. */
        CREATED,
        /**
         * Created here, committed and empty, but for another shape of the table than the rows the pages bring (a route
         * changed the columns on the way): drop it and create it for theirs, as if it had never been made here.
         */
        OTHER_SHAPE
    }

    /**
     * Takes the destination table over for the connection applying the pages, once, waiting for its creation if it is
     * under way (bounded).
     */
    Claim claim(TargetTable t) {
        Entry e = byTable.get(t.id());
        if (e == null || !byTable.remove(t.id(), e)) {
            return Claim.NONE;
        }
        long t0 = System.nanoTime();
        try {
            // not before the first connection made the schemas: the page's transaction making one at the same time would
            // collide with it (and then fail the page)
            ready.get();
            if (e.state.compareAndSet(WAITING, LEFT)) {
                e.done.complete(false);
                return Claim.NONE;
            }
            // bounded: should its creation wait for a lock the page's transaction holds, the page's own statements wait
            // for it where the destination sees the deadlock
            if (!e.done.get(30, TimeUnit.SECONDS)) {
                return Claim.NONE;
            }
            return e.target == t ? Claim.CREATED : Claim.OTHER_SHAPE;
        } catch (TimeoutException te) {
            return Claim.NONE;
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            return Claim.NONE;
        } catch (ExecutionException ee) {
            return Claim.NONE;
        } finally {
            waited.addAndGet(System.nanoTime() - t0);
        }
    }


    /** Stops the connections after the table each is creating; what they did not reach is left to the pages. */
    void stop() {
        stopped = true;
        for (Thread t : threads) {
            try {
                t.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Waits until every table was created or left (for tests). */
    void awaitDone() throws InterruptedException {
        for (Thread t : threads) {
            t.join();
        }
    }

    /** How many tables were created here. */
    int created() {
        return created.get();
    }

    /** The destination backends (process ids) that created tables here. */
    Set<Integer> backends() {
        return Set.copyOf(backends);
    }

    private void run(boolean first) {
        try (DestinationConnection destination = new DestinationConnection(settings)) {
            Connection c = destination.get();
            try (Statement s = c.createStatement()) {
                s.execute("SET synchronous_commit = off");
            }
            c.commit();
            int pid = backendPid(c);
            if (first) {
                leaveExisting(c);
            } else {
                ready.join();
            }
            int mine = 0;
            while (!stopped) {
                int i = next.getAndIncrement();
                if (i >= order.size()) {
                    break;
                }
                Entry e = order.get(i);
                if (!e.state.compareAndSet(WAITING, CREATING)) {
                    continue;
                }
                boolean ended = false;
                try (Statement s = c.createStatement()) {
                    s.execute(e.create);
                    c.commit();
                    created.incrementAndGet();
                    backends.add(pid);
                    mine++;
                    ended = true;
                    e.end(CREATED);
                } catch (SQLException failure) {
                    ended = true;
                    // left to the page's transaction, which reports a failure that is not a race with its own way
                    JdbcPositionStore.rollbackQuietly(c);
                    e.end(LEFT);
                    LOG.debug("destination table {} not created ahead ({}): its first page creates it", e.target.quoted(),
                            failure.getMessage());
                    if (destination.discardIfBroken(failure)) {
                        break;
                    }
                } finally {
                    if (!ended) {
                        e.end(LEFT); // the pages never wait for a creation that ended otherwise
                    }
                }
            }
            LOG.debug("created {} destination tables ahead of the copy on one connection", mine);
            if (running.decrementAndGet() == 0) {
                LOG.info("created {} destination tables ahead of the copy in {} ms (the copy waited {} ms for them so far)",
                        created.get(), (System.nanoTime() - started) / 1_000_000, waited.get() / 1_000_000);
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("creating destination tables ahead of the copy stopped ({}): the pages create the rest", e.getMessage());
        } finally {
            ready.complete(null); // the tables no connection here reached are taken back by the pages (claim)
        }
    }

    /** The tables that exist already (with any kind of relation under that name) are left to the pages: checked there. */
    private void leaveExisting(Connection c) throws SQLException {
        List<TableId> targets = new ArrayList<>();
        Set<String> needed = new LinkedHashSet<>();
        for (Entry e : order) {
            targets.add(e.target.id());
            needed.add(e.target.id().schema());
        }
        Set<TableId> existing = new HashSet<>();
        Set<String> existingSchemas = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, r.relname FROM " + Sql.tables("w")
                + " JOIN pg_catalog.pg_namespace n ON n.nspname = w.nspname"
                + " LEFT JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = w.relname")) {
            Sql.bindTables(c, ps, targets);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    existingSchemas.add(rs.getString(1));
                    if (rs.getString(2) != null) {
                        existing.add(new TableId(rs.getString(1), rs.getString(2)));
                    }
                }
            }
        }
        c.commit();
        for (Entry e : order) {
            if (existing.contains(e.target.id()) && e.state.compareAndSet(WAITING, LEFT)) {
                e.done.complete(false);
            }
        }
        // the schemas first, on this one connection: two creating the same schema at once would collide
        try (Statement s = c.createStatement()) {
            for (String schema : needed) {
                if (!existingSchemas.contains(schema)) {
                    s.execute("CREATE SCHEMA IF NOT EXISTS " + TableId.quoteIdent(schema));
                }
            }
        }
        c.commit();
        LOG.info("creating {} destination tables ahead of the copy on {} connections of their own ({} exist already)",
                order.size() - existing.size(), CONNECTIONS, existing.size());
        ready.complete(null);
    }

    private static int backendPid(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_catalog.pg_backend_pid()")) {
            rs.next();
            int pid = rs.getInt(1);
            c.commit();
            return pid;
        }
    }
}
