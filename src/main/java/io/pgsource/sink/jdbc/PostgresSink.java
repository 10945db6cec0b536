package io.pgsource.sink.jdbc;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.PendingDurability;
import io.pgsource.change.TableId;
import io.pgsource.change.Position;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DatabaseIdentity;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.Settings;
import io.pgsource.sink.Destination;
import io.pgsource.sink.DestinationContext;
import io.pgsource.sink.StoredPosition;
import io.pgsource.sink.plan.WritePlanner;
import io.pgsource.sink.plan.WritePlan;
import io.pgsource.sink.reject.DeadLetterEndpoint;
import io.pgsource.sink.reject.DestinationErrors;
import io.pgsource.sink.reject.RejectedChange;
import io.pgsource.sink.reject.RejectedChangeException;
import io.pgsource.sink.reject.RejectedChanges;
import io.pgsource.state.HeldColumns;
import io.pgsource.state.PositionStore;
import io.pgsource.change.TableSchema;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code postgres} destination: applies each batch to a PostgreSQL database ({@code destination.url}), planned
 * privately by {@link WritePlanner} into per-table upserts, deletes and truncates ({@link WritePlan}).
 *
 * <p>Tables are created from the source's table schemas and gain the columns the source gains (see
 * {@link TargetTables}). The whole plan and the batch's position ({@link JdbcPositionStore}) are written in ONE
 * transaction, then committed: exactly-once, a replay after a crash changes nothing ({@link #transactional}: the
 * {@link io.pgsource.sink.DestinationStep} leaves out what the stored position covers). On any error the transaction
 * is rolled back and the error goes back to the route, so nothing is acknowledged. Batches are applied one at a
 * time on one connection, which is reopened when it broke.
 *
 * <p>{@code destination.soft_delete=true}: deleted rows stay, with the source commit time in {@code _deleted_at}
 * (see {@link PlanWriter}).
 *
 * <p>A change the destination refuses (a constraint, a value too long: {@link DestinationErrors#rejectsChange}) is
 * found by {@link RejectedChangeFinder}. Without a dead-letter handler the batch is rolled back and a
 * {@link RejectedChangeException} names the change, its position, the database's message and the fix. With one
 * ({@code destination.dead_letter_uri}), the refused changes go there, the rest of the batch is applied and its
 * position stored as usual, and a WARN line says so: never skipped silently.
 */
public final class PostgresSink implements Destination {
    /** The value of {@code destination} that selects it. */
    public static final String NAME = "postgres";
    private static final Logger LOG = LoggerFactory.getLogger(PostgresSink.class);

    /** How upserts are written. */
    public enum UpsertMethod {
        /** COPY into a temporary staging table, then INSERT ... SELECT ... ON CONFLICT (the default: faster). */
        COPY,
        /** Multi-row INSERT ... VALUES with bind parameters, ON CONFLICT. */
        INSERT_VALUES
    }

    private DestinationConnection destination;
    private JdbcPositionStore positions;
    private TargetTables tables;
    private PlanWriter writer;
    private RejectedChangeFinder finder;
    private RejectedChanges deadLetters;
    /** The connection of the previous batch: a failure on it may just mean it died while idle. */
    private Connection lastUsed;
    private boolean softDelete;
    private DestinationSettings settings;

    /** Made by the registry ({@link io.pgsource.sink.Destinations}); {@link #open} connects it. */
    public PostgresSink() {
    }

    public PostgresSink(DestinationSettings settings) {
        this(settings, UpsertMethod.COPY);
    }

    public PostgresSink(DestinationSettings settings, UpsertMethod method) {
        init(settings, method);
    }

    private void init(DestinationSettings settings, UpsertMethod method) {
        this.destination = new DestinationConnection(settings);
        this.settings = settings;
        this.softDelete = settings.softDelete();
        this.positions = new JdbcPositionStore(destination);
        this.tables = new TargetTables(settings, settings.softDelete(), positions);
        RowWriter rows = method == UpsertMethod.COPY ? new CopyStagingWriter(tables::exactTypes) : new InsertValuesWriter(5000);
        this.writer = new PlanWriter(tables, rows);
        this.finder = new RejectedChangeFinder(new PlanWriter(tables, new InsertValuesWriter(5000)));
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void checkSettings(Settings settings, boolean demo) {
        if (settings.destination().url() == null && !demo) {
            throw new ConfigurationException("destination=postgres needs destination.url, e.g. jdbc:postgresql://warehouse:5432/analytics "
                    + "(plus destination.username and destination.password)");
        }
    }

    @Override
    public void open(DestinationContext context) throws Exception {
        checkSettings(context.settings(), false);
        init(context.settings().destination(), UpsertMethod.COPY);
        checkConnection();
        String deadLetterUri = context.settings().badInput().deadLetterUri();
        if (deadLetterUri != null) {
            DeadLetterEndpoint letters = new DeadLetterEndpoint(context.camel(), deadLetterUri);
            setDeadLetters(letters);
            LOG.info("Changes the destination rejects go to the dead-letter endpoint {}", letters.describe());
        }
        DestinationTargets.check(context.settings(), context.captured(), context.source(), this);
    }

    /** Connects, and checks that the role may create what a start creates (schemas, tables, the positions table). */
    @Override
    public String check(Settings settings) throws Exception {
        checkSettings(settings, false);
        try (DestinationConnection connection = new DestinationConnection(settings.destination())) {
            Connection c;
            try {
                c = connection.get();
            } catch (SQLException e) {
                throw new ConfigurationException(e.getMessage(), e);
            }
            try (Statement s = c.createStatement(); java.sql.ResultSet rs = s.executeQuery("SELECT current_user, current_database(),"
                    + " has_database_privilege(current_database(), 'CREATE'), (SELECT has_schema_privilege(n.oid, 'USAGE')"
                    + " AND has_schema_privilege(n.oid, 'CREATE') FROM pg_catalog.pg_namespace n WHERE n.nspname = '_pgsource')")) {
                rs.next();
                boolean create = rs.getBoolean(3);
                boolean positions = rs.getBoolean(4);
                if (!create && !positions) {
                    throw new ConfigurationException("role " + TableId.quoteIdent(rs.getString(1))
                            + " may not create schemas in database " + TableId.quoteIdent(rs.getString(2))
                            + " at " + connection.safeUrl() + ": run GRANT CREATE ON DATABASE "
                            + TableId.quoteIdent(rs.getString(2)) + " TO "
                            + TableId.quoteIdent(rs.getString(1)) + "; (pgsource creates the schemas, the tables "
                            + "and _pgsource.positions there)");
                }
                return "connected to " + connection.safeUrl() + " as " + rs.getString(1) + (create
                        ? ", which may create schemas and tables there" : ", which may use _pgsource (no CREATE on the database:"
                        + " destination tables must exist or be creatable in their schemas)");
            }
        }
    }

    @Override
    public boolean transactional() {
        return true;
    }

    /** The records a table's copy leaves go into its last page's transaction. */
    @Override
    public boolean storesAlongside() {
        return true;
    }

    @Override
    public boolean rejectsChanges() {
        return true;
    }

    /**
     * A large source transaction is applied while the source streams it, into a transaction held open on the one
     * connection until its commit; not with soft delete, whose {@code _deleted_at} is the source commit time, known only
     * at the commit.
     */
    @Override
    public boolean appliesInProgress() {
        return !softDelete;
    }

    @Override
    public boolean writeInProgress(Exchange exchange, ChangeBatch batch, boolean first) throws SQLException {
        WritePlan plan = WritePlanner.plan(batch);
        synchronized (destination) {
            Connection c;
            if (first) {
                rollbackHeld(); // one left open (the session that streamed it ended): it comes again from its start
                c = destination.hold(this::heldRolledBack);
            } else {
                c = destination.held();
                if (c == null) {
                    return false;
                }
            }
            try {
                writer.apply(c, plan);
            } catch (SQLException | RuntimeException e) {
                rollbackHeld();
                if (e instanceof SQLException sql) {
                    destination.discardIfBroken(sql);
                }
                throw e;
            }
            return true;
        }
    }

    @Override
    public Optional<String> currentInProgress(String stream) throws SQLException {
        synchronized (destination) {
            Connection c = destination.held();
            return c == null ? positions.current(stream) : Optional.ofNullable(positions.current(c, stream));
        }
    }

    @Override
    public boolean commitInProgress(Exchange exchange, StoredPosition position) throws SQLException {
        synchronized (destination) {
            Connection c = destination.held();
            if (c == null) {
                return false;
            }
            destination.release();
            try {
                refuseAfterLostCommits(c);
            } catch (SQLException e) {
                ended(c, false);
                throw e;
            }
            try {
                positions.saveInTransaction(c, position.stream(), position.value());
                c.commit();
            } catch (SQLException | RuntimeException e) {
                ended(c, false);
                if (e instanceof SQLException sql) {
                    destination.discardIfBroken(sql);
                    throw new SQLException("cannot commit transaction " + exchange.getIn().getHeader(ChangeHeaders.TX_ID)
                            + " at the destination " + destination.safeUrl()
                            + " (whether it committed is not known: it is read again from the slot): " + sql.getMessage(),
                            sql.getSQLState(), sql);
                }
                throw e;
            } finally {
                lastUsed = c;
            }
            ended(c, true);
            waitedForFlush(c);
            return true;
        }
    }

    @Override
    public void rollbackInProgress() {
        synchronized (destination) {
            rollbackHeld();
        }
    }

    /** Rolls back the transaction held open for a source transaction in progress, if one is. */
    private void rollbackHeld() {
        Connection c = destination.held();
        if (c != null) {
            destination.release();
            JdbcPositionStore.rollbackQuietly(c);
            heldRolledBack();
        }
    }

    /** The transaction held open was rolled back: what it created is gone. */
    private void heldRolledBack() {
        writer.transactionEnded(false);
    }

    @Override
    public String output(DestinationSettings settings) {
        return "Output: the tables of destination.url, with their positions in \"_pgsource\".\"positions\" there";
    }

    @Override
    public String outputIdentity(DestinationSettings settings) {
        return settings.url() == null ? "" : DestinationConnection.safeUrl(settings.url());
    }

    /** The demo copies into database demo_copy on the embedded server unless destination.url is set. */
    @Override
    public void demo(DemoServer server, DestinationSettings settings, Properties overrides) throws Exception {
        if (settings.url() != null) {
            return;
        }
        String url = server.database("demo_copy");
        overrides.setProperty("destination.url", url);
        overrides.setProperty("destination.username", server.user());
        overrides.setProperty("destination.password", server.password());
        overrides.setProperty("destination.password_file", "");
        LOG.info("destination.url is not set: the demo copies into database demo_copy on the embedded server ({}).", url);
    }

    /** Where refused changes go instead of stopping the sync; null (the default) stops at the first one. */
    public void setDeadLetters(RejectedChanges deadLetters) {
        this.deadLetters = deadLetters;
    }

    /**
     * Which database of which server this destination is ({@link DatabaseIdentity}): connects now, and keeps the
     * connection for the first batch.
     */
    public DatabaseIdentity databaseIdentity() throws SQLException {
        synchronized (destination) {
            Connection c = destination.get();
            try {
                return DatabaseIdentity.of(c);
            } finally {
                c.rollback();
            }
        }
    }

    /** The positions this destination committed with its data. */
    @Override
    public PositionStore positions() {
        return positions;
    }

    /** Applies the batch and stores its position in one transaction. */
    @Override
    public void write(Exchange exchange, ChangeBatch batch, StoredPosition position) throws SQLException {
        WritePlan plan = WritePlanner.plan(batch);
        synchronized (destination) {
            boolean reconnected = false;
            int conflicts = 0;
            while (true) {
                try {
                    applyOnce(exchange, plan, batch, position);
                    return;
                } catch (StaleConnectionException e) {
                    if (reconnected) {
                        throw e;
                    }
                    // the connection died while idle (destination restarted, idle timeout): nothing was committed, retry once
                    LOG.info("the connection to destination {} was lost while idle; reconnecting", destination.safeUrl());
                    reconnected = true;
                } catch (PlanWriter.InsertConflict e) {
                    // rolled back; the writer upserts into that table now, which also covers the keys that exist (at most
                    // once per table of the plan)
                    if (++conflicts > plan.tables().size()) {
                        throw e;
                    }
                    LOG.debug("{}; applying the batch again with upserts", e.getMessage());
                }
            }
        }
    }

    private void applyOnce(Exchange exchange, WritePlan plan, ChangeBatch batch, StoredPosition position) throws SQLException {
        Connection c = destination.get();
        refuseAfterLostCommits(c);
        boolean committing = false;
        try {
            boolean streamed = batch.position() instanceof Position.Log && position != null && exchange != null && flushReadable
                    && Boolean.TRUE.equals(exchange.getProperty(ChangeHeaders.DURABILITY_MAY_WAIT));
            boolean asynchronous = streamed || batch.position() instanceof Position.Batch && position != null;
            // the position first: pgjdbc sends the transaction's BEGIN with it, where a COPY first (a small table's page)
            // waits for a BEGIN of its own, one more round trip per transaction
            savePosition(c, position, asynchronous);
            try {
                writer.apply(c, plan);
            } catch (PlanWriter.InsertConflict conflict) {
                throw conflict; // a key that exists already: the caller applies the plan again with upserts
            } catch (SQLException refused) {
                if (batch.isEmpty() || !DestinationErrors.rejectsChange(refused)) {
                    throw refused;
                }
                // start the transaction over and find the refused change(s)
                c.rollback();
                writer.transactionEnded(false);
                savePosition(c, position, asynchronous);
                applyAroundRefusals(c, batch);
            }
            committing = true;
            c.commit();
            if (streamed) {
                unflushed = position;
                lazyCommits++;
                lazyConnection = c;
                lazyLast = position;
                exchange.setProperty(ChangeHeaders.PENDING_DURABILITY, new Pending(lazyCommits));
            } else if (asynchronous) {
                unflushed = position;
            } else if (position != null) {
                waitedForFlush(c);
            } else {
                unflushed = null;
            }
        } catch (SQLException | RuntimeException e) {
            ended(c, false);
            if (e instanceof PlanWriter.InsertConflict) {
                throw (SQLException) e;
            }
            if (e instanceof SQLException sql) {
                boolean broken = destination.discardIfBroken(sql);
                // before COMMIT nothing can have been committed, so trying again on a new connection is safe
                if (broken && !committing && c == lastUsed) {
                    throw new StaleConnectionException(sql);
                }
                if (sql instanceof RejectedChangeException) {
                    throw sql; // its message says it all
                }
                String hint = "42501".equals(sql.getSQLState())
                        ? " — give destination.username the CREATE privilege on the database, or create the schemas and tables beforehand"
                        : "";
                throw new SQLException("cannot apply a batch at the destination " + destination.safeUrl()
                        + " (rolled back, nothing stored): " + sql.getMessage() + hint, sql.getSQLState(), sql);
            }
            throw e;
        } finally {
            lastUsed = c;
        }
        ended(c, true);
    }

    /**
     * Writes the position inside the open transaction with, for a page or a streamed transaction, the setting that its
     * commit need not wait (one round trip), and the records a table's copy leaves on its last page: one transaction per
     * table, not two.
     */
    private void savePosition(Connection c, StoredPosition position, boolean asynchronous) throws SQLException {
        if (position != null) {
            positions.saveAllInTransaction(c, position.all(), asynchronous);
        }
    }

    /**
     * Streamed commits that did not wait for the flush were made on a connection that is gone: they may be lost (a crash
     * of the destination), so nothing may be committed on another connection after them until the source sent them again
     * (a later position stored would cover them).
     */
    private void refuseAfterLostCommits(Connection c) throws SQLException {
        if (lazyCommits > Math.max(durableCommits, lostCommits) && c != lazyConnection) {
            lostCommits = lazyCommits;
            positions.committed(false); // forget the positions they stored: read them from the table again
            throw new SQLException("the connection to destination " + destination.safeUrl() + " was lost before its last"
                    + " commits were flushed: they are not acknowledged to the source, which sends them again", "08006");
        }
    }

    /**
     * A commit on {@code c} that stored a position waited for the flush of the WAL up to it, which makes every earlier
     * commit on it durable too (WAL is flushed in order): nothing is left to make durable at the stop, and the streamed
     * commits that did not wait are known durable without asking.
     */
    private void waitedForFlush(Connection c) {
        unflushed = null;
        if (c == lazyConnection) {
            durableCommits = lazyCommits;
        }
    }

    /**
     * The destination transaction ended: committed, or (false) failed, and then rolled back here; the writer and the
     * position store forget what it made unless it committed.
     */
    private void ended(Connection c, boolean committed) {
        if (!committed) {
            JdbcPositionStore.rollbackQuietly(c);
        }
        writer.transactionEnded(committed);
        positions.committed(committed);
    }

    /**
     * A page of a copy or a batch query (a {@link Position.Batch}) commits without waiting for the destination's WAL
     * flush ({@code synchronous_commit = off}): thousands of small tables would otherwise wait for a flush each. Nothing is
     * acknowledged to the source on such a commit, and every commit the source is told about (a replication slot's
     * position, a stored position of its own) waits for the flush, which makes every commit before it durable too (WAL is
     * flushed in order). A destination that crashed can so only lose the last pages, each with its stored bookmark: what
     * pgsource stopped there would have left, which the next run continues from.
     */
    /** The position of the last commit that did not wait for the flush, while no later one waited; null: none. */
    private StoredPosition unflushed;

    /**
     * Streamed transactions (a {@link Position.Log} whose exchange allows it: {@link ChangeHeaders#DURABILITY_MAY_WAIT},
     * set by the {@code pgoutput:} consumer) commit without waiting for the flush too, as PostgreSQL's own subscriber
     * does, so no transaction waits for a WAL fsync of the destination: each hands back a {@link Pending}, and the source
     * acknowledges it to the slot only once the destination's WAL is flushed past it ({@code pg_current_wal_flush_lsn()}),
     * or a later commit waited for the flush. Its stored position is in the same transaction: a destination that crashes
     * loses the data and the position together, and the slot, not acknowledged, sends both again. Commits are numbered;
     * every one up to {@code durableCommits} is known durable.
     */
    private long lazyCommits;
    private long durableCommits;
    /** Commits up to this number were made on a connection lost before they were known durable: they may be lost. */
    private long lostCommits;
    /** The connection the streamed commits not yet known durable were made on. */
    private Connection lazyConnection;
    /** The position the last of them stored (no later commit stored one of its stream: it would have waited). */
    private StoredPosition lazyLast;
    /** Commits up to {@code boundCommits} end before {@code boundLsn} in the destination's WAL (read after them). */
    private long boundCommits;
    private long boundLsn;
    private long lastCheckNanos;
    /** False once the destination could not tell its WAL positions (not PostgreSQL itself): streamed commits wait again. */
    private boolean flushReadable = true;
    /** How often a check may ask the destination for its flushed WAL position. */
    private static final long CHECK_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50);

    /** A streamed commit that did not wait for the destination's flush. */
    private final class Pending implements PendingDurability {
        private final long number;

        Pending(long number) {
            this.number = number;
        }

        @Override
        public boolean durable() throws SQLException {
            synchronized (destination) {
                return isDurable(number, false);
            }
        }

        @Override
        public void makeDurable() throws SQLException {
            synchronized (destination) {
                isDurable(number, true);
            }
        }
    }

    /**
     * Whether commit {@code number} is durable, asking the destination at most every {@link #CHECK_NANOS} (or, with
     * {@code force}, making it durable with a commit that waits for the flush).
     *
     * @throws SQLException when the connection it was made on was lost: it may be lost too
     */
    private boolean isDurable(long number, boolean force) throws SQLException {
        if (number <= durableCommits) {
            return true;
        }
        Connection c = destination.current();
        if (number <= lostCommits || c == null || c != lazyConnection || c.isClosed()) {
            if (lazyCommits > lostCommits) {
                lostCommits = lazyCommits;
                positions.committed(false); // forget the positions they stored: read them from the table again
            }
            throw new SQLException("the connection to destination " + destination.safeUrl() + " was lost before its commit was"
                    + " flushed; it is not acknowledged to the source, which sends it again", "08006");
        }
        try {
            if (force) {
                // stored again, waiting for the flush of the WAL up to it (every earlier commit's too)
                positions.save(lazyLast.stream(), lazyLast.value());
                if (destination.current() != c) {
                    throw new SQLException("the connection to destination " + destination.safeUrl() + " was lost", "08006");
                }
                durableCommits = lazyCommits;
                return true;
            }
            long now = System.nanoTime();
            if (now - lastCheckNanos < CHECK_NANOS) {
                return false;
            }
            lastCheckNanos = now;
            long made = lazyCommits; // every commit up to this one ended before the query below
            long flushed;
            long inserted;
            try (Statement s = c.createStatement(); java.sql.ResultSet rs = s.executeQuery("SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn,"
                    + " pg_current_wal_insert_lsn() - '0/0'::pg_lsn")) {
                rs.next();
                flushed = rs.getLong(1);
                inserted = rs.getLong(2);
            } finally {
                c.commit();
            }
            if (boundCommits > durableCommits && flushed >= boundLsn) {
                durableCommits = boundCommits;
            }
            if (flushed >= inserted) {
                durableCommits = made;
            } else if (boundCommits <= durableCommits) {
                boundCommits = made;
                boundLsn = inserted;
            }
            return number <= durableCommits;
        } catch (SQLException e) {
            JdbcPositionStore.rollbackQuietly(c);
            if ("42883".equals(e.getSQLState()) || "0A000".equals(e.getSQLState()) || "42501".equals(e.getSQLState())) {
                // not PostgreSQL itself (no WAL functions): from now on streamed commits wait for the flush
                LOG.info("destination {} cannot tell its flushed WAL position ({}): streamed transactions commit waiting for"
                        + " the flush", destination.safeUrl(), e.getMessage());
                flushReadable = false;
                return isDurable(number, true);
            }
            if (destination.discardIfBroken(e)) {
                lostCommits = Math.max(lostCommits, lazyCommits);
                positions.committed(false);
            }
            throw e;
        }
    }

    /**
     * Applies the changes of the batch the destination accepts; the refused ones go to the dead-letter handler, or
     * (without one) the first stops the batch with a {@link RejectedChangeException}.
     */
    private void applyAroundRefusals(Connection c, ChangeBatch batch) throws SQLException {
        List<RejectedChangeFinder.Refusal> refusals = finder.apply(c, batch, deadLetters == null ? 1 : Integer.MAX_VALUE);
        if (refusals.isEmpty()) {
            LOG.info("destination {} refused the batch at {} as a whole but accepted each of its changes; applied change by change",
                    destination.safeUrl(), batch.position());
            return;
        }
        List<RejectedChange> rejected = new ArrayList<>(refusals.size());
        for (RejectedChangeFinder.Refusal r : refusals) {
            rejected.add(RejectedChange.of(r.change(), batch.position(), destination.safeUrl(), r.error()));
        }
        if (deadLetters == null) {
            throw new RejectedChangeException(rejected.get(0), refusals.get(0).error());
        }
        try {
            deadLetters.accept(rejected);
        } catch (Exception e) {
            throw new IllegalStateException("cannot hand " + rejected.size() + " rejected change(s) to the dead-letter endpoint "
                    + deadLetters.describe() + " (" + e.getMessage() + "); the batch was rolled back and will be tried again", e);
        }
        for (RejectedChange r : rejected) {
            LOG.warn("destination {} rejected the change of {}: {} (SQLSTATE {}). Sent it to the dead-letter endpoint {}; the rest of"
                    + " the batch is applied", destination.safeUrl(), r.describe(), r.message(), r.sqlState(), deadLetters.describe());
        }
    }

    /**
     * Starts creating the tables of a copy that the destination lacks on a few connections of their own, when there are
     * many ({@link TablePreparer}): one connection creating thousands of tables is most of a first run's time.
     */
    @Override
    public void prepareCopy(List<TableSchema> schemas) {
        synchronized (destination) {
            TablePreparer p = tables.prepare(settings, schemas);
            if (p != null) {
                LOG.debug("{} destination tables may be created ahead of the copy", p.size());
            }
        }
    }

    /** The tables being created ahead of a copy, if any (for tests). */
    TablePreparer preparing() {
        return tables.preparing();
    }

    /**
     * Before log replication streams: the stored positions the first transactions ask for (the slot's, the copy records,
     * the record of the source columns each destination table holds) in one query, and the columns of every destination
     * table in one catalog query ({@link TargetTables#prefetch}), so the first transaction's checks ask the destination
     * nothing; then the first-use work of the JVM on the paths every transaction takes ({@link FirstUse}, in memory).
     * Reads only.
     */
    @Override
    public void prepareStream(Collection<TableId> captured, Collection<String> streams)
            throws SQLException {
        long started = System.nanoTime();
        List<String> all = new ArrayList<>(streams);
        captured.forEach(t -> all.add(HeldColumns.stream(t)));
        int found;
        synchronized (destination) {
            if (destination.held() != null) {
                return; // a transaction is open on the connection already: it is past its start
            }
            positions.preload(all);
            Connection c = destination.get();
            try {
                found = tables.prefetch(c, captured);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                JdbcPositionStore.rollbackQuietly(c);
                if (e instanceof SQLException sql) {
                    destination.discardIfBroken(sql);
                }
                throw e;
            }
        }
        long read = System.nanoTime();
        try {
            List<String> held = new ArrayList<>();
            for (TableId t : captured) {
                positions.current(HeldColumns.stream(t)).ifPresent(held::add); // read ahead above: no query
                if (held.size() >= 3) {
                    break; // enough for the first-use work
                }
            }
            FirstUse.run(held);
        } catch (Exception e) {
            LOG.debug("the first-use work of the write path was left to the first transaction", e);
        }
        LOG.debug("read ahead {} stored position(s) and the columns of {} of {} destination table(s) in {} ms, first use of the"
                + " write path {} ms", all.size(), found, captured.size(), (read - started) / 1_000_000,
                (System.nanoTime() - read) / 1_000_000);
    }

    /** Why this destination needs a copy of the source table before it takes rows of this shape; null when it needs none. */
    @Override
    public String copyReason(TableSchema shape) throws SQLException {
        synchronized (destination) {
            Connection held = destination.held();
            if (held != null) {
                // a table that a transaction applied in progress meets first in a later part: asked inside the transaction
                // held open (a read only), which stays open
                try {
                    return tables.copyReason(held, shape);
                } catch (SQLException e) {
                    rollbackHeld();
                    destination.discardIfBroken(e);
                    throw e;
                }
            }
            Connection c = destination.get();
            try {
                return tables.copyReason(c, shape);
            } catch (SQLException e) {
                destination.discardIfBroken(e);
                throw e;
            } finally {
                JdbcPositionStore.rollbackQuietly(c);
            }
        }
    }

    /** A connection that broke between batches; the batch can safely be tried again on a new one. */
    private static final class StaleConnectionException extends SQLException {
        StaleConnectionException(SQLException cause) {
            super(cause.getMessage(), cause.getSQLState(), cause);
        }
    }

    /**
     * Connects now, so a wrong URL, user, password or database stops pgsource at start with one line that names the
     * setting to fix, in every replication method, instead of failing the first batch. The connection is kept for the
     * first batch.
     *
     * @throws ConfigurationException with what is wrong and the setting that fixes it
     */
    public void checkConnection() {
        synchronized (destination) {
            try {
                destination.get();
            } catch (SQLException e) {
                throw new ConfigurationException(e.getMessage(), e);
            }
        }
    }

    @Override
    public void close() {
        stop();
    }

    /**
     * Closes the connection (a later batch opens a new one), after making the last commits durable when they did not wait
     * for the flush: a run that ends (sync.once) must leave nothing a crash of the destination could still take.
     */
    public void stop() {
        tables.stopPreparing();
        synchronized (destination) {
            StoredPosition last = unflushed;
            unflushed = null;
            if (lazyCommits > Math.max(durableCommits, lostCommits) && destination.current() != lazyConnection) {
                last = null; // made on a connection that was lost: it may be lost, never store it again
            }
            try {
                if (last != null) {
                    // committed synchronously: it waits for the flush of the WAL up to it, every earlier commit's too
                    positions.save(last.stream(), last.value());
                }
                positions.flush(); // a table's copy's records, committed after its last page without waiting either
                if (last != null && destination.current() == lazyConnection) {
                    durableCommits = lazyCommits;
                }
            } catch (RuntimeException e) {
                LOG.warn("could not make the last pages durable at the destination {} before closing: {}", destination.safeUrl(),
                        e.getMessage());
            }
            destination.close();
        }
    }
}
