package io.pgsource.sink.mysql;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.TableSchema;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.Settings;
import io.pgsource.sink.Destination;
import io.pgsource.sink.DestinationContext;
import io.pgsource.sink.StoredPosition;
import io.pgsource.sink.plan.WritePlan;
import io.pgsource.sink.plan.WritePlanner;
import io.pgsource.change.TableId;
import io.pgsource.state.CopyNeededException;
import io.pgsource.state.HeldColumns;
import io.pgsource.state.PositionStore;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.sql.Connection;
import java.sql.SQLException;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code mysql} destination: applies each batch to MySQL or MariaDB tables ({@code destination.url}
 * {@code jdbc:mariadb://...} or {@code jdbc:mysql://...}).
 *
 * <p>Per batch: the tables it writes are created or given the columns the source added ({@link MySqlTables}; MySQL
 * commits DDL on its own, so this comes first, with statements a replay can run again), then in ONE transaction the
 * batch's write plan ({@link MySqlWriter}: upserts, deletes, truncates as DELETE, keyless appends) and its source
 * position ({@link MySqlPositionStore}), then COMMIT: exactly-once, a replay after a crash changes nothing (the
 * {@link io.pgsource.sink.DestinationStep} leaves out what the stored position covers). On any error the transaction is
 * rolled back and the error goes back to the route: nothing is acknowledged.
 *
 * <p>Not written through Camel's {@code jdbc:} endpoint: it runs one statement per exchange on a connection of its own,
 * so the plan's statements and the position could not share one transaction without a transaction manager, and a
 * statement per row is several times slower than the multi-row upserts here (see the README).
 */
public final class MySqlSink implements Destination {
    /** {@code destination=mysql}. */
    public static final String NAME = "mysql";
    private static final Logger LOG = LoggerFactory.getLogger(MySqlSink.class);

    private MySqlConnection destination;
    private MySqlPositionStore positions;
    private MySqlWriter writer;
    /** The connection of the previous batch: a failure on it may just mean it died while idle. */
    private Connection lastUsed;

    /** Made by the registry ({@link io.pgsource.sink.Destinations}); {@link #open} connects it. */
    public MySqlSink() {
    }

    /** A destination for these settings (connects on first use). */
    public MySqlSink(DestinationSettings settings) {
        init(settings);
    }

    private void init(DestinationSettings settings) {
        check(settings);
        this.destination = new MySqlConnection(settings);
        this.positions = new MySqlPositionStore(destination);
        this.writer = new MySqlWriter(destination.tables());
    }

    private static void check(DestinationSettings settings) {
        if (settings.url() == null || settings.url().isBlank()) {
            throw new ConfigurationException("destination=mysql needs destination.url, e.g. jdbc:mariadb://warehouse:3306/analytics"
                    + " or jdbc:mysql://warehouse:3306/analytics (plus destination.username and destination.password)");
        }
        if (settings.softDelete()) {
            throw new ConfigurationException("destination.soft_delete=true is not supported by destination=mysql: set it to false"
                    + " (deleted rows are removed), or use destination=postgres");
        }
        try {
            MySqlConnection.driverUrl(settings.url().strip());
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException(e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void checkSettings(Settings settings, boolean demo) {
        check(settings.destination());
    }

    /** Connects (and reads the server's settings, as a start does), creating nothing. */
    @Override
    public String check(Settings settings) throws Exception {
        check(settings.destination());
        MySqlConnection connection = new MySqlConnection(settings.destination());
        try {
            connection.get();
            return "connected to " + connection.safeUrl();
        } catch (SQLException e) {
            throw new ConfigurationException(e.getMessage(), e);
        } finally {
            connection.close();
        }
    }

    @Override
    public void open(DestinationContext context) throws Exception {
        init(context.settings().destination());
        checkConnection();
    }

    @Override
    public boolean transactional() {
        return true;
    }

    @Override
    public PositionStore positions() {
        return positions;
    }

    @Override
    public String output(DestinationSettings settings) {
        return "Output: the tables of destination.url, with their positions in " + MySqlPositionStore.TABLE + " there";
    }

    @Override
    public String outputIdentity(DestinationSettings settings) {
        return settings.url() == null ? "" : MySqlConnection.safeUrl(settings.url());
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
    public void write(Exchange exchange, ChangeBatch batch, StoredPosition position) throws SQLException {
        synchronized (destination) {
            try {
                writeOnce(batch, position);
            } catch (StaleConnection e) {
                // the connection died while idle (destination restarted, idle timeout): nothing was committed, retry once
                LOG.info("the connection to destination {} was lost while idle; reconnecting", destination.safeUrl());
                writeOnce(batch, position);
            }
        }
    }

    /**
     * Creates or checks the batch's tables (DDL, committed on its own), then writes its plan and position in one
     * transaction and commits it.
     */
    private void writeOnce(ChangeBatch batch, StoredPosition position) throws SQLException {
        Connection c = destination.get();
        boolean committing = false;
        boolean stale = false;
        try {
            positions.create(c);
            WritePlan plan = WritePlanner.plan(batch);
            Map<TableId, HeldColumns> held = new LinkedHashMap<>();
            for (TableSchema schema : plan.schemas()) {
                if (destination.tables().known(schema) == null && schema.sourceColumns() != null) {
                    HeldColumns.Plan follow = follow(c, schema);
                    if (follow.copyNeeded()) {
                        throw new CopyNeededException(schema.id(), follow.copyReason());
                    }
                    if (follow.next() != null) {
                        held.put(schema.id(), follow.next());
                    }
                }
                destination.tables().ensure(c, schema);
            }
            c.commit();
            writer.maxAllowedPacket(destination.maxAllowedPacket());
            writer.apply(c, plan);
            for (Map.Entry<TableId, HeldColumns> h : held.entrySet()) {
                positions.saveInTransaction(c, HeldColumns.stream(h.getKey()), h.getValue().serialize());
            }
            if (position != null) {
                positions.saveInTransaction(c, position.stream(), position.value());
            }
            committing = true;
            c.commit();
            positions.committed(true);
        } catch (SQLException | RuntimeException e) {
            positions.committed(false);
            destination.tables().forget();
            destination.failed(e instanceof SQLException sql ? sql : new SQLException(e.getMessage(), "HY000", e));
            if (e instanceof SQLException sql) {
                boolean broken = sql.getSQLState() == null || sql.getSQLState().startsWith("08");
                if (broken && !committing && c == lastUsed) {
                    stale = true;
                    throw new StaleConnection(sql);
                }
                throw new SQLException("cannot apply a batch at the destination " + destination.safeUrl()
                        + " (rolled back, nothing stored): " + sql.getMessage(), sql.getSQLState(), sql);
            }
            throw e;
        } finally {
            lastUsed = stale ? null : c;
        }
    }

    /**
     * How the destination table follows the source's columns, from the record of those it holds (kept with the
     * positions): new columns are added; a rename, a column added with a value for the older rows, a rewrite or a table
     * created again take a copy of the table (MySQL's DDL cannot join the batch's transaction, so they are not done in
     * place).
     */
    private HeldColumns.Plan follow(Connection c, TableSchema schema) throws SQLException {
        Set<String> existing = destination.tables().existingColumns(c, schema.id());
        String stored = positions.loadInTransaction(c, HeldColumns.stream(schema.id()));
        return HeldColumns.plan(schema, stored, existing, false, "of " + schema.id().quoted());
    }

    @Override
    public String copyReason(TableSchema shape) throws SQLException {
        if (shape.sourceColumns() == null) {
            return null;
        }
        synchronized (destination) {
            Connection c = destination.get();
            try {
                return follow(c, shape).copyReason();
            } catch (SQLException e) {
                destination.failed(e);
                throw e;
            } finally {
                if (!destination.closed()) {
                    c.rollback();
                }
            }
        }
    }

    /** A failure on a connection that may have died while idle, before anything was committed. */
    private static final class StaleConnection extends SQLException {
        StaleConnection(SQLException cause) {
            super(cause.getMessage(), cause.getSQLState(), cause);
        }
    }

    @Override
    public void close() {
        if (destination != null) {
            synchronized (destination) {
                destination.close();
            }
        }
    }
}
