package io.pgsource.app;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;

/**
 * What a running pgsource reports, as of one moment: taken every {@code sync.status_interval} by {@link StatusBoard},
 * the only writer, and read whole by every reader (the status page, its JSON, the {@code status} command through the
 * JSON), so no reader ever mixes two moments. Immutable; holds no secret (no password, no URL with parameters).
 *
 * @param at       when it was taken
 * @param started  when this pgsource started
 * @param state    {@code starting}, {@code copying}, {@code streaming}, {@code waiting} (log replication cannot deliver
 *                 right now: see {@code stream.problem}), {@code standby} (sync.ha: another instance streams),
 *                 {@code batch} (batch query), {@code finished}, {@code stopping} or {@code failed}
 * @param healthy  Camel's health checks all UP (what {@code /observe/health} says) and the run has not failed
 * @param down     the health checks that are DOWN, each with its message
 * @param source   what is captured, and where it goes
 * @param tables   per selected table: its copy, and what was applied since the start
 * @param stream   log replication's state; null for the batch query
 * @param history  the last samples of slot lag and apply rate, oldest first, one per {@code interval}
 * @param interval {@code sync.status_interval}
 * @param errors   the last errors, oldest first, each the one line pgsource logged, split into what is wrong and its fix
 */
public record StatusSnapshot(Instant at, Instant started, String state, boolean healthy, List<Check> down, Source source,
                             List<Table> tables, Stream stream, List<Sample> history, Duration interval, List<Error> errors) {

    /** How many samples the plot keeps (an hour at the default 10 s). */
    public static final int HISTORY = 360;
    /** How many errors are kept. */
    public static final int ERRORS = 10;

    public StatusSnapshot {
        down = List.copyOf(down);
        tables = List.copyOf(tables);
        history = List.copyOf(history);
        errors = List.copyOf(errors);
    }

    /** A health check that is DOWN. */
    public record Check(String id, String message) {
    }

    /**
     * @param method      LOG_BASED, FULL_TABLE or INCREMENTAL
     * @param database    {@code host:port/database} of the source
     * @param slot        the replication slot (LOG_BASED), else null
     * @param destination the destination's kind ({@code jsonl}, {@code postgres}, ...)
     */
    public record Source(String method, String database, String slot, String destination) {
    }

    /**
     * One selected table.
     *
     * @param copy          {@code copying}, {@code copied} (this run copied it) or {@code none} (not copied by this run)
     * @param rowsCopied    rows of the table's copy so far (or of its last copy)
     * @param estimatedRows {@code pg_class.reltuples} when the copy started; -1 when unknown (never analyzed, or no copy)
     * @param rowsPerSecond the copy's rate
     * @param etaSeconds    seconds the copy still needs by the estimate at its rate; null when unknown, 0 once copied
     * @param copySeconds   how long the copy has taken so far (or took)
     * @param applied       changes (log replication) or rows (batch query) the destination applied since the start
     */
    public record Table(String table, String copy, long rowsCopied, long estimatedRows, double rowsPerSecond, Double etaSeconds,
                        double copySeconds, long applied) {

        /** The copy's share of the estimate in percent (at most 100); null when there is no estimate. */
        public Double percent() {
            if (estimatedRows <= 0) {
                return "copied".equals(copy) ? 100.0 : null;
            }
            return "copied".equals(copy) ? 100.0 : Math.min(100.0, rowsCopied * 100.0 / estimatedRows);
        }
    }

    /**
     * Log replication.
     *
     * @param streaming          a replication session is open and reading
     * @param problem            why nothing is delivered right now, or null
     * @param lagBytes           WAL between the server's position and what the destination applied (last slot check); null
     *                           before the first check
     * @param walStatus          the slot's {@code wal_status}, or null
     * @param lastAppliedCommit  the source commit time of the last transaction the destination applied, or null
     * @param transactions       transactions applied since the start
     * @param changes            changes applied since the start
     * @param changesPerSecond   over the last interval
     * @param transactionsPerSecond over the last interval
     */
    public record Stream(String slot, boolean streaming, String problem, Long lagBytes, String walStatus,
                         OffsetDateTime lastAppliedCommit, long transactions, long changes, double changesPerSecond,
                         double transactionsPerSecond) {
    }

    /** One point of the plot: the slot lag (-1: unknown) and the apply rate over the interval before {@code at}. */
    public record Sample(Instant at, long lagBytes, double changesPerSecond, double transactionsPerSecond) {
    }

    /**
     * An error pgsource reported.
     *
     * @param message what is wrong
     * @param fix     what to do about it (the part of pgsource's line that says so), or null when the line names none
     */
    public record Error(Instant at, String message, String fix) {
    }

    /** Made at first use: an ObjectMapper costs start-up time a run that never reads or writes this JSON need not pay. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }

    /** The snapshot as {@code /observe/status.json} serves it. */
    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("at", at.toString());
        o.put("started", started.toString());
        o.put("uptimeSeconds", Duration.between(started, at).toSeconds());
        o.put("state", state);
        o.put("healthy", healthy);
        ArrayNode d = o.putArray("down");
        down.forEach(c -> d.addObject().put("id", c.id()).put("message", c.message()));
        ObjectNode s = o.putObject("source");
        s.put("method", source.method()).put("database", source.database()).put("slot", source.slot())
                .put("destination", source.destination());
        ArrayNode t = o.putArray("tables");
        for (Table table : tables) {
            ObjectNode n = t.addObject();
            n.put("table", table.table());
            n.put("copy", table.copy());
            n.put("rowsCopied", table.rowsCopied());
            if (table.estimatedRows() >= 0) {
                n.put("estimatedRows", table.estimatedRows());
            } else {
                n.putNull("estimatedRows");
            }
            number(n, "percent", table.percent());
            number(n, "rowsPerSecond", table.rowsPerSecond());
            number(n, "etaSeconds", table.etaSeconds());
            number(n, "copySeconds", table.copySeconds());
            n.put("applied", table.applied());
        }
        if (stream != null) {
            ObjectNode r = o.putObject("stream");
            r.put("slot", stream.slot());
            r.put("streaming", stream.streaming());
            r.put("problem", stream.problem());
            if (stream.lagBytes() != null) {
                r.put("lagBytes", stream.lagBytes());
            } else {
                r.putNull("lagBytes");
            }
            r.put("walStatus", stream.walStatus());
            r.put("lastAppliedCommit", stream.lastAppliedCommit() == null ? null : stream.lastAppliedCommit().toString());
            number(r, "lastAppliedCommitAgeSeconds", stream.lastAppliedCommit() == null ? null
                    : Math.max(0, Duration.between(stream.lastAppliedCommit().toInstant(), at).toMillis() / 1000.0));
            r.put("transactions", stream.transactions());
            r.put("changes", stream.changes());
            number(r, "changesPerSecond", stream.changesPerSecond());
            number(r, "transactionsPerSecond", stream.transactionsPerSecond());
        } else {
            o.putNull("stream");
        }
        o.put("intervalSeconds", interval.toMillis() / 1000.0);
        ArrayNode h = o.putArray("history");
        for (Sample sample : history) {
            ObjectNode n = h.addObject();
            n.put("at", sample.at().toString());
            if (sample.lagBytes() >= 0) {
                n.put("lagBytes", sample.lagBytes());
            } else {
                n.putNull("lagBytes");
            }
            number(n, "changesPerSecond", sample.changesPerSecond());
            number(n, "transactionsPerSecond", sample.transactionsPerSecond());
        }
        ArrayNode e = o.putArray("errors");
        errors.forEach(err -> e.addObject().put("at", err.at().toString()).put("message", err.message()).put("fix", err.fix()));
        return o;
    }

    /** JSON has no NaN nor infinity: those are null. */
    private static void number(ObjectNode o, String field, Double value) {
        if (value == null || value.isNaN() || value.isInfinite()) {
            o.putNull(field);
        } else {
            o.put(field, Math.round(value * 1000) / 1000.0);
        }
    }
}
