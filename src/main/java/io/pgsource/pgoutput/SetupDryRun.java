package io.pgsource.pgoutput;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The checks a consumer runs before it first streams ({@code wal_level}, the role's REPLICATION, the slot, the
 * publications), run so that nothing stays: the publications a start would create or extend are created inside a
 * transaction that is then rolled back (PostgreSQL's publication DDL is transactional), so a missing privilege shows as
 * it would at start, with its fix, and the slot, which is not transactional, is only checked (its name free, a slot
 * entry left). For {@code pgsource check}.
 */
public final class SetupDryRun {

    /**
     * @param slotExists whether the slot exists (else a start creates it and copies every table)
     * @param wouldRun   the statements a start would run on the source (CREATE or ALTER PUBLICATION)
     */
    public record Result(boolean slotExists, List<String> wouldRun) {
    }

    private SetupDryRun() {
    }

    /**
     * @param c an ordinary connection to the source, in autocommit mode (as it was when this returns)
     * @throws PrerequisiteException what a start would stop with, and its fix
     */
    public static Result run(PgOutputConfiguration options, Connection c) throws SQLException {
        List<String> statements = new ArrayList<>();
        c.setAutoCommit(false);
        try {
            Prerequisites.Outcome outcome = new Prerequisites(options, statements).check(c);
            return new Result(outcome.slotExists(), List.copyOf(statements));
        } finally {
            c.rollback();
            c.setAutoCommit(true);
        }
    }
}
