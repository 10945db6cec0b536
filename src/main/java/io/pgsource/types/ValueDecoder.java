package io.pgsource.types;

/** Turns PostgreSQL's text output of one type into its canonical Java value. Never receives null. */
@FunctionalInterface
public interface ValueDecoder {
    Object decode(String text);
}
