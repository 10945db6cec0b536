package io.pgsource.pgoutput;

/**
 * Receives the snapshot a newly created slot exported, before the consumer starts streaming from it (option
 * {@code snapshotHandler}, with {@code createSlot=true}).
 *
 * <p>Read the tables in a transaction that imports the snapshot, on an ordinary connection to the same database:
 * <pre>
 * BEGIN ISOLATION LEVEL REPEATABLE READ;
 * SET TRANSACTION SNAPSHOT '&lt;snapshotName&gt;';
 * SELECT ... ;  -- exactly the rows committed before the slot's consistent point
 * COMMIT;
 * </pre>
 * Every transaction committed after the consistent point arrives through the stream; nothing is in both. The snapshot
 * lives only while this method runs (the replication connection that exported it waits for it to return), so import
 * it before returning. If it throws, the consumer drops the new slot and tries everything again later.
 */
@FunctionalInterface
public interface InitialSnapshotHandler {

    void initialSnapshot(SlotCreated slot) throws Exception;

    /**
     * Whether the new slot must export its snapshot. When not, {@link #initialSnapshot} gets a slot without one
     * ({@link SlotCreated#snapshotName()} null): the handler copies otherwise (e.g. in chunks while streaming). The
     * default: it must.
     */
    default boolean exportSnapshot() throws Exception {
        return true;
    }

    /**
     * With {@code snapshotExistingSlot=true}: asked when the consumer first starts and finds its slot existing, whether
     * the rows committed before the slot's position must be copied (the destination holds no complete copy of them).
     * Not asked again after the consumer streamed. The default: never.
     *
     * @param slot the slot the consumer streams
     */
    default boolean snapshotNeeded(String slot) throws Exception {
        return false;
    }

    /**
     * The copy {@link #snapshotNeeded} asked for: read inside the exported snapshot of a temporary slot, valid while this
     * method runs; the temporary slot is dropped after it. The consumer then streams from {@code slot}'s own position,
     * so the transactions committed up to the temporary slot's consistent point, which the copy holds, arrive again:
     * leave those out. If it throws, the consumer tries again later (asking {@link #snapshotNeeded} again). The default
     * hands the snapshot to {@link #initialSnapshot}.
     *
     * @param slot      the slot the consumer streams afterwards
     * @param temporary the temporary slot, its snapshot and consistent point
     */
    default void existingSlotSnapshot(String slot, SlotCreated temporary) throws Exception {
        initialSnapshot(temporary);
    }
}
