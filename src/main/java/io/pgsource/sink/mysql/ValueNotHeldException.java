package io.pgsource.sink.mysql;

import io.pgsource.config.PermanentFailure;

/**
 * A source value the destination column's MySQL type cannot hold (a BC date in a DATE column, NaN in a DOUBLE): the
 * batch stops instead of storing a different value. The message names the column, the value and the fix; retrying
 * cannot help, so pgsource stops with it ({@link PermanentFailure}).
 */
public final class ValueNotHeldException extends IllegalArgumentException implements PermanentFailure {
    ValueNotHeldException(String table, String column, String value, String type) {
        super("column " + table + "." + MySqlTypes.quote(column) + " received the value " + value + ", which " + type + " cannot hold in MySQL/MariaDB;"
                + " pgsource does not store a different value. Fix: make that destination column a text column (ALTER TABLE "
                + table + " MODIFY " + MySqlTypes.quote(column) + " VARCHAR(64)): pgsource writes PostgreSQL's text form of every value into text columns");
    }
}
