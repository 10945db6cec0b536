package io.pgsource.pgoutput;

/**
 * A message of the replication stream did not fit in the JVM's heap (pgjdbc reads each WAL message whole, so a row
 * with a value of hundreds of MB needs that much heap at once). Nothing was acknowledged past the last completed
 * transaction, so the slot keeps the transaction; the consumer stops reading, as every retry would fail the same way,
 * and reports this to its {@link org.apache.camel.spi.ExceptionHandler}. A restart with a larger heap continues.
 */
public final class WalMessageTooLargeException extends RuntimeException {

    WalMessageTooLargeException(String slot, String lastReceived, String acknowledged, OutOfMemoryError cause) {
        super("a message of replication slot " + slot + " after LSN " + lastReceived + " (a changed row, with all its values) does"
                + " not fit in this JVM's heap (maximum " + (Runtime.getRuntime().maxMemory() >> 20) + " MB): a value of that"
                + " transaction is too large. Nothing was acknowledged past LSN " + acknowledged + ": the slot keeps the"
                + " transaction and nothing is lost. Fix: start pgsource with a larger heap (java -Xmx..., at least 3 times the"
                + " largest value plus 200 MB) and it continues from the slot", cause);
    }
}
