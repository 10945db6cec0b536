package io.pgsource.sink.reject;

import io.pgsource.config.PermanentFailure;
import java.sql.SQLException;

/**
 * The destination refused a change and no dead-letter endpoint is configured: the batch was rolled back, nothing was
 * acknowledged past it, and the sync stops. The message names the table, the key, the source position, the database's
 * message and the fix.
 */
public final class RejectedChangeException extends SQLException implements PermanentFailure {
    private final transient RejectedChange rejected;

    public RejectedChangeException(RejectedChange rejected, SQLException cause) {
        super("the destination " + rejected.destination() + " rejected the change of " + rejected.describe() + ": "
                + rejected.message() + " (SQLSTATE " + rejected.sqlState() + "). The batch was rolled back and nothing after the"
                + " last committed position was acknowledged. Fix: make the destination accept it (widen the column, relax"
                + " or drop the constraint, fix the trigger) and start again, or set destination.dead_letter_uri (for example"
                + " file:dead-letter) to send rejected changes there and apply the rest", rejected.sqlState(), cause);
        this.rejected = rejected;
    }

    public RejectedChange rejected() {
        return rejected;
    }
}
