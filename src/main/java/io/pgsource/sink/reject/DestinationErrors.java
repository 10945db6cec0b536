package io.pgsource.sink.reject;

import io.pgsource.config.PermanentFailure;
import java.sql.SQLException;

/**
 * Sorts destination failures into what retrying fixes and what it never will, by SQLSTATE.
 * <ul>
 * <li><b>a rejected change</b> ({@link #rejectsChange}): the data of one change is refused: class 22 (data exception:
 * value too long, out of range, invalid text), 23 (integrity constraint: NOT NULL, CHECK, unique, foreign key), 44
 * (WITH CHECK OPTION) and P0 (a trigger raised an error). Such a change can be routed to a dead-letter endpoint.</li>
 * <li><b>permanent</b> ({@link #permanent}): the rejected changes, plus class 42 (missing table or column, privilege,
 * syntax), 0A (feature not supported), 2B/2F/38/39 (dependent objects, routine errors) and an incompatible schema
 * change: a person must fix something, so pgsource stops instead of retrying forever.</li>
 * <li>everything else is <b>transient</b> and retried: class 08 (connection), 40 (serialization failure, deadlock),
 * 53 (insufficient resources), 57 (operator intervention: shutdown, query canceled), 58 (I/O), and failures without
 * SQLSTATE (a dropped socket, a full disk).</li>
 * </ul>
 */
public final class DestinationErrors {
    private DestinationErrors() {
    }

    /** True when the failure refuses the data of a change: retrying the same change fails the same way. */
    public static boolean rejectsChange(Throwable failure) {
        String state = sqlState(failure);
        return state != null && rejectsChange(state);
    }

    static boolean rejectsChange(String state) {
        return state.startsWith("22") || state.startsWith("23") || state.startsWith("44") || state.startsWith("P0");
    }

    /** True when retrying cannot help: a person has to fix the destination, the data or the configuration. */
    public static boolean permanent(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof PermanentFailure) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        String state = sqlState(failure);
        if (state == null) {
            return false;
        }
        return rejectsChange(state) || state.startsWith("42") || state.startsWith("0A") || state.startsWith("2B")
                || state.startsWith("2F") || state.startsWith("38") || state.startsWith("39");
    }

    /** The first SQLSTATE in the cause chain, or null. */
    public static String sqlState(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null) {
                return s.getSQLState();
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }
}
