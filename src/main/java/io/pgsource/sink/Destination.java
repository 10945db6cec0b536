package io.pgsource.sink;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.TableSchema;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.Settings;
import io.pgsource.state.PositionStore;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;
import org.apache.camel.Exchange;

/**
 * A destination: where the changes go. One class implementing this, registered in
 * {@code META-INF/services/io.pgsource.sink.Destination} (Java's {@link java.util.ServiceLoader}), plus one route file
 * {@code routes/destinations/<name>.camel.yaml} that reads {@code direct:destination} and hands the batch to the bean
 * {@value DestinationStep#BEAN_NAME} (the {@link DestinationStep}). {@code destination=<name>} selects it; the names
 * accepted are the registered ones ({@link Destinations}).
 *
 * <p>The {@link DestinationStep} does what every destination needs, once: it leaves out the changes the destination
 * already holds (a replay after a restart, changes a copy holds), computes the position to store, calls {@link #write},
 * and, unless the destination stores positions with its data ({@link #transactional}), stores the position after
 * {@link #write} returned. A destination never looks at where a change came from (batch query or log replication).
 *
 * <p>Lifecycle: instances are made with the no-argument constructor (for the names, the demo hooks and the end-of-run
 * line too); {@link #open} is called once before any route starts, {@link #close} when Camel stops.
 */
public interface Destination {

    /** The value of {@code destination} that selects it, and the name of its route file. */
    String name();

    /**
     * Checks the settings it needs before anything starts (no connection yet), e.g. a URL that must be set.
     *
     * @param demo whether the source is the embedded demo database, whose {@link #demo} hook may fill settings in
     * @throws io.pgsource.config.ConfigurationException one line: the cause and the fix
     */
    default void checkSettings(Settings settings, boolean demo) {
    }

    /**
     * Connects or prepares its output, binds what its route file refers to besides {@value DestinationStep#BEAN_NAME},
     * and checks what it can now (a wrong URL stops pgsource at start with the fix).
     */
    void open(DestinationContext context) throws Exception;

    /** Where the positions of what this destination made durable are kept. */
    PositionStore positions();

    /**
     * Whether it stores the position in the same transaction as the data ({@link #write} does it; exactly-once), so
     * waiting source transactions may be combined into one batch. Otherwise the step stores it after {@link #write}
     * returned (at-least-once), and every batch is one source transaction, whose position each event can name.
     */
    default boolean transactional() {
        return false;
    }

    /**
     * Whether {@link #write} stores the records of {@link StoredPosition#alongside} in the same transaction as the data
     * and the position. Otherwise the step stores them after {@link #write} returned.
     */
    default boolean storesAlongside() {
        return false;
    }

    /**
     * Whether it applies a large source transaction while the server still streams it ({@link #writeInProgress}, then
     * {@link #commitInProgress} or {@link #rollbackInProgress}), rather than only after its commit: only a
     * {@link #transactional} destination that can hold one transaction open across exchanges, and commit or roll it back
     * later. Off by default.
     */
    default boolean appliesInProgress() {
        return false;
    }

    /**
     * Applies changes of a source transaction still in progress into a destination transaction held open for it, without
     * committing; the {@link DestinationStep} hands over only parts that follow each other. Anything else the destination
     * does meanwhile (another batch, a position read in a transaction of its own) must roll it back first. The events'
     * positions are provisional (see {@link io.pgsource.change.ChangeHeaders#TX_IN_PROGRESS}).
     *
     * @param first whether this is the transaction's first part, which opens it (rolling back any other left open)
     * @return false when (not the first part) the open transaction was rolled back meanwhile: nothing of it is held
     * @throws Exception when it cannot apply them; the caller then rolls the open transaction back
     */
    default boolean writeInProgress(Exchange exchange, ChangeBatch batch, boolean first) throws Exception {
        return false;
    }

