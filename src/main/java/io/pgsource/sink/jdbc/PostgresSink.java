package io.pgsource.sink.jdbc;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Position;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DatabaseIdentity;
import io.pgsource.config.DestinationSettings;
import io.pgsource.route.UpsertDeleteRouting;
import io.pgsource.route.WritePlan;
import io.pgsource.sink.reject.DestinationErrors;
import io.pgsource.sink.reject.RejectedChange;
import io.pgsource.sink.reject.RejectedChangeException;
import io.pgsource.sink.reject.RejectedChanges;
import io.pgsource.state.PositionStore;
import io.pgsource.state.ShapeCheck;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.util.Map;
import io.pgsource.state.Positions;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.Service;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code postgres} destination (bean {@code postgresSink}): applies a {@link WritePlan} (or a raw
 * {@link ChangeBatch}, planned here) to a PostgreSQL database.
 *
 * <p>Tables are created from the source's table schemas and gain the columns the source gains (see
 * {@link TargetTables}). The whole plan and the batch's position ({@link JdbcPositionStore}) are written in ONE
 * transaction, then committed: exactly-once, a replay after a crash changes nothing. On any error the transaction
 * is rolled back and the error goes back to the route, so nothing is acknowledged. Batches are applied one at a
 * time on one connection, which is reopened when it broke.
 *
 * <p>Log replication: a source transaction is applied in one destination transaction with its LSN, stored under
 * {@code slot:<slot>}. A batch the destination already holds (its LSN at or below the stored one, see
 * {@link Positions#appliedChanges} for the parts of a big transaction) is skipped without writing anything, so the
 * slot resending from its confirmed position after a crash changes nothing. Each part of a transaction bigger than
 * one batch is committed on its own, with the count of the transaction's changes applied so far; after a crash
 * between parts exactly those changes are skipped when the transaction comes again, however its parts are cut then,
 * so no row of a keyless table is doubled.
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
public final class PostgresSink implements Processor, Service, ShapeCheck {
    /** The bean name routes refer to. */
    public static final String BEAN_NAME = "postgresSink";
    private static final Logger LOG = LoggerFactory.getLogger(PostgresSink.class);

    /** How upserts are written. */
    public enum UpsertMethod {
        /** COPY into a temporary staging table, then INSERT ... SELECT ... ON CONFLICT (the default: faster). */
        COPY,
        /** Multi-row INSERT ... VALUES with bind parameters, ON CONFLICT. */
        INSERT_VALUES
    }

    private final DestinationConnection destination;
    private final JdbcPositionStore positions;
    private final TargetTables tables;
    private final PlanWriter writer;
    private final RejectedChangeFinder finder;
    private RejectedChanges deadLetters;
    /** The connection of the previous batch: a failure on it may just mean it died while idle. */
    private Connection lastUsed;

    public PostgresSink(DestinationSettings settings) {
        this(settings, UpsertMethod.COPY);
    }

    public PostgresSink(DestinationSettings settings, UpsertMethod method) {
        this.destination = new DestinationConnection(settings);
        this.positions = new JdbcPositionStore(destination);
        RowWriter rows = method == UpsertMethod.COPY ? new CopyStagingWriter() : new InsertValuesWriter(5000);
        this.tables = new TargetTables(settings, settings.softDelete(), positions);
        this.writer = new PlanWriter(tables, rows);
        this.finder = new RejectedChangeFinder(new PlanWriter(tables, new InsertValuesWriter(5000)));
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
    public PositionStore positionStore() {
        return positions;
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        Object body = exchange.getIn().getBody();
        WritePlan plan = body instanceof ChangeBatch batch ? UpsertDeleteRouting.plan(batch)
                : exchange.getIn().getMandatoryBody(WritePlan.class);
        String slot = exchange.getIn().getHeader(Positions.SLOT_HEADER, String.class);
        ChangeBatch batch = body instanceof ChangeBatch b ? b : exchange.getProperty(UpsertDeleteRouting.BATCH_PROPERTY, ChangeBatch.class);
        @SuppressWarnings("unchecked")
        Map<TableId, Long> copiedAt = exchange.getIn().getHeader(ChangeHeaders.COPIED_AT, Map.class);
        apply(plan, batch, slot, exchange.getIn().getHeader(ChangeHeaders.TX_CHANGES_BEFORE, Long.class), copiedAt);
    }

    /** Applies the plan and stores its position in one transaction; {@code slot} names the slot of log positions. */
    public void apply(WritePlan plan, String slot) throws SQLException {
        apply(plan, null, slot, null);
    }

    /**
     * Applies the plan and stores its position in one transaction.
     *
     * @param batch         the batch the plan was made of, to find the change the destination refuses and to skip
     *                      the changes of it already applied; null when unknown (the database's error is then
     *                      reported for the whole batch, and a part of a transaction is stored as not applied)
     * @param slot          names the slot of log positions
     * @param changesBefore how many changes of the batch's source transaction came in its earlier parts
     *                      ({@link ChangeHeaders#TX_CHANGES_BEFORE}), or null when unknown
     */
    public void apply(WritePlan plan, ChangeBatch batch, String slot, Long changesBefore) throws SQLException {
        apply(plan, batch, slot, changesBefore, null);
    }

    /**
     * Applies the plan and stores its position in one transaction, without the changes copies of their tables hold.
     *
     * @param copiedAt tables copied while their changes streamed, with the LSN of each copy ({@link ChangeHeaders#COPIED_AT});
     *                 null for none
     */
    public void apply(WritePlan plan, ChangeBatch batch, String slot, Long changesBefore, Map<TableId, Long> copiedAt) throws SQLException {
        synchronized (destination) {
            boolean reconnected = false;
            int conflicts = 0;
            while (true) {
                try {
                    applyOnce(plan, batch, slot, changesBefore, copiedAt);
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

    private void applyOnce(WritePlan plan, ChangeBatch batch, String slot, Long changesBefore, Map<TableId, Long> copiedAt)
            throws SQLException {
        Connection c = destination.get();
        boolean committing = false;
        // how many changes of the transaction are applied once this batch is: stored with an earlier part
        Long changesThrough = batch == null || changesBefore == null ? null : changesBefore + batch.size();
        try {
            if (plan.position() instanceof Position.Log log) {
                String stream = Positions.stream(log, slot);
                String stored = positions.current(c, stream);
                // without the batch only its position is known
                ChangeBatch known = batch != null ? batch : new ChangeBatch(List.of(), log, plan.last());
                if (Positions.alreadyApplied(known, changesBefore, stored)) {
                    // the slot resent what this destination already committed (a restart after a crash): skip it
                    LOG.debug("skipping transaction {} at {} ({}): {} already holds {}", log.txId(), Positions.lsn(log.commitLsn()),
                            plan.last() ? "last part" : "an earlier part", stream, stored);
                    c.commit();
                    return;
                }
                int applied = Positions.appliedChanges(known, changesBefore, stored);
                ChangeBatch rest = batch == null ? null : Positions.withoutCopied(Positions.withoutApplied(applied == 0 ? batch
                        : new ChangeBatch(batch.subList(applied, batch.size()), batch.position(), batch.last(), batch.tables()), stored),
                        copiedAt);
                if (rest != batch) {
                    // the transaction's first changes, or combined transactions before it, applied before (a restart
                    // between parts, or the copy's snapshot held them), or changes a later copy of their table holds: the rest
                    LOG.debug("skipping {} change(s) {} or a copy already holds", batch.size() - rest.size(), stream);
                    batch = rest;
                    plan = UpsertDeleteRouting.plan(rest);
                }
            }
            try {
                writer.apply(c, plan);
            } catch (PlanWriter.InsertConflict conflict) {
                throw conflict; // a key that exists already: the caller applies the plan again with upserts
            } catch (SQLException refused) {
                if (batch == null || batch.isEmpty() || !DestinationErrors.rejectsChange(refused)) {
                    throw refused;
                }
                // start the transaction over and find the refused change(s)
                c.rollback();
                writer.transactionEnded(false);
                applyAroundRefusals(c, batch);
            }
            if (plan.position() != null) {
                positions.saveInTransaction(c, Positions.stream(plan.position(), slot), Positions.value(plan.position(), plan.last(), changesThrough));
            }
            committing = true;
            c.commit();
        } catch (SQLException | RuntimeException e) {
            JdbcPositionStore.rollbackQuietly(c);
            writer.transactionEnded(false);
            positions.committed(false);
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
        writer.transactionEnded(true);
        positions.committed(true);
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

    /** Why this destination needs a copy of the source table before it takes rows of this shape; null when it needs none. */
    @Override
    public String copyReason(TableSchema shape) throws SQLException {
        synchronized (destination) {
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
    public void start() {
        // connects on the first batch
    }

    @Override
    public void stop() {
        synchronized (destination) {
            destination.close();
        }
    }
}
