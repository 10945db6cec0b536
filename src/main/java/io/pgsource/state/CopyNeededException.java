package io.pgsource.state;

import io.pgsource.change.TableId;

/**
 * A destination cannot apply a batch exactly because only a copy of one table gives the rows it holds what the source
 * shows ({@link HeldColumns#plan}): nothing of the batch was applied. Whoever feeds the destination copies the table
 * and sends the batch again, without the table's changes the copy holds.
 */
public final class CopyNeededException extends RuntimeException {
    private final TableId table;

    public CopyNeededException(TableId table, String reason) {
        super(reason + ": the destination needs a copy of " + table.quoted());
        this.table = table;
    }

    public TableId table() {
        return table;
    }
}