    /**
     * The stored position of a stream as the transaction held open sees it (read inside it, so it stays open); as
     * {@link PositionStore#current} when none is open.
     */
    default Optional<String> currentInProgress(String stream) throws Exception {
        return positions().current(stream);
    }

    /**
     * Commits the transaction held open with the position; the {@link DestinationStep} calls it only when every part of
     * the source transaction went into it.
     *
     * @return false when it was rolled back meanwhile: nothing is committed
     * @throws Exception when the commit failed (whether it committed is not known: the caller replays from the source)
     */
    default boolean commitInProgress(Exchange exchange, StoredPosition position) throws Exception {
        return false;
    }

    /** Rolls back the transaction held open for a source transaction in progress, if any. */
    default void rollbackInProgress() throws Exception {
    }

    /**
     * Makes the batch durable at the destination; throws when it cannot, and then nothing counts as applied.
     *
     * @param exchange the exchange carrying the batch (its headers: {@link io.pgsource.change.ChangeHeaders})
     * @param batch    the changes not yet applied (possibly none: a {@link #transactional} destination still stores the
     *                 position, and creates the tables of {@link ChangeBatch#tables()})
     * @param position what to store, or null when the batch has none; a {@link #transactional} destination writes it
     *                 with the data ({@link StoredPosition#save})
     */
    void write(Exchange exchange, ChangeBatch batch, StoredPosition position) throws Exception;

    /**
     * A copy is about to send pages of these tables, in this order: the destination may make them ready meanwhile (the
     * {@code postgres} one creates those it lacks on connections of its own). Returns at once; nothing by default.
     */
    default void prepareCopy(java.util.List<TableSchema> tables) throws Exception {
    }

    /**
     * Why the destination needs a copy of the source table before it takes rows of this shape (it cannot follow the
     * schema change itself); null when it needs none or keeps nothing of shapes.
     */
    default String copyReason(TableSchema shape) throws Exception {
        return null;
    }

    /**
     * Log replication is about to stream these source tables (its copies, if any, are done): read ahead what the first
     * transactions would otherwise ask for one at a time, so the first transaction after a start does not wait for it.
     * Reads only: nothing is created, written or committed as applied. Nothing by default (a store that reads positions
     * one query at a time would ask for every table at start what the first transactions ask for only their tables).
     *
     * @param tables  the captured source tables
     * @param streams the position streams the stream asks for (its slot's, each table's copy records)
     */
    default void prepareStream(java.util.Collection<io.pgsource.change.TableId> tables, java.util.Collection<String> streams)
            throws Exception {
    }

    /** Whether it may refuse single changes (then {@code destination.dead_letter_uri} applies to it). */
    default boolean rejectsChanges() {
        return false;
    }

    /**
     * For {@code pgsource check}: connects and checks what a start needs, writing nothing.
     *
     * @return what was checked, one line; null when nothing can be checked before a run (then a start checks it)
     * @throws Exception the problem, its message naming the fix (a {@link io.pgsource.config.ConfigurationException})
     */
    default String check(Settings settings) throws Exception {
        return null;
    }

    /** Releases connections and files. */
    default void close() throws Exception {
    }

    /** Where the output went, for the last line of a run; null to say nothing. */
    default String output(DestinationSettings settings) {
        return null;
    }

    /**
     * Where its output goes, without secrets (a directory, a URL): named in the first line of a run, and a demo database
     * is kept per output; "" when there is nothing to tell apart.
     */
    default String outputIdentity(DestinationSettings settings) {
        return "";
    }

    /** With the embedded demo database as the source: fills in what the settings leave out (into {@code overrides}). */
    default void demo(DemoServer server, DestinationSettings settings, Properties overrides) throws Exception {
    }

    /** What the embedded demo source offers a destination. */
    interface DemoServer {
        /** A database on the embedded server, created if missing: its JDBC URL. */
        String database(String name) throws Exception;

        String user();

        String password();

        /** Makes the directory this demo database's output: another one's output there is moved aside. */
        void claimDirectory(Path directory) throws Exception;
    }
}
