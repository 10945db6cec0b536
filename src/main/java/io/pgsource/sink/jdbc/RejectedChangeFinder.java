package io.pgsource.sink.jdbc;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.sink.plan.WritePlanner;
import io.pgsource.sink.reject.DestinationErrors;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the changes of a batch the destination refuses (see {@link DestinationErrors#rejectsChange}), inside the open
 * transaction: applies the batch under a savepoint and, when refused, each half under its own savepoint, down to
 * single changes, in source order. Every accepted change stays applied; a refused one is rolled back to its savepoint.
 * A batch with one bad change among n costs about 2·log2(n) statements more than applying it, and runs only after
 * the batch as a whole was refused.
 *
 * <p>It writes with {@code INSERT ... VALUES}: the COPY writer keeps session state (staging tables created in the
 * transaction) that rolling back to a savepoint would silently undo.
 */
final class RejectedChangeFinder {

    /** A refused change and the database's reason. */
    record Refusal(ChangeEvent change, SQLException error) {
    }

    private final PlanWriter writer;

    RejectedChangeFinder(PlanWriter writer) {
        this.writer = writer;
    }

    /**
     * Applies every change of the batch the destination accepts and returns the refused ones, stopping after
     * {@code limit} of them (the rest of the batch is then not applied). Failures of other kinds are thrown.
     */
    List<Refusal> apply(Connection c, ChangeBatch batch, int limit) throws SQLException {
        // the tables first, outside any savepoint: a table created under a savepoint later rolled back would be missing
        writer.ensureTables(c, WritePlanner.plan(batch));
        List<Refusal> refused = new ArrayList<>();
        writer.upsertsOnly(true);
        try {
            bisect(c, batch, batch, refused, limit);
        } finally {
            writer.upsertsOnly(false);
        }
        return refused;
    }

    private void bisect(Connection c, ChangeBatch whole, List<ChangeEvent> events, List<Refusal> refused, int limit) throws SQLException {
        if (events.isEmpty() || refused.size() >= limit) {
            return;
        }
        Savepoint savepoint = c.setSavepoint();
        try {
            writer.apply(c, WritePlanner.plan(new ChangeBatch(events, whole.position(), whole.last())));
            c.releaseSavepoint(savepoint);
        } catch (SQLException e) {
            c.rollback(savepoint);
            if (!DestinationErrors.rejectsChange(e)) {
                throw e;
            }
            if (events.size() == 1) {
                refused.add(new Refusal(events.get(0), e));
                return;
            }
            int middle = events.size() / 2;
            bisect(c, whole, events.subList(0, middle), refused, limit);
            bisect(c, whole, events.subList(middle, events.size()), refused, limit);
        }
    }
}
