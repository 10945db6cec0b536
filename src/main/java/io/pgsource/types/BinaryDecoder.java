package io.pgsource.types;

/**
 * Turns one value in PostgreSQL's binary form (the type's {@code send} function output, as pgoutput sends it with
 * {@code binary=true}) into the same canonical Java value the type's {@link ValueDecoder} makes of its text output.
 * Never receives null.
 *
 * @throws UnsupportedBinaryTypeException (at decode time) for a type with no exact binary decoder
 */
@FunctionalInterface
public interface BinaryDecoder {
    Object decode(byte[] bytes);
}
