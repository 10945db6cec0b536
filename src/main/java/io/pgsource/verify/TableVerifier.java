package io.pgsource.verify;

import java.math.BigDecimal;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * Compares one table at the source with its destination table by key ranges, checksums computed on each server: a
 * range whose count and checksum are equal on both sides is done without a row read out; one that differs is cut into
 * {@value #PARTS} ranges at split points the larger side gives, down to ranges of at most {@value #LEAF} rows, whose
 * keys and row hashes both sides list so the differing keys are found.
 *
 * <p>While pgsource streams, a key found different may just be a change on its way: each differing key is checked again
 * ({@link CatchUp}) after the destination applied what the source had committed when the source's row was read, and is
 * reported only if it still differs after {@value #ROUNDS} such checks.
 */
final class TableVerifier {
    static final int PARTS = 16;
    static final int LEAF = 256;
    static final int ROUNDS = 3;
    private static final int KEYS_PER_QUERY = 200;

    /** How a key differs. */
    enum Kind {
        CHANGED("changed"), MISSING("missing at the destination"), EXTRA("not at the source");

        final String text;

        Kind(String text) {
            this.text = text;
        }
    }

    /** A key that differs, by its columns' canonical texts. */
    record KeyDiff(List<String> key, Kind kind) {
    }

    /** What a comparison found: the source's rows, the differing keys (at most the cap), whether more differ. */
    record Result(long sourceRows, long destinationRows, List<KeyDiff> differing, boolean capped) {
        boolean equal() {
            return differing.isEmpty() && !capped;
        }
    }

    /** Waits until the destination applied what the source committed up to an LSN; false when it did not in time. */
    interface CatchUp {
        /** The source's current WAL position, or null when nothing streams (batch methods: no waiting). */
        String position() throws SQLException;

        boolean await(String lsn) throws SQLException;
    }

    private record Sum(long n, String h) {
    }

    private final Queries queries;
    private final Dialect source;
    private final Dialect.Table sourceTable;
    private final Dialect destination;
    private final Dialect.Table destinationTable;
    private final int cap;
    private final Map<List<String>, Kind> found = new LinkedHashMap<>();
    private final Executor sourceThread;
    private boolean capped;

    /** @param sourceThread runs the source's queries while the destination's run */
    TableVerifier(Queries queries, Dialect source, Dialect.Table sourceTable, Dialect destination, Dialect.Table destinationTable, int cap,
            Executor sourceThread) {
        this.sourceThread = sourceThread;
        this.queries = queries;
        this.source = source;
        this.sourceTable = sourceTable;
        this.destination = destination;
        this.destinationTable = destinationTable;
        this.cap = cap;
    }

    /** Compares the table; a keyless one by the count and checksum of all its rows only. */
    Result compare(CatchUp catchUp) throws SQLException {
        String lsn = catchUp.position();
        if (lsn != null) {
            catchUp.await(lsn); // what was committed before the start is at the destination (or late: checked again below)
        }
        Sum[] sums = sums(null, null);
        Sum s = sums[0];
        Sum d = sums[1];
        if (sourceTable.key().isEmpty()) {
            for (int round = 1; !s.equals(d) && round < ROUNDS && lsn != null; round++) {
                lsn = catchUp.position();
                s = sum(Queries.SOURCE, source, sourceTable, null, null);
                catchUp.await(lsn);
                d = sum(Queries.DESTINATION, destination, destinationTable, null, null);
            }
            return new Result(s.n, d.n, List.of(), !s.equals(d));
        }
        range(null, null, s, d);
        List<List<String>> keys = new ArrayList<>(found.keySet());
        for (int round = 1; round <= ROUNDS && !keys.isEmpty() && lsn != null; round++) {
            keys = recheck(keys, catchUp);
        }
        List<KeyDiff> out = new ArrayList<>();
        for (List<String> k : keys) {
            out.add(new KeyDiff(k, found.get(k)));
        }
        if (lsn != null && !keys.isEmpty()) {
            sums = sums(null, null);
            s = sums[0];
            d = sums[1];
        }
        return new Result(s.n, d.n, out, capped);
    }

    /** Finds the differing keys of a range (lo, hi] whose checksums are known. */
    private void range(List<String> lo, List<String> hi, Sum s, Sum d) throws SQLException {
        if (s.equals(d) || capped) {
            return;
        }
        if (Math.max(s.n, d.n) <= LEAF) {
            leaf(lo, hi);
            return;
        }
        boolean fromSource = s.n >= d.n;
        List<List<String>> bounds = bounds(fromSource ? Queries.SOURCE : Queries.DESTINATION, fromSource ? source : destination,
                fromSource ? sourceTable : destinationTable, lo, hi, Math.max(s.n, d.n));
        List<String> from = lo;
        for (int i = 0; i <= bounds.size(); i++) {
            List<String> to = i < bounds.size() ? bounds.get(i) : hi;
            Sum[] sums = sums(from, to);
            range(from, to, sums[0], sums[1]);
            from = to;
        }
    }

    /** Compares the keys and row hashes of a small range. */
    private void leaf(List<String> lo, List<String> hi) throws SQLException {
        List<Map<List<String>, String>> both = both(() -> rows(Queries.SOURCE, source, sourceTable, lo, hi),
                () -> rows(Queries.DESTINATION, destination, destinationTable, lo, hi));
        Map<List<String>, String> s = both.get(0);
        Map<List<String>, String> d = both.get(1);
        for (Map.Entry<List<String>, String> e : s.entrySet()) {
            String other = d.get(e.getKey());
            if (other == null) {
                note(e.getKey(), Kind.MISSING);
            } else if (!other.equals(e.getValue())) {
                note(e.getKey(), Kind.CHANGED);
            }
        }
        for (List<String> k : d.keySet()) {
            if (!s.containsKey(k)) {
                note(k, Kind.EXTRA);
            }
        }
    }

    private void note(List<String> key, Kind kind) {
        if (found.size() >= cap) {
            capped = true;
            return;
        }
        found.put(key, kind);
    }

    /**
     * Checks keys again: the source's rows first, with the source's WAL position then; once the destination applied the
     * source up to there, the destination's. The keys that still differ, with how.
     */
    private List<List<String>> recheck(List<List<String>> keys, CatchUp catchUp) throws SQLException {
        String lsn = catchUp.position();
        Map<List<String>, String> s = rowsOf(Queries.SOURCE, source, sourceTable, keys);
        catchUp.await(lsn);
        Map<List<String>, String> d = rowsOf(Queries.DESTINATION, destination, destinationTable, keys);
        List<List<String>> still = new ArrayList<>();
        for (List<String> k : keys) {
            String a = s.get(k);
            String b = d.get(k);
            if (!Objects.equals(a, b)) {
                still.add(k);
                found.put(k, a == null ? Kind.EXTRA : b == null ? Kind.MISSING : Kind.CHANGED);
            }
        }
        return still;
    }

    /** The checksums of a range at both sides, computed at the same time. */
    private Sum[] sums(List<String> lo, List<String> hi) throws SQLException {
        List<Sum> both = both(() -> sum(Queries.SOURCE, source, sourceTable, lo, hi),
                () -> sum(Queries.DESTINATION, destination, destinationTable, lo, hi));
        return new Sum[] {both.get(0), both.get(1)};
    }

    private interface Query<T> {
        T run() throws SQLException;
    }

    /** Runs the source's query on another thread while the destination's runs on this one: each server works at once. */
    private <T> List<T> both(Query<T> atSource, Query<T> atDestination) throws SQLException {
        CompletableFuture<T> s = CompletableFuture.supplyAsync(() -> {
            try {
                return atSource.run();
            } catch (SQLException e) {
                throw new CompletionException(e);
            }
        }, sourceThread);
        T d = atDestination.run();
        try {
            return List.of(s.join(), d);
        } catch (CompletionException e) {
            if (e.getCause() instanceof SQLException sql) {
                throw sql;
            }
            throw e;
        }
    }

    private Sum sum(String side, Dialect dialect, Dialect.Table table, List<String> lo, List<String> hi) throws SQLException {
        Map<String, Object> params = new HashMap<>();
        Map<String, Object> row = queries.one(side, dialect.checksum(table, range(dialect, table, lo, hi, params)), params);
        return new Sum(Long.parseLong(String.valueOf(row.get("n"))), new BigDecimal(String.valueOf(row.get("h"))).toPlainString());
    }

    private List<List<String>> bounds(String side, Dialect dialect, Dialect.Table table, List<String> lo, List<String> hi, long rows)
            throws SQLException {
        Map<String, Object> params = new HashMap<>();
        String where = range(dialect, table, lo, hi, params);
        params.put("step", Math.max(1, (rows + PARTS - 1) / PARTS));
        String sql = "SELECT " + keyColumns(table) + " FROM (SELECT " + dialect.keySelect(table.key()) + ", row_number() OVER (ORDER BY "
                + dialect.keyOrder(table.key()) + ") AS rn FROM " + table.quotedName() + Dialect.where(table, where)
                + ") s WHERE MOD(rn, :?step) = 0 ORDER BY rn";
        List<List<String>> out = new ArrayList<>();
        for (Map<String, Object> r : queries.query(side, sql, params)) {
            out.add(key(r, table.key().size()));
        }
        return out;
    }

    private Map<List<String>, String> rows(String side, Dialect dialect, Dialect.Table table, List<String> lo, List<String> hi)
            throws SQLException {
        Map<String, Object> params = new HashMap<>();
        return hashes(queries.query(side, dialect.rows(table, range(dialect, table, lo, hi, params)), params), table);
    }

    private Map<List<String>, String> rowsOf(String side, Dialect dialect, Dialect.Table table, List<List<String>> keys)
            throws SQLException {
        Map<List<String>, String> out = new HashMap<>();
        for (int from = 0; from < keys.size(); from += KEYS_PER_QUERY) {
            List<List<String>> some = keys.subList(from, Math.min(keys.size(), from + KEYS_PER_QUERY));
            Map<String, Object> params = new HashMap<>();
            for (int k = 0; k < some.size(); k++) {
                for (int i = 0; i < some.get(k).size(); i++) {
                    params.put("k" + k + "_" + i, some.get(k).get(i));
                }
            }
            out.putAll(hashes(queries.query(side, dialect.rows(table, dialect.keyIn(table.key(), some.size(), "k")), params), table));
        }
        return out;
    }

    private static Map<List<String>, String> hashes(List<Map<String, Object>> rows, Dialect.Table table) {
        Map<List<String>, String> out = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            out.put(key(r, table.key().size()), String.valueOf(r.get("h")));
        }
        return out;
    }

    private static List<String> key(Map<String, Object> row, int columns) {
        List<String> key = new ArrayList<>(columns);
        for (int i = 0; i < columns; i++) {
            Object v = row.get("k" + i);
            key.add(v == null ? null : String.valueOf(v));
        }
        return key;
    }

    private static String keyColumns(Dialect.Table table) {
        StringBuilder sql = new StringBuilder();
        for (int i = 0; i < table.key().size(); i++) {
            sql.append(i == 0 ? "" : ", ").append("k").append(i);
        }
        return sql.toString();
    }

    /** The condition of the range (lo, hi] (null bounds: open), its parameters added; null for the whole table. */
    private static String range(Dialect dialect, Dialect.Table table, List<String> lo, List<String> hi, Map<String, Object> params) {
        List<String> parts = new ArrayList<>();
        if (lo != null) {
            parts.add(dialect.rowCompare(table.key(), ">", "lo"));
            for (int i = 0; i < lo.size(); i++) {
                params.put("lo" + i, lo.get(i));
            }
        }
        if (hi != null) {
            parts.add(dialect.rowCompare(table.key(), "<=", "hi"));
            for (int i = 0; i < hi.size(); i++) {
                params.put("hi" + i, hi.get(i));
            }
        }
        return parts.isEmpty() ? null : String.join(" AND ", parts);
    }
}
