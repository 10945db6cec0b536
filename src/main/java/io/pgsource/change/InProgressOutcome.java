package io.pgsource.change;

/**
 * What the destination step did with a part of a source transaction handed over in progress, told back to the
 * {@code pgoutput:} consumer in the holder of {@link ChangeHeaders#IN_PROGRESS_OUTCOME}: only a committed or held commit
 * lets the consumer acknowledge the transaction; anything else (no answer included) demotes it.
 */
public enum InProgressOutcome {
    /** The part's changes are in the destination transaction held open. */
    APPLIED("applied"),
    /** The commit is under way: a failure from here on leaves unknown whether it committed. */
    COMMITTING("committing"),
    /** Committed with its position. */
    COMMITTED("committed"),
    /** The destination held the transaction already (a replay after a restart): rolled back. */
    HELD("held"),
    /** Rolled back: the transaction must come again after its commit. */
    DEMOTED("demoted"),
    /** Rolled back as asked. */
    ROLLED_BACK("rolled back");

    private final String word;

    InProgressOutcome(String word) {
        this.word = word;
    }

    /** As the log and the documentation say it. */
    @Override
    public String toString() {
        return word;
    }
}
