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

    private PgOutputConstants() {
    }
}
