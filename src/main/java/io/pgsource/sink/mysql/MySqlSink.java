package io.pgsource.sink.mysql;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Position;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.route.UpsertDeleteRouting;
import io.pgsource.route.WritePlan;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.Service;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code mysql} destination (bean {@code mysqlSink}): applies each batch to MySQL or MariaDB tables.
 *
 * <p>Per batch: the tables it writes are created or given the columns the source added ({@link MySqlTables}; MySQL
 * commits DDL on its own, so this comes first), then in ONE transaction the batch's write plan ({@link MySqlWriter}:
 * upserts, deletes, truncates as DELETE, keyless appends) and its source position ({@link MySqlPositionStore}), then
 * COMMIT: exactly-once, a replay after a crash changes nothing. A log batch the destination already holds (its position
 * at or below the stored one, or the first changes of a transaction applied in part) is left out, as the postgres
 * destination does ({@link Positions}). On any error the transaction is rolled back and the error goes back to the
 * route: nothing is acknowledged.
 */
public final class MySqlSink implements Processor, Service {
    /** The bean name routes refer to. */
    public static final String BEAN_NAME = "mysqlSink";
    private static final Logger LOG = LoggerFactory.getLogger(MySqlSink.class);

    private final MySqlConnection destination;
    private final MySqlPositionStore positions;
    private final MySqlWriter writer;
    /** The connection of the previous batch: a failure on it may just mean it died while idle. */
    private Connection lastUsed;

    public MySqlSink(DestinationSettings settings) {
        if (settings.softDelete()) {
            throw new ConfigurationException("destination.soft_delete=true is not supported by destination=mysql: set it to false"
                    + " (deleted rows are removed), or use destination=postgres");
        }
        try {
            this.destination = new MySqlConnection(settings);
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException(e.getMessage(), e);
        }
        this.positions = new MySqlPositionStore(destination);
        this.writer = new MySqlWriter(destination.tables());
    }

    /** The positions this destination committed with its data. */
    public PositionStore positionStore() {
        return positions;
    }

    /** Connects now: a wrong URL or password stops pgsource at start with the fix. */
    public void checkConnection() {
        synchronized (destination) {
            try {
                Connection c = destination.get();
                positions.create(c);
                c.commit();
            } catch (SQLException e) {
                destination.failed(e);
                throw new ConfigurationException(e.getMessage(), e);
            }
        }
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        ChangeBatch batch = exchange.getIn().getMandatoryBody(ChangeBatch.class);
        String slot = exchange.getIn().getHeader(Positions.SLOT_HEADER, String.class);
        @SuppressWarnings("unchecked")
        Map<TableId, Long> copiedAt = exchange.getIn().getHeader(ChangeHeaders.COPIED_AT, Map.class);
        apply(batch, slot, exchange.getIn().getHeader(ChangeHeaders.TX_CHANGES_BEFORE, Long.class), copiedAt);
    }

    /**
     * Applies the batch (without what the destination holds already) and stores its position, in one transaction.
     *
     * @param slot          names the slot of log positions
     * @param changesBefore how many changes of the batch's source transaction came in its earlier parts, or null
     * @param copiedAt      tables copied while their changes streamed, with the LSN of each copy; null for none
     */
    public void apply(ChangeBatch batch, String slot, Long changesBefore, Map<TableId, Long> copiedAt) throws SQLException {
        synchronized (destination) {
            try {
                applyOnce(batch, slot, changesBefore, copiedAt);
            } catch (StaleConnection e) {
                // the connection died while idle (destination restarted, idle timeout): nothing was committed, retry once
                LOG.info("the connection to destination {} was lost while idle; reconnecting", destination.safeUrl());
                applyOnce(batch, slot, changesBefore, copiedAt);
            }
        }
    }

    private void applyOnce(ChangeBatch batch, String slot, Long changesBefore, Map<TableId, Long> copiedAt) throws SQLException {
        Connection c = destination.get();
        boolean committing = false;
        try {
            positions.create(c);
            String stream = batch.position() == null ? null : Positions.stream(batch.position(), slot);
            ChangeBatch rest = batch;
            if (batch.position() instanceof Position.Log log) {
                String stored = positions.loadInTransaction(c, stream);
                if (Positions.alreadyApplied(batch, changesBefore, stored)) {
                    LOG.debug("skipping transaction {} at {}: {} already holds {}", log.txId(), Positions.lsn(log.commitLsn()), stream, stored);
                    c.commit();
                    return;
                }
                int applied = Positions.appliedChanges(batch, changesBefore, stored);
                rest = Positions.withoutCopied(Positions.withoutApplied(applied == 0 ? batch
                        : new ChangeBatch(batch.subList(applied, batch.size()), batch.position(), batch.last(), batch.tables()), stored), copiedAt);
            }
            Long changesThrough = changesBefore == null ? null : changesBefore + batch.size();
            String value = batch.position() == null ? null : Positions.value(batch.position(), batch.last(), changesThrough);
            committing = write(c, rest, stream, value);
        } catch (SQLException | RuntimeException e) {
            destination.failed(e instanceof SQLException sql ? sql : new SQLException(e.getMessage(), "HY000", e));
            if (e instanceof SQLException sql) {
                boolean broken = lastUsed == c && (sql.getSQLState() == null || sql.getSQLState().startsWith("08"));
                if (broken && !committing) {
                    lastUsed = null;
                    throw new StaleConnection(sql);
                }
                throw new SQLException("cannot apply a batch at the destination " + destination.safeUrl()
                        + " (rolled back, nothing stored): " + sql.getMessage(), sql.getSQLState(), sql);
            }
            destination.tables().forget();
            throw e;
        } finally {
            lastUsed = c;
        }
    }

    /**
     * Creates or checks the batch's tables (DDL, committed on its own), then writes its plan and position in one
     * transaction and commits it. Returns true (the COMMIT was reached).
     */
    boolean write(Connection c, ChangeBatch batch, String stream, String value) throws SQLException {
        WritePlan plan = UpsertDeleteRouting.plan(batch);
        List<TableSchema> schemas = plan.schemas();
        for (TableSchema schema : schemas) {
            destination.tables().ensure(c, schema);
        }
        c.commit();
        writer.maxAllowedPacket(destination.maxAllowedPacket());
        writer.apply(c, plan);
        if (stream != null) {
            positions.saveInTransaction(c, stream, value);
        }
        c.commit();
        return true;
    }

    /** A failure on a connection that may have died while idle, before anything was committed. */
    private static final class StaleConnection extends SQLException {
        StaleConnection(SQLException cause) {
            super(cause.getMessage(), cause.getSQLState(), cause);
        }
    }

    @Override
    public void start() {
        // connects on the first batch (or checkConnection)
    }

    @Override
    public void stop() {
        synchronized (destination) {
            destination.close();
        }
    }
}
