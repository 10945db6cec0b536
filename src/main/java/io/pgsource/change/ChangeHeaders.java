package io.pgsource.change;

/** Exchange headers that carry a batch's source position. */
public final class ChangeHeaders {
    /** The batch-query stream ({@code schema.table}). */
    public static final String STREAM = "PgSourceStream";
    /** The serialized bookmark a batch-query page advances to. */
    public static final String BOOKMARK = "PgSourceBookmark";
    /** The commit LSN of the source transaction (log replication), as a {@code Long}. */
    public static final String COMMIT_LSN = "PgSourceCommitLsn";
    /** The source transaction id (log replication), as a {@code Long}. */
    public static final String TX_ID = "PgSourceTxId";
    /** The source commit time (log replication), as an {@code OffsetDateTime}. */
    public static final String COMMIT_TIME = "PgSourceCommitTime";

    /** The replication slot a log-replication batch came from; table destinations key the stored LSN by it. */
    public static final String SLOT = "PgSourceSlot";

    /** The 0-based index of this batch among the parts of one large source transaction, as an {@code Integer}. */
    public static final String TX_PART = "PgSourceTxPart";
    /**
     * How many changes of its source transaction came before this batch, in its earlier parts, as a {@code Long}: 0 for
     * the first (or only) part. With the batch's size it says which changes of the transaction a stored position
     * covers, whatever size the parts are cut to.
     */
    public static final String TX_CHANGES_BEFORE = "PgSourceTxChangesBefore";
    /** Whether this batch is the last part of its source transaction, as a {@code Boolean}. */
    public static final String TX_LAST = "PgSourceTxLast";
    /**
     * How many whole source transactions the exchange carries: 1, or more when the pgoutput: consumer combined the
     * transactions waiting in line ({@code combineTransactions}).
     */
    public static final String TX_COUNT = "PgSourceTxCount";

    /**
     * On a part of a source transaction handed over while still in progress (a large transaction the server streams
     * before its commit; only to destinations that apply such, {@code Destination#appliesInProgress}): what the destination
     * does with it, one of {@value #IN_PROGRESS_APPLY} (apply its changes into the destination transaction held open for
     * it; the first part, {@link #TX_PART} 0, opens it), {@value #IN_PROGRESS_COMMIT} (the source committed: commit it
     * with the batch's position, unless the destination holds the transaction already), {@value #IN_PROGRESS_ROLLBACK}.
     * Absent on every other batch.
     */
    public static final String TX_IN_PROGRESS = "PgSourceTxInProgress";
    public static final String IN_PROGRESS_APPLY = "apply";
    public static final String IN_PROGRESS_COMMIT = "commit";
    public static final String IN_PROGRESS_ROLLBACK = "rollback";
    /** On the commit of a transaction applied in progress: the LSN of its commit record, as a {@code Long}. */
    public static final String TX_COMMIT_RECORD_LSN = "PgSourceTxCommitRecordLsn";
    /**
     * The header, an {@code AtomicReference<InProgressOutcome>} set by the pgoutput: consumer on each part of a transaction
     * in progress, in which the destination step says what it did with the part ({@link InProgressOutcome}; a holder, so
     * copies of the exchange made on the way report to the same place).
     */
    public static final String IN_PROGRESS_OUTCOME = "PgSourceTxInProgressOutcome";

    /**
     * Tables that were copied while their changes streamed, each with the LSN it was copied at, as a
     * {@code Map<TableId, Long>}: a change of such a table committed before that LSN is in the copy, and is not applied
     * again. Only the tables of the batch that have one.
     */
    public static final String COPIED_AT = "PgSourceCopiedAt";

    /**
     * On the last page of a table's copy: the records its copy leaves (the columns the destination table holds, that the
     * table was copied at the slot's consistent point), as a {@code Map<String, String>} of stream to stored value. The
     * destination step stores them with the page's position: in the same transaction where the destination can
     * ({@link io.pgsource.sink.Destination#storesAlongside}), else right after the page. A copy of thousands of small
     * tables would otherwise spend a destination transaction per table on them.
     */
    public static final String COPY_RECORDS = "PgSourceCopyRecords";
    /** Exchange property set by the destination step once it stored the {@link #COPY_RECORDS} of the exchange. */
    public static final String COPY_RECORDS_STORED = "PgSourceCopyRecordsStored";

    /**
     * Exchange property set by a source that acknowledges a commit only once the destination says it is durable, as a
     * {@code Boolean}: the destination may then commit without waiting for its durability and hand back a
     * {@link PendingDurability} in {@link #PENDING_DURABILITY}.
     */
    public static final String DURABILITY_MAY_WAIT = "PgSourceDurabilityMayWait";
    /** Exchange property: the {@link PendingDurability} of the destination's commit of this exchange; absent: durable. */
    public static final String PENDING_DURABILITY = "PgSourcePendingDurability";

    private ChangeHeaders() {
    }
}
