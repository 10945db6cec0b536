package io.pgsource.pgoutput;

import io.pgsource.pgoutput.protocol.PgOutputDecoder;
import java.sql.Connection;
import java.sql.SQLException;
import org.apache.camel.Category;
import org.apache.camel.Consumer;
import org.apache.camel.Processor;
import org.apache.camel.Producer;
import org.apache.camel.spi.UriEndpoint;
import org.apache.camel.spi.UriParam;
import org.apache.camel.support.DefaultEndpoint;
import org.apache.camel.util.ObjectHelper;

/**
 * Streams the committed transactions of a PostgreSQL logical replication slot (pgoutput) as {@code ChangeBatch}
 * exchanges, in commit order, acknowledging a transaction to the slot only after its exchange completed.
 */
@UriEndpoint(firstVersion = "0.1.0", scheme = "pgoutput", title = "PostgreSQL pgoutput", syntax = "pgoutput:slot",
             consumerOnly = true, category = { Category.DATABASE }, headersClass = PgOutputConstants.class)
public class PgOutputEndpoint extends DefaultEndpoint {

    @UriParam
    private PgOutputConfiguration configuration;
    private Prerequisites prerequisites;

    public PgOutputEndpoint(String uri, PgOutputComponent component, PgOutputConfiguration configuration) {
        super(uri, component);
        this.configuration = configuration;
    }

    public PgOutputConfiguration getConfiguration() {
        return configuration;
    }

    public void setConfiguration(PgOutputConfiguration configuration) {
        this.configuration = configuration;
    }

    @Override
    public PgOutputComponent getComponent() {
        return (PgOutputComponent) super.getComponent();
    }

    @Override
    public Producer createProducer() {
        throw new UnsupportedOperationException("pgoutput: is a consumer only (it reads a replication slot)");
    }

    @Override
    public Consumer createConsumer(Processor processor) throws Exception {
        validate();
        PgOutputConsumer consumer = new PgOutputConsumer(this, processor);
        configureConsumer(consumer);
        return consumer;
    }

    /**
     * Runs the consumer's start-up checks now, creating the publications when createPublication=true: for a caller
     * that must know the setup is complete before it does anything else with the source (such as copying tables
     * before the consumer starts). Fails with a {@link PrerequisiteException} whose message says what to fix. The
     * consumer started right after takes the publications checked here instead of reading them again.
     */
    public void checkPrerequisites() throws SQLException {
        validate();
        try (Connection c = new ConnectionSettings(configuration).openCatalog()) {
            prerequisites().checkForStart(c);
        }
    }

    /** The checks of this endpoint (one instance: it says each warning once). */
    synchronized Prerequisites prerequisites() {
        if (prerequisites == null) {
            prerequisites = new Prerequisites(configuration);
        }
        return prerequisites;
    }

    /** Option errors that need no server: fail when the route is built. */
    void validate() {
        PgOutputConfiguration c = configuration;
        if (ObjectHelper.isEmpty(c.getSlot())) {
            throw new IllegalArgumentException("pgoutput: needs a slot name: pgoutput:mySlot?publication=...");
        }
        if (!c.getSlot().matches("[a-z0-9_]{1,63}")) {
            throw new IllegalArgumentException("pgoutput: slot name '" + c.getSlot() + "' is not valid: PostgreSQL slot names"
                    + " use only lower-case letters, digits and underscores (at most 63)");
        }
        if (ObjectHelper.isEmpty(c.getPublication()) || c.publications().isEmpty()) {
            throw new IllegalArgumentException("pgoutput:" + c.getSlot() + " needs the publication option (publication_names)");
        }
        for (String name : c.publications()) {
            if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 63) {
                throw new IllegalArgumentException("pgoutput:" + c.getSlot() + ": publication name " + name + " is longer than the 63"
                        + " bytes PostgreSQL keeps of a name");
            }
        }
        if (c.getDataSource() == null && ObjectHelper.isEmpty(c.getDatabase())) {
            throw new IllegalArgumentException("pgoutput:" + c.getSlot() + " needs the database option (or a pgjdbc dataSource)");
        }
        if (c.isSnapshotExistingSlot() && c.getSnapshotHandler() == null) {
            throw new IllegalArgumentException("pgoutput:" + c.getSlot() + ": snapshotExistingSlot=true needs a snapshotHandler,"
                    + " which says whether a copy is needed and makes it");
        }
        if (c.getProtocolVersion() < 0 || c.getProtocolVersion() > 4) {
            throw new IllegalArgumentException("pgoutput:" + c.getSlot() + ": protocolVersion must be 1 to 4 (or 0 for the newest"
                    + " the server supports), not " + c.getProtocolVersion());
        }
        if (c.getMaxBatchSize() < 1) {
            throw new IllegalArgumentException("pgoutput:" + c.getSlot() + ": maxBatchSize must be at least 1");
        }
        if (c.getStatusInterval() < 1 || c.getReconnectDelay() < 1 || c.getMaxReconnectDelay() < c.getReconnectDelay()
                || c.getSlotCheckInterval() < 1) {
            throw new IllegalArgumentException("pgoutput:" + c.getSlot() + ": statusInterval, reconnectDelay and slotCheckInterval"
                    + " must be positive and maxReconnectDelay at least reconnectDelay");
        }
    }

    /** For log lines: an LSN in PostgreSQL's X/X form. */
    static String lsn(long lsn) {
        return PgOutputDecoder.lsn(lsn);
    }
}
