package io.pgsource.pgoutput;

import io.pgsource.catalog.Publications;
import io.pgsource.change.TableId;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.function.Predicate;
import javax.sql.DataSource;
import org.apache.camel.RuntimeCamelException;
import org.apache.camel.spi.Metadata;
import org.apache.camel.spi.UriParam;
import org.apache.camel.spi.UriParams;
import org.apache.camel.spi.UriPath;

/** The options of a {@code pgoutput:slot} endpoint. */
@UriParams
public class PgOutputConfiguration implements Cloneable {

    @UriPath
    @Metadata(required = true)
    private String slot;

    @UriParam
    @Metadata(required = true)
    private String publication;

    @UriParam(label = "common")
    private String host;

    @UriParam(label = "common", defaultValue = "5432")
    private int port = 5432;

    @UriParam(label = "common")
    private String database;

    @UriParam(label = "security")
    private String user;

    @UriParam(label = "security", secret = true)
    private String password;

    @UriParam(label = "advanced")
    private DataSource dataSource;

    @UriParam(label = "security", enums = "disable,allow,prefer,require,verify-ca,verify-full")
    private String sslmode;

    @UriParam(label = "security")
    private String sslrootcert;

    @UriParam(label = "security")
    private String sslcert;

    @UriParam(label = "security")
    private String sslkey;

    @UriParam(label = "advanced", defaultValue = "0")
    private int protocolVersion;

    @UriParam(label = "advanced", defaultValue = "false")
    private boolean binary;

    @UriParam(label = "advanced", defaultValue = "true")
    private boolean streaming = true;

    @UriParam(label = "advanced", defaultValue = "false")
    private boolean messages;

    @UriParam(defaultValue = "10000")
    private int maxBatchSize = 10000;

    @UriParam(label = "advanced", defaultValue = "false")
    private boolean combineTransactions;

    @UriParam(label = "advanced", defaultValue = "false")
    private boolean applyInProgress;

    @UriParam(defaultValue = "false")
    private boolean createSlot;

    @UriParam(label = "advanced")
    private InitialSnapshotHandler snapshotHandler;

    @UriParam(label = "advanced", defaultValue = "false")
    private boolean snapshotExistingSlot;

    @UriParam(label = "advanced")
    private IntPredicate binaryTypes;

    @UriParam(defaultValue = "false")
    private boolean createPublication;

    @UriParam
    private String publicationTables;

    @UriParam(label = "advanced")
    private Predicate<TableId> tableFilter;

    @UriParam(label = "advanced", defaultValue = "10s", javaType = "java.time.Duration")
    private long statusInterval = 10_000;

    @UriParam(label = "advanced", defaultValue = "1s", javaType = "java.time.Duration")
    private long reconnectDelay = 1_000;

    @UriParam(label = "advanced", defaultValue = "30s", javaType = "java.time.Duration")
    private long maxReconnectDelay = 30_000;

    @UriParam(label = "advanced", defaultValue = "10s", javaType = "java.time.Duration")
    private long slotCheckInterval = 10_000;

    @UriParam(label = "advanced")
    private String spoolDirectory;

    @UriParam(label = "advanced", defaultValue = "false")
    private boolean asyncStart;

    @UriParam(defaultValue = "typed", enums = "typed,text")
    private String values = "typed";

    public String getSlot() {
        return slot;
    }

    /** The logical replication slot to read (pgoutput plugin). Slot names are per server. */
    public void setSlot(String slot) {
        this.slot = slot;
    }

    public String getPublication() {
        return publication;
    }

    /**
     * The publication whose tables are streamed ({@code publication_names}), or a comma-separated list of them (a name
     * holding a comma or a double quote is written in double quotes, as an SQL identifier). With createPublication,
     * missing ones are created for publicationTables: the first for the tables with a primary key or replica identity,
     * the second for the tables without one, publishing only inserts and truncates (PostgreSQL rejects UPDATE and
     * DELETE on such a table while a publication that publishes them includes it). Named publications that are not
     * needed are not created; the ones that exist are streamed.
     */
    public void setPublication(String publication) {
        this.publication = publication;
    }

    /** The publication names of {@link #getPublication()}, in order. */
    public List<String> publications() {
        return Publications.names(publication);
    }

    public String getHost() {
        return host;
    }

