package io.pgsource.catalog;

/** The source catalog does not match the configuration; the message says what to change. */
public class CatalogException extends RuntimeException {

    public CatalogException(String message) {
        super(message);
    }

    public CatalogException(String message, Throwable cause) {
        super(message, cause);
    }
}
