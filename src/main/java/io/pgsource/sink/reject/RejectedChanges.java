package io.pgsource.sink.reject;

import java.util.List;

/**
 * Where a destination hands the changes it refused when they are not to stop the sync ({@code destination.dead_letter_uri}).
 * Called before the rest of the batch and its position are committed: when it returns, the rejected changes are durably
 * somewhere else; when it throws, the batch is rolled back and nothing is acknowledged.
 */
public interface RejectedChanges {

    /** Takes the refused changes of one batch, in source order. */
    void accept(List<RejectedChange> rejected) throws Exception;

    /** For log lines: where the changes go (an endpoint URI without secrets). */
    String describe();
}