    /** The PostgreSQL host (defaults to the dataSource's server name if it is a pgjdbc data source, else localhost). */
    public void setHost(String host) {
        this.host = host;
    }

    public int getPort() {
        return port;
    }

    /** The PostgreSQL port. */
    public void setPort(int port) {
        this.port = port;
    }

    public String getDatabase() {
        return database;
    }

    /** The database whose changes are read; a logical slot belongs to one database. */
    public void setDatabase(String database) {
        this.database = database;
    }

    public String getUser() {
        return user;
    }

    /** The role to connect as; it needs the REPLICATION attribute (or superuser, or rds_replication on RDS). */
    public void setUser(String user) {
        this.user = user;
    }

    public String getPassword() {
        return password;
    }

    /** The role's password. Never logged. */
    public void setPassword(String password) {
        this.password = password;
    }

    public DataSource getDataSource() {
        return dataSource;
    }

    /**
     * A DataSource for the catalog connection (type names, prerequisite checks), instead of host/user/password. The
     * replication connection cannot come from a pool: it still needs host, port, database, user and password, which
     * are taken from the data source when it is a pgjdbc {@code PGSimpleDataSource} (or any pgjdbc
     * {@code BaseDataSource}) and not set as options, and so are its TLS settings (sslmode, sslrootcert, sslcert, sslkey
     * ...), so the replication connection is verified exactly as the catalog connection.
     */
    public void setDataSource(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public String getSslmode() {
        return sslmode;
    }

    /** pgjdbc sslmode: disable, allow, prefer, require, verify-ca or verify-full. */
    public void setSslmode(String sslmode) {
        this.sslmode = sslmode;
    }

    public String getSslrootcert() {
        return sslrootcert;
    }

    /** The file of the CA certificate(s) that verify the server (verify-ca, verify-full). */
    public void setSslrootcert(String sslrootcert) {
        this.sslrootcert = sslrootcert;
    }

    public String getSslcert() {
        return sslcert;
    }

    /** The client certificate file, for certificate authentication. */
    public void setSslcert(String sslcert) {
        this.sslcert = sslcert;
    }

    public String getSslkey() {
        return sslkey;
    }

    /** The client key file (PKCS-8 DER or PKCS-12), for certificate authentication. */
    public void setSslkey(String sslkey) {
        this.sslkey = sslkey;
    }

    public int getProtocolVersion() {
        return protocolVersion;
    }

    /**
     * The pgoutput protocol version (proto_version), 1 to 4. 0 (the default) picks the newest the server supports: 4 on
     * PostgreSQL 16+, 3 on 15, 2 on 14, 1 below.
     */
    public void setProtocolVersion(int protocolVersion) {
        this.protocolVersion = protocolVersion;
    }

    public boolean isBinary() {
        return binary;
    }

    /**
     * pgoutput binary mode (PostgreSQL 14+; on an older server the consumer fails at start): the server sends each
     * value as its type's {@code send} output, which the rows carry as byte arrays and the {@code typeMapping}
     * processor decodes into exactly the canonical values of text mode. Types with no exact binary decoder
     * (geometric, text-search, range, multirange and composite types, and extension types other than hstore and
     * citext) fail the type mapping with a message naming the type: keep text mode for tables with such columns.
     * money decodes with two fraction digits, as its text output under lc_monetary=C. Default false (text mode,
     * exact for every type).
     */
    public void setBinary(boolean binary) {
        this.binary = binary;
    }

    public IntPredicate getBinaryTypes() {
        return binaryTypes;
    }

    /**
     * With binary=true: the type OIDs the route decodes exactly in binary form (for pgsource,
     * {@code TypeRegistry::decodesBinary}). Binary mode is then used only where it works: on PostgreSQL 14 or newer, and
     * until a Relation message names a column of another type; from then on the consumer reads the slot in text mode
     * (reconnecting from the acknowledged position, so nothing is lost). Without it, binary=true is unconditional.
     */
    public void setBinaryTypes(IntPredicate binaryTypes) {
        this.binaryTypes = binaryTypes;
    }

    public boolean isStreaming() {
        return streaming;
    }

    /**
     * Whether the server may stream large in-progress transactions (protocol 2+); they are spooled to disk here until
     * they commit, so memory stays bounded. Ignored with protocol 1.
     */
    public void setStreaming(boolean streaming) {
        this.streaming = streaming;
    }

    public boolean isMessages() {
        return messages;
    }

    /**
     * Whether logical decoding messages (pg_logical_emit_message) are requested (PostgreSQL 14+). Transactional ones
     * travel in the PgSourceLogicalMessages header of their part; non-transactional ones are logged at debug level.
     */
    public void setMessages(boolean messages) {
        this.messages = messages;
    }

    public int getMaxBatchSize() {
        return maxBatchSize;
    }

    /**
     * The most change events one exchange carries. A larger transaction arrives as several exchanges (parts) in
     * order; only its last part advances the slot.
     */
    public void setMaxBatchSize(int maxBatchSize) {
        this.maxBatchSize = maxBatchSize;
    }

    public boolean isCombineTransactions() {
        return combineTransactions;
    }

    /**
     * Whether whole transactions already waiting behind the one being delivered go into the same exchange (together at
     * most maxBatchSize changes, never a part of a larger transaction, never across a change of a table's shape), so a
     * destination commits many small transactions at once. The exchange's headers then describe its last transaction,
     * and each event keeps its own transaction's position. Nothing waits for more transactions to arrive.
     */
    public void setCombineTransactions(boolean combineTransactions) {
        this.combineTransactions = combineTransactions;
    }

    public boolean isApplyInProgress() {
        return applyInProgress;
    }

    /**
     * Whether a large transaction the server streams while in progress (streaming=true) goes to the route before its
     * commit, in provisional parts (header PgSourceTxInProgress: apply, then commit, or rollback) that a destination
     * applies into a transaction it holds open until the commit. Only for routes whose destination step says what it did
     * with each (io.pgsource.sink.DestinationStep fills the holder in the header PgSourceTxInProgressOutcome); anything else makes
     * the consumer replay the transaction from its spool file at the commit, as without this option.
     */
    public void setApplyInProgress(boolean applyInProgress) {
        this.applyInProgress = applyInProgress;
    }

    public boolean isCreateSlot() {
        return createSlot;
    }

    /**
     * Create the slot when it does not exist (over the replication connection, exporting a snapshot that the
     * snapshotHandler can copy from before streaming starts). An existing slot is used as it is.
     */
    public void setCreateSlot(boolean createSlot) {
        this.createSlot = createSlot;
    }

    public InitialSnapshotHandler getSnapshotHandler() {
        return snapshotHandler;
    }

    /**
     * Called synchronously when this consumer created the slot, with the exported snapshot's name and the slot's
     * consistent point, before streaming starts: copy the tables inside that snapshot and the stream continues exactly
     * where the copy ends (no gap, no duplicate). If it throws, the new slot is dropped and everything is retried.
     */
    public void setSnapshotHandler(InitialSnapshotHandler snapshotHandler) {
        this.snapshotHandler = snapshotHandler;
    }

    public boolean isSnapshotExistingSlot() {
        return snapshotExistingSlot;
    }

    /**
     * When the slot exists as this consumer first starts, ask the snapshotHandler whether a copy is needed (the
     * destination holds no complete copy of the rows committed before the slot's position); if it is, copy inside the
     * exported snapshot of a temporary slot, then stream from the slot. The transactions committed between the slot's
     * position and the temporary slot's consistent point arrive through the stream too: leave out those at or before it.
     */
    public void setSnapshotExistingSlot(boolean snapshotExistingSlot) {
        this.snapshotExistingSlot = snapshotExistingSlot;
    }

    public boolean isCreatePublication() {
        return createPublication;
    }

    /**
     * Create the publications when they do not exist: FOR TABLE the publicationTables (see publication for the tables
     * without a key), or FOR ALL TABLES without publicationTables (refused while a table lacks a replica identity, as
     * PostgreSQL would then reject UPDATE and DELETE on it). Partitioned tables are published through their root
     * (publish_via_partition_root); on PostgreSQL 18, stored generated columns are published too.
     */
    public void setCreatePublication(boolean createPublication) {
        this.createPublication = createPublication;
    }

    public String getPublicationTables() {
        return publicationTables;
    }

    /**
     * Comma-separated tables (schema.table, or table in public; partitioned tables by their root, not their partitions)
     * the publications must cover: used by createPublication, and checked against existing publications, which cover a
     * table when they publish some of its rows (a partitioned table through its root or through its partitions). Empty
     * means FOR ALL TABLES.
     */
    public void setPublicationTables(String publicationTables) {
        this.publicationTables = publicationTables;
    }

    public Predicate<TableId> getTableFilter() {
        return tableFilter;
    }

    /**
     * Which tables' changes are delivered, by the table they belong to: a partition's changes belong to its partitioned
     * table (its root), also when a publication without publish_via_partition_root sends them under the partition's
     * name. Changes of other tables a wider publication sends (FOR ALL TABLES, FOR TABLES IN SCHEMA) are dropped before
     * the route. Default: every table the publications publish.
     */
    public void setTableFilter(Predicate<TableId> tableFilter) {
        this.tableFilter = tableFilter;
    }

    public long getStatusInterval() {
        return statusInterval;
    }

    /**
     * How often a status update (the acknowledged position) is sent to the server. Updates are sent more often while
     * a slow exchange runs, so wal_sender_timeout does not end the connection.
     */
    public void setStatusInterval(long statusInterval) {
        this.statusInterval = statusInterval;
    }

    public long getReconnectDelay() {
        return reconnectDelay;
    }

    /** The first wait before reconnecting after a failure (doubled after every further failure). */
    public void setReconnectDelay(long reconnectDelay) {
        this.reconnectDelay = reconnectDelay;
    }

    public long getMaxReconnectDelay() {
        return maxReconnectDelay;
    }

    /** The longest wait between reconnection attempts. */
    public void setMaxReconnectDelay(long maxReconnectDelay) {
        this.maxReconnectDelay = maxReconnectDelay;
    }

    public long getSlotCheckInterval() {
        return slotCheckInterval;
    }

    /**
     * How often the slot is checked on an ordinary connection: its lag behind the server's WAL (logged at WARN while
     * the consumer cannot deliver, and reported by the health check), its {@code wal_status}, whether it still exists,
     * and whether every table of {@code publicationTables} is still published. A slot that was dropped or invalidated,
     * or a captured table that left the publication, stops the consumer ({@link SlotLostException}).
     */
    public void setSlotCheckInterval(long slotCheckInterval) {
        this.slotCheckInterval = slotCheckInterval;
    }

    public String getSpoolDirectory() {
        return spoolDirectory;
    }

    /**
     * Where streamed in-progress transactions are spooled until they commit (default: a pgoutput-spool directory in
     * java.io.tmpdir).
     */
    public void setSpoolDirectory(String spoolDirectory) {
        this.spoolDirectory = spoolDirectory;
    }

    public boolean isAsyncStart() {
        return asyncStart;
    }

    /**
     * Start without checking the source first: the consumer connects on its own thread and keeps retrying, reporting
     * problems in its health check and the log, so starting it never fails. For wrappers that start the consumer once
     * and do not retry, such as {@code master:} (high availability). Default false: a setup problem fails the start.
     */
    public void setAsyncStart(boolean asyncStart) {
        this.asyncStart = asyncStart;
    }

    public String getValues() {
        return values;
    }

    /**
     * What the rows' values are. typed (the default): pgsource's canonical Java values, as its typeMapping makes them
     * (numeric a BigDecimal, integers Short/Integer/Long, timestamptz an OffsetDateTime at UTC, date a LocalDate,
     * bytea a Bytes, json a Json, arrays PgArray lists, types without a decoder their text), read with one query of pg_type when the consumer
     * first delivers. text: PostgreSQL's text output as Strings (with binary=true the types' binary form as byte arrays),
     * untouched, for a route that decodes values itself or writes them back to PostgreSQL as they came.
     */
    public void setValues(String values) {
        if (!"typed".equals(values) && !"text".equals(values)) {
            throw new IllegalArgumentException("values=" + values + " is not known: use values=typed (Java values) or values=text"
                    + " (PostgreSQL's text output)");
        }
        this.values = values;
    }

    /** values=typed. */
    public boolean typedValues() {
        return "typed".equals(values);
    }

    public PgOutputConfiguration copy() {
        try {
            return (PgOutputConfiguration) clone();
        } catch (CloneNotSupportedException e) {
            throw new RuntimeCamelException(e);
        }
    }
}
