package io.pgsource.pgoutput.protocol;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.Position;
import io.pgsource.pgoutput.protocol.PgOutputMessage.LogicalMessage;
import io.pgsource.pgoutput.protocol.PgOutputMessage.Origin;
import java.util.List;
import java.util.OptionalLong;

/**
 * One delivery of the {@link TransactionAssembler}: a whole committed transaction, or one part of a transaction
 * with more than {@code maxBatchSize} changes.
 *
 * <p>Parts of one transaction come in order (index 0, 1, …), all with the same {@code xid}, and nothing of another
 * transaction comes between them. Only the last part ({@code batch().last()}) may be acknowledged: its position's
 * {@code commitLsn} is the commit's end LSN, what the slot's flushed LSN and a destination's stored position may
 * advance to once everything of the transaction is applied. Earlier parts carry {@code Position.Log(commit record
 * LSN, xid, commit time)}, the same position every event of the transaction carries; it is below the end LSN, so even
 * a consumer that wrongly stored or acknowledged it would see the whole transaction again after a restart, never
 * lose it. {@link #acknowledgeLsn()} says which case applies.
 *
 * @param batch    the changes of this part, in source order
 * @param xid      the source transaction id
 * @param index    0 for the first part of the transaction
 * @param changesBefore how many changes of the transaction its earlier parts carried (0 for the first part): the
 *                 place of this part's first change in the transaction, whatever maxBatchSize cut the parts
 * @param streamed whether the server streamed the transaction before its commit (it was spooled here)
 * @param origin   the replication origin the transaction came from, or null
 * @param messages the transactional logical decoding messages ({@code pg_logical_emit_message(true, …)}) of this part
 * @param inProgress null, or for a part of a streamed transaction handed over before its commit
 *                   ({@link InProgressTransaction}) what the destination does with it. Such parts are provisional: their
 *                   events carry {@code Position.Log(a lower bound of the commit record LSN, xid, no commit time)}, they
 *                   are never acknowledged unless the destination committed the transaction at its {@code COMMIT} part,
 *                   and never combined with other transactions.
 */
public record TransactionPart(ChangeBatch batch, long xid, int index, long changesBefore, boolean streamed, Origin origin,
                              List<Message> messages, InProgress inProgress) {

    public TransactionPart {
        messages = List.copyOf(messages);
    }

    public TransactionPart(ChangeBatch batch, long xid, int index, long changesBefore, boolean streamed, Origin origin,
                           List<Message> messages) {
        this(batch, xid, index, changesBefore, streamed, origin, messages, null);
    }

    /**
     * What a part of a transaction handed over in progress asks of the destination, and the transaction.
     */
    public record InProgress(InProgressTransaction.Step step, InProgressTransaction transaction) {
    }

    /**
     * A logical decoding message and where it came among the part's events.
     *
     * @param eventIndex how many of the part's events came before it
     */
    public record Message(int eventIndex, LogicalMessage message) {
    }

    /** Whether this is the transaction's last part (the only one that may be acknowledged). */
    public boolean last() {
        return batch.last();
    }

    public Position.Log position() {
        return (Position.Log) batch.position();
    }

    /**
     * The LSN to acknowledge once this part and all earlier ones are applied; empty for every part but the last, and for
     * the last part of a transaction handed over in progress unless the destination committed it.
     */
    public OptionalLong acknowledgeLsn() {
        return last() && (inProgress == null || inProgress.transaction().isCommitted()) ? OptionalLong.of(position().commitLsn())
                : OptionalLong.empty();
    }

    /** The step a part of a transaction handed over in progress asks for; null for any other part. */
    public InProgressTransaction.Step inProgressStep() {
        return inProgress == null ? null : inProgress.step();
    }
}
