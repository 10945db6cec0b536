package io.pgsource.pgoutput;

/** The server or the slot is not set up for logical replication; the message says what to change. */
public class PrerequisiteException extends RuntimeException {
    public PrerequisiteException(String message) {
        super(message);
    }
}
