package io.pgsource.pgoutput.protocol;

/** The pgoutput stream is not what the protocol allows (or what this reader supports). */
public class PgOutputException extends RuntimeException {
    public PgOutputException(String message) {
        super(message);
    }

    public PgOutputException(String message, Throwable cause) {
        super(message, cause);
    }
}
