package io.pgsource.pgoutput;

import io.pgsource.pgoutput.protocol.TransactionPart;

/** The route did not complete the exchange of a transaction part: nothing of that transaction is acknowledged. */
final class RouteFailedException extends RuntimeException {
    private final transient TransactionPart part;

    RouteFailedException(TransactionPart part, Throwable cause) {
        super("the route failed on transaction " + part.xid() + " (commit LSN " + PgOutputEndpoint.lsn(part.position().commitLsn())
                + ", part " + part.index() + ")" + (cause == null ? "" : ": " + cause), cause);
        this.part = part;
    }

    /**
     * The destination could no longer say whether commits it made without waiting for durability are durable (its
     * connection was lost): they are not acknowledged.
     */
    RouteFailedException(Throwable cause) {
        super("the destination's commits that did not wait for its durability could not be confirmed durable: " + cause, cause);
        this.part = null;
    }

    /** The part the route failed on; null when the failure was confirming the destination's durability. */
    TransactionPart part() {
        return part;
    }
}
