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
}
