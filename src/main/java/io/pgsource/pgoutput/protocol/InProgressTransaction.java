package io.pgsource.pgoutput.protocol;

/**
 * A streamed transaction the {@link TransactionAssembler} hands over while it is still in progress (before its Stream
 * Commit), so a destination can apply it into a transaction of its own held open until the commit, as PostgreSQL's
 * own subscriber does with {@code streaming = parallel}. Shared by the reader, which decides, and the delivery thread,
 * which reports what the destination did.
 *
 * <p>Its parts ({@link TransactionPart#inProgress()}) say what the destination does: {@link Step#APPLY} the changes
 * into the open transaction (never committed, never acknowledged, never combined with other transactions),
 * {@link Step#COMMIT} it with the commit's position, or {@link Step#ROLLBACK} it. Whatever makes applying it before
 * its commit unsafe <em>demotes</em> it: the destination rolls back what it applied, and at the Stream Commit the
 * transaction is replayed from its spool file like any streamed transaction (which is written all along).
 */
public final class InProgressTransaction {
    /** What a part of an in-progress transaction asks of the destination. */
    public enum Step {
        /** Apply the part's changes into the transaction held open (the first part opens it). */
        APPLY,
        /** The Stream Commit came: commit the open transaction with the position (or roll it back when the destination holds it already). */
        COMMIT,
        /** Roll back the open transaction: it was aborted, or demoted. */
        ROLLBACK
    }

    private final long xid;
    private volatile boolean demoted;
    private volatile boolean committed;
    private volatile long commitRecordLsn;

    public InProgressTransaction(long xid) {
        this.xid = xid;
    }

    public long xid() {
        return xid;
    }

    /** Nothing of it is applied any more: at its commit it is replayed from the spool file. */
    public void demote() {
        synchronized (this) {
            demoted = true;
            notifyAll();
        }
    }

    public boolean demoted() {
        return demoted;
    }

    /** The destination committed it (or already held it): its position may be acknowledged. */
    public void committed() {
        synchronized (this) {
            committed = true;
            notifyAll();
        }
    }

    public boolean isCommitted() {
        return committed;
    }

    /** Whether the destination said what became of its commit: committed, or demoted. */
    public boolean resolved() {
        return committed || demoted;
    }

    /** Waits at most that long for {@link #resolved}. */
    public void awaitResolved(long millis) throws InterruptedException {
        synchronized (this) {
            if (!resolved()) {
                wait(millis);
            }
        }
    }

    /** The LSN of its commit record, known from its Stream Commit on (0 before). */
    public long commitRecordLsn() {
        return commitRecordLsn;
    }

    void commitRecordLsn(long lsn) {
        this.commitRecordLsn = lsn;
    }

    @Override
    public String toString() {
        return "in-progress transaction " + xid + (committed ? " (committed)" : demoted ? " (demoted)" : "");
    }
}
