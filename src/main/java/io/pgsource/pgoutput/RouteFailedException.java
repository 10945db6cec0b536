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

    TransactionPart part() {
        return part;
    }
}
