package io.pgsource.state;

import io.pgsource.change.TableSchema;

/**
 * A destination that keeps {@link HeldColumns}: says, before a batch reaches it, whether it can follow a new shape of a
 * table itself or needs a copy of the table first (it would refuse the batch with a {@link CopyNeededException}).
 */
@FunctionalInterface
public interface ShapeCheck {
    /** Why the destination needs a copy of the table before it takes rows of this shape; null when it needs none. */
    String copyReason(TableSchema shape) throws Exception;
}
