package io.pgsource.change;

/**
 * A destination commit that did not wait for the destination's durability (PostgreSQL: {@code synchronous_commit = off}),
 * as a destination hands it back on the exchange ({@link ChangeHeaders#PENDING_DURABILITY}) when the exchange allows it
 * ({@link ChangeHeaders#DURABILITY_MAY_WAIT}). The source is told about that commit (a replication slot acknowledged up
 * to it) only once {@link #durable} is true: a destination that crashes before can lose the commit and its stored
 * position together, and the source, not told, sends it again. Called on the thread that runs the route.
 */
public interface PendingDurability {
    /**
     * Whether the commit is durable now; may ask the destination (not more often than now and then).
     *
     * @throws Exception when it can no longer be known: the connection the commit was made on was lost, so the commit may
     *                   be lost too (the caller must not acknowledge it, and streams again from what it acknowledged)
     */
    boolean durable() throws Exception;

    /** Makes the commit durable now (and every commit of the destination before it), waiting for the destination's flush. */
    void makeDurable() throws Exception;
}
