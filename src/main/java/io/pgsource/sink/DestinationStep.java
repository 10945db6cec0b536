package io.pgsource.sink;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.InProgressOutcome;
import io.pgsource.change.Position;
import io.pgsource.change.TableId;
import io.pgsource.state.Positions;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The step every destination route calls (bean {@value #BEAN_NAME}): the one place where what a destination already
 * holds is left out and where the position is stored.
 *
 * <ol>
 * <li>The stored position of the batch's stream is read ({@link io.pgsource.state.PositionStore#current}); what it
 * covers is cut: a whole batch the destination holds (the slot resent it after a restart) is skipped without calling
 * the destination, the leading changes of a transaction applied in part are cut ({@link Positions#appliedChanges}),
 * as are combined transactions applied before ({@link Positions#withoutApplied}) and changes that a copy of their table
 * holds ({@link Positions#withoutCopied}).</li>
 * <li>The position the batch advances to is computed ({@link Positions#value(Position, boolean, Long)}:
 * a part of a big transaction counts the changes applied so far).</li>
 * <li>{@link Destination#write} makes the rest durable; a transactional destination stores the position with it.</li>
 * <li>Otherwise the position is stored now, after the data is durable (at-least-once: a crash in between repeats at most
 * this batch).</li>
 * </ol>
 * An exception anywhere goes back to the route: nothing is stored, nothing acknowledged.
 */
public final class DestinationStep extends ServiceSupport implements Processor {
    /** The bean name destination routes refer to. */
    public static final String BEAN_NAME = "destination";
    private static final Logger LOG = LoggerFactory.getLogger(DestinationStep.class);

    private final Destination destination;
    /** The source transaction whose parts the destination holds open ({@link #inProgress}), and its next part; -1: none. */
    private long openXid = -1;
    private int nextPart;

    public DestinationStep(Destination destination) {
        this.destination = destination;
    }

    public Destination destination() {
        return destination;
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        ChangeBatch batch = exchange.getIn().getMandatoryBody(ChangeBatch.class);
        String inProgress = exchange.getIn().getHeader(ChangeHeaders.TX_IN_PROGRESS, String.class);
        if (inProgress != null) {
            inProgress(exchange, batch, inProgress);
            return;
        }
        if (!destination.transactional() && exchange.getIn().getHeader(ChangeHeaders.TX_COUNT, 1, Integer.class) > 1) {
            // every event names its transaction's position: combined transactions would all carry the last one's
            throw new IllegalStateException("the " + destination.name() + " destination takes one transaction per exchange: remove"
                    + " combineTransactions (or set it to false) on the pgoutput: endpoint of this route");
        }
        Long changesBefore = exchange.getIn().getHeader(ChangeHeaders.TX_CHANGES_BEFORE, Long.class);
        @SuppressWarnings("unchecked")
        Map<String, String> found = exchange.getIn().getHeader(ChangeHeaders.COPY_RECORDS, Map.class);
        Map<String, String> records = found == null ? Map.of() : found;
        StoredPosition position = null;
        if (batch.position() != null) {
            String stream = Positions.stream(batch.position(), exchange);
            Long changesThrough = changesBefore == null ? null : changesBefore + batch.size();
            position = new StoredPosition(stream, Positions.value(batch.position(), batch.last(), changesThrough));
            String stored = destination.positions().current(stream).orElse(null);
            if (Positions.alreadyApplied(batch, changesBefore, stored)) {
                // the slot resent what this destination already holds (a restart after a crash): skip it
                LOG.debug("skipping the batch at {}: {} already holds {}", batch.position(), stream, stored);
                storeRecords(exchange, records, false);
                return;
            }
            int applied = Positions.appliedChanges(batch, changesBefore, stored);
            if (applied > 0 && changesBefore != null) {
                // the batch the destination gets starts that many changes later in its transaction
                exchange.getIn().setHeader(ChangeHeaders.TX_CHANGES_BEFORE, changesBefore + applied);
            }
            ChangeBatch rest = applied == 0 ? batch
                    : new ChangeBatch(batch.subList(applied, batch.size()), batch.position(), batch.last(), batch.tables());
            rest = Positions.withoutApplied(rest, stored);
            @SuppressWarnings("unchecked")
            Map<TableId, Long> copiedAt = exchange.getIn().getHeader(ChangeHeaders.COPIED_AT, Map.class);
            rest = Positions.withoutCopied(rest, copiedAt);
            if (rest != batch) {
                // the first changes of a transaction applied before a restart, combined transactions applied before, or
                // changes a later copy of their table holds
                LOG.debug("leaving out {} change(s) {} or a copy already holds", batch.size() - rest.size(), stream);
                batch = rest;
            }
        }
        boolean alongside = !records.isEmpty() && position != null && destination.storesAlongside();
        if (alongside) {
            position = new StoredPosition(position.stream(), position.value(), records);
        }
        destination.write(exchange, batch, position);
        if (position != null && !destination.transactional()) {
            position.save(destination.positions());
        }
        storeRecords(exchange, records, alongside);
    }

    /**
     * The records a table's copy leaves ({@link ChangeHeaders#COPY_RECORDS}): stored after the page unless the destination
     * stored them with it ({@code withPage}); either way the exchange then says they are.
     */
    private void storeRecords(Exchange exchange, Map<String, String> records, boolean withPage) {
        if (records.isEmpty()) {
            return;
        }
        if (!withPage) {
            destination.positions().saveAllAfterData(records);
        }
        exchange.setProperty(ChangeHeaders.COPY_RECORDS_STORED, Boolean.TRUE);
    }

    /**
     * A part of a source transaction handed over while in progress ({@link ChangeHeaders#TX_IN_PROGRESS}): its changes go
     * into the destination transaction held open for it, whose commit decides what the destination holds already (its
     * commit position is known only then); what it did goes back in {@link ChangeHeaders#IN_PROGRESS_OUTCOME}. A
     * destination that does not apply such parts, or a part it cannot apply, demotes the transaction: it is rolled back,
     * and the transaction comes again after its commit.
     *
     * <p>Which source transaction is open and which part must come next is kept here, for every destination: a part that
     * does not follow the one before (one was lost, or the destination rolled back meanwhile) must never be applied
     * onto what is open.
     */
    private synchronized void inProgress(Exchange exchange, ChangeBatch batch, String step) throws Exception {
        long xid = exchange.getIn().getHeader(ChangeHeaders.TX_ID, 0L, Long.class);
        int index = exchange.getIn().getHeader(ChangeHeaders.TX_PART, 0, Integer.class);
        if (!destination.appliesInProgress()) {
            outcome(exchange, ChangeHeaders.IN_PROGRESS_ROLLBACK.equals(step) ? InProgressOutcome.ROLLED_BACK : InProgressOutcome.DEMOTED);
            return;
        }
        switch (step) {
            case ChangeHeaders.IN_PROGRESS_APPLY -> {
                if (index > 0 && !follows(xid, index)) {
                    rollbackInProgress();
                    outcome(exchange, InProgressOutcome.DEMOTED);
                    return;
                }
                @SuppressWarnings("unchecked")
                Map<TableId, Long> copiedAt = exchange.getIn().getHeader(ChangeHeaders.COPIED_AT, Map.class);
                if (Positions.withoutCopied(batch, copiedAt) != batch) {
                    // a table of it was copied at an LSN its commit may be below or above: known only at its commit
                    LOG.debug("transaction {} touches a table copied while streaming: applied after its commit", xid);
                    rollbackInProgress();
                    outcome(exchange, InProgressOutcome.DEMOTED);
                    return;
                }
                boolean applied;
                try {
                    applied = destination.writeInProgress(exchange, batch, index == 0);
                } catch (Exception e) {
                    // rolled back: applied after its commit, where a failure is handled as for any transaction
                    LOG.debug("transaction {} could not be applied while in progress, it is after its commit: {}", xid, e.getMessage());
                    applied = false;
                }
                if (applied) {
                    openXid = xid;
                    nextPart = index + 1;
                } else {
                    rollbackInProgress();
                }
                outcome(exchange, applied ? InProgressOutcome.APPLIED : InProgressOutcome.DEMOTED);
            }
            case ChangeHeaders.IN_PROGRESS_COMMIT -> {
                String stream = Positions.stream(batch.position(), exchange);
                long record = exchange.getIn().getHeader(ChangeHeaders.TX_COMMIT_RECORD_LSN, 0L, Long.class);
                long end = ((Position.Log) batch.position()).commitLsn();
                String stored = destination.currentInProgress(stream).orElse(null);
                switch (Positions.held(record, end, stored)) {
                    case ALL -> {
                        // the slot resent what this destination already holds (a restart after a crash)
                        LOG.debug("rolling back transaction {} applied in progress: {} already holds {}", xid, stream, stored);
                        rollbackInProgress();
                        outcome(exchange, InProgressOutcome.HELD);
                    }
                    case PART -> {
                        // its first changes were applied before a restart: applied after its commit, without them
                        rollbackInProgress();
                        outcome(exchange, InProgressOutcome.DEMOTED);
                    }
                    case NONE -> {
                        if (!follows(xid, index)) {
                            rollbackInProgress();
                            outcome(exchange, InProgressOutcome.DEMOTED);
                            return;
                        }
                        openXid = -1;
                        outcome(exchange, InProgressOutcome.COMMITTING);
                        boolean committed = destination.commitInProgress(exchange,
                                new StoredPosition(stream, Positions.value(batch.position())));
                        outcome(exchange, committed ? InProgressOutcome.COMMITTED : InProgressOutcome.DEMOTED);
                    }
                }
            }
            case ChangeHeaders.IN_PROGRESS_ROLLBACK -> {
                rollbackInProgress();
                outcome(exchange, InProgressOutcome.ROLLED_BACK);
            }
            default -> throw new IllegalArgumentException(ChangeHeaders.TX_IN_PROGRESS + " is '" + step + "'");
        }
    }

    /** Whether part {@code index} of source transaction {@code xid} is the one the open destination transaction needs next. */
    private boolean follows(long xid, int index) {
        return xid == openXid && index == nextPart;
    }

    private void rollbackInProgress() throws Exception {
        openXid = -1;
        destination.rollbackInProgress();
    }

    private static void outcome(Exchange exchange, InProgressOutcome outcome) {
        @SuppressWarnings("unchecked")
        AtomicReference<InProgressOutcome> holder = exchange.getIn().getHeader(ChangeHeaders.IN_PROGRESS_OUTCOME, AtomicReference.class);
        if (holder != null) {
            holder.set(outcome);
        }
    }

    @Override
    protected void doStop() throws Exception {
        destination.close();
    }
}
