package io.pgsource.pgoutput.protocol;

import io.pgsource.change.TableId;

/**
 * A Relation message names a column whose type the stream must not carry in binary form (no exact binary decoder
 * downstream): the stream has to be read in text mode instead, from the last acknowledged position.
 */
public final class UnsupportedColumnTypeException extends RuntimeException {
    public UnsupportedColumnTypeException(TableId table, String column, String typeName) {
        super(table.quoted() + "." + TableId.quoteIdent(column) + " is of type " + typeName + ", which has no exact binary decoder");
    }
}
