package io.pgsource.pgoutput;

import io.pgsource.change.ChangeHeaders;
import org.apache.camel.spi.Metadata;

/** The headers a {@code pgoutput:} exchange carries next to its {@code ChangeBatch} body. */
public final class PgOutputConstants {
    @Metadata(description = "The position to store once this exchange is applied: for the last part of a transaction the "
            + "commit's end LSN (what the slot is acknowledged to), for earlier parts the commit record's LSN (below it, so "
            + "storing it by mistake replays the transaction rather than losing it).", javaType = "Long")
    public static final String COMMIT_LSN = ChangeHeaders.COMMIT_LSN;

    @Metadata(description = "The source transaction id.", javaType = "Long")
    public static final String TX_ID = ChangeHeaders.TX_ID;

    @Metadata(description = "The source commit time.", javaType = "java.time.OffsetDateTime")
    public static final String COMMIT_TIME = ChangeHeaders.COMMIT_TIME;

    @Metadata(description = "The replication slot the transaction was read from.", javaType = "String")
    public static final String SLOT = ChangeHeaders.SLOT;

    @Metadata(description = "The part's index within its transaction: 0 for the first (and, for transactions of at most "
            + "maxBatchSize changes, only) part.", javaType = "Integer")
    public static final String PART_INDEX = ChangeHeaders.TX_PART;

    @Metadata(description = "How many changes of the transaction its earlier parts carried (0 for the first part): where "
            + "this part starts in its transaction, whatever maxBatchSize cut the parts. A destination that stores it with "
            + "the part's size can skip exactly the changes it applied when the transaction comes again.", javaType = "Long")
    public static final String CHANGES_BEFORE = ChangeHeaders.TX_CHANGES_BEFORE;

    @Metadata(description = "Whether this is the transaction's last part. Only a last part advances the slot.",
              javaType = "Boolean")
    public static final String LAST_PART = ChangeHeaders.TX_LAST;

    @Metadata(description = "How many whole transactions the exchange carries: 1, or more with combineTransactions (the "
            + "other headers then describe the last one). A failed exchange of several is delivered again transaction by "
            + "transaction.", javaType = "Integer")
    public static final String TRANSACTIONS = ChangeHeaders.TX_COUNT;

    @Metadata(description = "The transactional logical decoding messages (pg_logical_emit_message(true, ...)) of this "
            + "part, each with the number of events that preceded it; only with messages=true.",
              javaType = "java.util.List<io.pgsource.pgoutput.protocol.TransactionPart.Message>")
    public static final String MESSAGES = "PgSourceLogicalMessages";

    @Metadata(description = "With applyInProgress, on each part of a streamed transaction handed over before its commit: "
            + "apply (its changes go into the destination transaction held open for it; part 0 opens it), commit (an empty "
            + "batch with the commit's position: commit it, unless the destination holds the transaction already) or "
            + "rollback. Absent on every other exchange.", javaType = "String")
    public static final String IN_PROGRESS = ChangeHeaders.TX_IN_PROGRESS;

    @Metadata(description = "With applyInProgress, on the commit of a transaction handed over in progress: the LSN of its "
            + "commit record (what its events would carry after the commit).", javaType = "Long")
    public static final String COMMIT_RECORD_LSN = ChangeHeaders.TX_COMMIT_RECORD_LSN;

    @Metadata(description = "With applyInProgress, on each part of a transaction handed over in progress: a holder in which "
            + "the route's destination step says what it did: APPLIED, COMMITTING, COMMITTED, HELD (it had the transaction "
            + "already: rolled back), DEMOTED (rolled back: the transaction is replayed after its commit) or ROLLED_BACK. "
            + "Anything else demotes the transaction.",
              javaType = "java.util.concurrent.atomic.AtomicReference<io.pgsource.change.InProgressOutcome>")
    public static final String IN_PROGRESS_OUTCOME = ChangeHeaders.IN_PROGRESS_OUTCOME;

    private PgOutputConstants() {
    }
}
