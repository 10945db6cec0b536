/**
 * The pgoutput wire protocol, with no Camel in it: {@link io.pgsource.pgoutput.protocol.PgOutputDecoder} turns one
 * message (the XLogData payload pgjdbc's {@code PGReplicationStream} returns, or one row of
 * {@code pg_logical_slot_get_binary_changes}) into a {@link io.pgsource.pgoutput.protocol.PgOutputMessage};
 * {@link io.pgsource.pgoutput.protocol.RelationCache} keeps the table shapes the Relation messages announce;
 * {@link io.pgsource.pgoutput.protocol.TransactionAssembler} turns the message stream into committed transactions,
 * as {@link io.pgsource.pgoutput.protocol.TransactionPart}s that carry a {@code change.ChangeBatch}.
 *
 * <h2>What to acknowledge</h2>
 * Only a part whose {@code last()} is true may be acknowledged, and only once it and every earlier part are applied:
 * {@link io.pgsource.pgoutput.protocol.TransactionPart#acknowledgeLsn()} gives the commit's end LSN for it and nothing
 * for earlier parts. Events carry the commit record's LSN (known from Begin, before the commit arrives), which is
 * below the end LSN: stored or acknowledged by mistake, it makes the server send the transaction again rather than
 * skip it.
 *
 * <h2>Memory</h2>
 * A part holds at most {@code maxBatchSize} events; a streamed transaction is spooled to a temp file until it commits.
 * Neither a huge transaction nor many interleaved streamed ones sit in memory.
 */
package io.pgsource.pgoutput.protocol;
