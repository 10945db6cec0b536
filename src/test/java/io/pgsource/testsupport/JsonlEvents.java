package io.pgsource.testsupport;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgsource.change.TableId;
import io.pgsource.sink.jsonl.FileNames;
import io.pgsource.state.FilePositionStore;
import io.pgsource.state.Positions;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Checks what a {@code jsonl} destination wrote against its documented contract, and replays it into a model of the
 * tables, as a consumer of the files would, to compare with the source ({@link TableCompare}).
 *
 * <p>The contract (README, "jsonl"): every change is a line carrying its position ({@code source.lsn} and
 * {@code txId}, plus {@code part}/{@code last} for a transaction in several parts; {@code stream}/{@code bookmark} for
 * copied rows); lines are made durable before the position is saved in {@code _pgsource-positions.json}, so after a
 * crash a replay repeats at most the last batch. The check reads each table's file split into the lives of the
 * process (the file sizes recorded after each kill, see {@link #afterKill}) and holds the files to that:
 * <ul>
 * <li>every line is a whole JSON object with its position (no partial line, no line glued to a partial one);</li>
 * <li>within one life, log positions only go forward;</li>
 * <li>a batch may appear again only right after a kill, as the first batch of the next life, and only when the
 * positions file at that kill did not cover it while it covered the batch before it in the file (so it was the one
 * batch written but not yet acknowledged); the earlier, possibly partial, lines of it are then dropped, as a consumer
 * that drops repeats by position does;</li>
 * <li>a copy started again (after a kill during the initial copy) begins with a truncate event: it replaces the
 * earlier partial copy;</li>
 * <li>replayed in order, the changes are consistent: no insert of a key already there, no update or delete of a row
 * that is not there, every unchanged TOAST column known from the row before.</li>
 * </ul>
 */
public final class JsonlEvents {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .setNodeFactory(JsonNodeFactory.withExactBigDecimals(true))
            .enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN);
    private static final int MAX_VIOLATIONS = 50;

    /**
     * What the destination directory held right after a kill: each file's size and the slot's stored position.
     *
     * @param sizes          bytes per file name
     * @param storedPosition the positions file's entry for the slot ({@code X/X}, or {@code X/X#n}: the first n changes of
     *                       the transaction whose commit record is at X/X), or null
     */
    public record Kill(Map<String, Long> sizes, String storedPosition) {
    }

    /**
     * A batch written again after a kill.
     *
     * @param table    the table whose file holds it
     * @param position its position (lsn, txId, part)
     * @param stored   what the positions file held for the slot at that kill
     */
    public record Repeat(String table, String position, String stored) {
    }

    private final List<String> violations = new ArrayList<>();
    private final List<Repeat> repeats = new ArrayList<>();
    private final Set<Long> txIds = new HashSet<>();
    private final Map<String, TableModel> models = new LinkedHashMap<>();
    private long events;
    private int maxBatchSize;
    private int recopies;
    private int truncatesAfterCopy;

    private JsonlEvents() {
    }

    /** Records the destination directory's state right after the pgsource process was killed. */
    public static Kill afterKill(Path directory, String slot) throws IOException {
        Map<String, Long> sizes = new HashMap<>();
        try (Stream<Path> files = Files.list(directory)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".jsonl")).toList()) {
                sizes.put(f.getFileName().toString(), Files.size(f));
            }
        }
        Path positions = directory.resolve(FilePositionStore.DEFAULT_FILE_NAME);
        String stored = Files.exists(positions) ? new FilePositionStore(positions).load("slot:" + slot).orElse(null) : null;
        return new Kill(sizes, stored);
    }

    /** As {@link #read(Path, String, List, List, int)} with pgsource's default {@code source.max_batch_size}. */
    public static JsonlEvents read(Path directory, String schema, List<MixedWorkload.Table> tables, List<Kill> kills) throws IOException {
        return read(directory, schema, tables, kills, 10_000);
    }

    /**
     * Reads and checks the files of the given tables, and replays them into a model of each table.
     *
     * @param kills        the state after each kill, in order
     * @param maxBatchSize the run's {@code source.max_batch_size}: every part of a transaction but its last holds that
     *                     many changes, so a stored {@code X/X#n} covers its parts that start below n
     */
    public static JsonlEvents read(Path directory, String schema, List<MixedWorkload.Table> tables, List<Kill> kills, int maxBatchSize)
            throws IOException {
        JsonlEvents out = new JsonlEvents();
        out.maxBatchSize = maxBatchSize;
        for (MixedWorkload.Table table : tables) {
            String file = FileNames.of(new TableId(schema, table.name()));
            TableModel model = new TableModel(table);
            out.models.put(table.name(), model);
            Path path = directory.resolve(file);
            if (!Files.exists(path)) {
                out.violation(file + " does not exist");
                continue;
            }
            List<Long> boundaries = new ArrayList<>();
            List<String> stored = new ArrayList<>();
            for (Kill k : kills) {
                Long size = k.sizes().get(file);
                long boundary = size == null ? 0 : lineStart(path, size);
                boundaries.add(boundary);
                stored.add(k.storedPosition());
            }
            out.readFile(path, table.name(), model, boundaries, stored);
        }
        return out;
    }

    /** The start of the line a file of the given size would continue: after its last newline. */
    private static long lineStart(Path path, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "r")) {
            long at = Math.min(size, f.length());
            while (at > 0) {
                f.seek(at - 1);
                if (f.read() == '\n') {
                    return at;
                }
                at--;
            }
            return 0;
        }
    }

    /** Every broken rule found, with the file and line; empty when the files keep the contract. */
    public List<String> violations() {
        return List.copyOf(violations);
    }

    /** The batches written again after a kill. */
    public List<Repeat> repeats() {
        return List.copyOf(repeats);
    }

    /** How many times a table's copy started again with a truncate event. */
    public int recopies() {
        return recopies;
    }

    public long events() {
        return events;
    }

    /**
     * How many tables' copies missed rows because a TRUNCATE committed while the copy ran (their streamed changes
     * before that truncate touched rows the copy did not hold); see {@link #apply}.
     */
    public int truncatesDuringCopy() {
        return truncatesAfterCopy;
    }

    /** The transaction ids of every streamed change. */
    public Set<Long> txIds() {
        return Set.copyOf(txIds);
    }

    /** The commits after {@code afterLsn} (their WAL position before COMMIT) whose transaction id no line carries. */
    public List<MixedWorkload.Commit> missing(List<MixedWorkload.Commit> commits, long afterLsn) {
        return commits.stream().filter(c -> Long.compareUnsigned(c.lsnBeforeCommit(), afterLsn) > 0 && !txIds.contains(c.xid())).toList();
    }

    /** Rows the model of a table holds. */
    public long rows(String table) {
        return models.get(table).size();
    }

    /**
     * Creates the workload's tables in {@code targetSchema} (see {@link MixedWorkload#createTables}) and fills them with
     * the model's rows (through {@code jsonb_populate_recordset}, so PostgreSQL parses every value as its column type).
     */
    public void loadInto(Connection c, String targetSchema) throws SQLException {
        MixedWorkload.createTables(c, targetSchema);
        for (Map.Entry<String, TableModel> e : models.entrySet()) {
            String table = TableId.quoteIdent(targetSchema) + "." + TableId.quoteIdent(e.getKey());
            String sql = "INSERT INTO " + table + " SELECT * FROM jsonb_populate_recordset(NULL::" + table + ", ?::jsonb)";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                StringBuilder chunk = new StringBuilder();
                for (Iterator<String> rows = e.getValue().rows(); rows.hasNext(); ) {
                    chunk.append(chunk.isEmpty() ? "[" : ",").append(rows.next());
                    if (chunk.length() > 4_000_000) {
                        insert(ps, chunk);
                    }
                }
                insert(ps, chunk);
            }
        }
    }

    private static void insert(PreparedStatement ps, StringBuilder chunk) throws SQLException {
        if (!chunk.isEmpty()) {
            ps.setString(1, chunk.append("]").toString());
            ps.executeUpdate();
            chunk.setLength(0);
        }
    }

    // ---- reading ----

    /** Lines of one batch (one position) in one file, not yet applied to the model. */
    private static final class Group {
        final String key;
        final boolean copy;
        final long lsn;
        final int part;
        final boolean startsCopy;
        final List<JsonNode> lines = new ArrayList<>();
        final long firstLine;

        Group(String key, boolean copy, long lsn, int part, boolean startsCopy, long firstLine) {
            this.key = key;
            this.copy = copy;
            this.lsn = lsn;
            this.part = part;
            this.startsCopy = startsCopy;
            this.firstLine = firstLine;
        }
    }

    private void readFile(Path path, String table, TableModel model, List<Long> boundaries, List<String> stored) throws IOException {
        String file = path.getFileName().toString();
        Group pending = null;
        Group previousApplied = null;
        Set<String> seenThisCopy = new HashSet<>();
        long lastLsn = -1;
        int lastPart = -1;
        int life = 0; // index of the next kill boundary
        long lineNo = 0;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(path), 1 << 16)) {
            long offset = 0;
            ByteArrayOutputStream buf = new ByteArrayOutputStream(1024);
            boolean crossed = false;
            int crossedKill = -1;
            while (true) {
                while (life < boundaries.size() && boundaries.get(life) <= offset) {
                    crossed = true;
                    crossedKill = life;
                    life++;
                }
                buf.reset();
                int b;
                long start = offset;
                while ((b = in.read()) >= 0 && b != '\n') {
                    buf.write(b);
                    offset++;
                }
                if (b < 0 && buf.size() == 0) {
                    break;
                }
                lineNo++;
                if (b < 0) {
                    violation(file + " line " + lineNo + " (byte " + start + ") has no line end: a partial line");
                    break;
                }
                offset++;
                JsonNode line;
                try {
                    line = JSON.readTree(buf.toByteArray());
                } catch (JsonProcessingException e) {
                    violation(file + " line " + lineNo + " (byte " + start + ") is not a JSON object (a partial line glued to the next?): "
                            + abbreviate(buf.toString(StandardCharsets.UTF_8)));
                    continue;
                }
                events++;
                JsonNode source = line.path("source");
                String op = line.path("op").asText();
                boolean copy = source.has("bookmark");
                String key;
                long lsn = -1;
                int part = -1;
                if (copy) {
                    key = "copy " + source.path("stream").asText() + " @ " + source.path("bookmark").asText();
                } else if (source.has("lsn") && source.has("txId")) {
                    lsn = Positions.parseLsn(source.get("lsn").asText());
                    part = source.has("part") ? source.get("part").asInt() : source.has("last") && !source.get("last").asBoolean() ? 0 : -1;
                    if (source.has("last") && !source.has("part")) {
                        violation(file + " line " + lineNo + ": a part of a transaction without its part index");
                    }
                    txIds.add(source.get("txId").asLong());
                    key = "lsn " + source.get("lsn").asText() + " tx " + source.get("txId").asLong() + (part >= 0 ? " part " + part : "");
                } else {
                    violation(file + " line " + lineNo + " carries no position: " + abbreviate(line.toString()));
                    continue;
                }
                if (pending != null && pending.key.equals(key) && !crossed) {
                    pending.lines.add(line);
                    continue;
                }
                // a new batch starts here
                Group next = new Group(key, copy, lsn, part, copy && "t".equals(op), lineNo);
                boolean repeat = crossed && pending != null && pending.key.equals(key);
                if (repeat) {
                    // the batch written right before a kill is written again: the contract allows exactly this one
                    checkRepeat(file, table, pending, previousApplied, stored.get(crossedKill), crossedKill);
                    repeats.add(new Repeat(table, key, stored.get(crossedKill)));
                    pending = null;
                } else if (pending != null) {
                    apply(model, pending, file);
                    previousApplied = pending;
                    pending = null;
                }
                crossed = false;
                if (next.startsCopy) {
                    if (!seenThisCopy.isEmpty() || previousApplied != null) {
                        recopies++;
                    }
                    seenThisCopy.clear();
                    lastLsn = -1;
                    lastPart = -1;
                }
                if (!seenThisCopy.add(key) && !repeat) {
                    violation(file + " line " + lineNo + ": position " + key + " appears again, not right after a kill");
                }
                if (!copy && !repeat) {
                    if (lsn < lastLsn || (lsn == lastLsn && part <= lastPart)) {
                        violation(file + " line " + lineNo + ": position " + key + " goes back (previous lsn " + Positions.lsn(lastLsn) + " part "
                                + lastPart + ")");
                    }
                    lastLsn = lsn;
                    lastPart = part;
                }
                pending = next;
                pending.lines.add(line);
            }
        }
        if (pending != null) {
            apply(model, pending, file);
        }
        model.heldBack.forEach(v -> violation(v + " (no truncate followed)"));
        model.heldBack.clear();
    }

    /**
     * A batch repeated after a kill must be the first one the positions file did not cover at that kill: not covered
     * itself, and the batch before it in this file (if streamed) covered.
     */
    private void checkRepeat(String file, String table, Group repeated, Group before, String stored, int kill) {
        if (repeated.copy) {
            return; // a copy page repeated: the copy started again (it begins with a truncate event)
        }
        if (covered(repeated, stored)) {
            violation(file + ": batch " + repeated.key + " was written again after kill " + (kill + 1) + " although the positions file held "
                    + stored + " (it was acknowledged)");
        }
        if (before != null && !before.copy && !covered(before, stored)) {
            violation(file + ": after kill " + (kill + 1) + " batch " + repeated.key + " was repeated, but the batch before it (" + before.key
                    + ") was not covered by the positions file either (" + stored + "): more than the last batch was unacknowledged");
        }
    }

    /**
     * Whether the slot position stored in the positions file ({@code X/X}: a whole transaction's end LSN, or
     * {@code X/X#n}: the first n changes of the transaction whose commit record is at X/X, whole parts of
     * {@code maxBatchSize}) covers a batch, whose lines carry the commit record LSN.
     */
    private boolean covered(Group g, String stored) {
        if (stored == null) {
            return false;
        }
        long at = Positions.parseLsn(stored);
        int c = Long.compareUnsigned(at, g.lsn);
        if (c != 0) {
            return c > 0;
        }
        int hash = stored.indexOf('#');
        return hash >= 0 && g.part >= 0 && (long) g.part * maxBatchSize < Long.parseLong(stored.substring(hash + 1));
    }

    /**
     * Applies a batch to the model. Between a copy and the first truncate streamed after it, changes of rows the copy did
     * not hold are held back rather than reported: a TRUNCATE committed while the copy ran makes PostgreSQL show that
     * table empty to the copy's older snapshot (TRUNCATE is not MVCC-safe), and the stream carries the changes before
     * that TRUNCATE, then the TRUNCATE itself, which explains them. Any still held back at the end are violations.
     */
    private void apply(TableModel model, Group g, String file) {
        if (g.copy) {
            model.afterCopy = true;
            model.heldBack.clear();
        }
        for (int i = 0; i < g.lines.size(); i++) {
            JsonNode event = g.lines.get(i);
            String problem = model.apply(event);
            if (!g.copy && "t".equals(event.path("op").asText()) && model.afterCopy) {
                truncatesAfterCopy += model.heldBack.isEmpty() ? 0 : 1;
                model.heldBack.clear();
                model.afterCopy = false;
            }
            if (problem != null) {
                String text = file + " batch " + g.key + " (from line " + g.firstLine + "), event " + (i + 1) + ": " + problem;
                if (model.afterCopy && !g.copy) {
                    model.heldBack.add(text);
                } else {
                    violation(text);
                }
            }
        }
    }

    private void violation(String text) {
        if (violations.size() < MAX_VIOLATIONS) {
            violations.add(text);
        } else if (violations.size() == MAX_VIOLATIONS) {
            violations.add("... more violations left out");
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }

    /** One table's rows as a consumer of its file would hold them: by key, or as a multiset for a keyless table. */
    private static final class TableModel {
        private final MixedWorkload.Table table;
        private final Map<String, String> byKey = new HashMap<>();
        private final Map<String, Integer> multiset = new HashMap<>();
        /** A copy was applied and no truncate streamed since. */
        boolean afterCopy;
        /** Problems of that window, explained if a streamed truncate follows. */
        final List<String> heldBack = new ArrayList<>();

        TableModel(MixedWorkload.Table table) {
            this.table = table;
        }

        long size() {
            return table.keyless() ? multiset.values().stream().mapToLong(Integer::longValue).sum() : byKey.size();
        }

        Iterator<String> rows() {
            if (!table.keyless()) {
                return byKey.values().iterator();
            }
            List<String> all = new ArrayList<>();
            multiset.forEach((row, n) -> {
                for (int i = 0; i < n; i++) {
                    all.add(row);
                }
            });
            return all.iterator();
        }

        /** Applies one event; returns what is inconsistent about it, or null. */
        String apply(JsonNode e) {
            String op = e.path("op").asText();
            JsonNode before = e.get("before");
            JsonNode after = e.get("after");
            Set<String> unchanged = new TreeSet<>();
            e.path("unchanged").forEach(n -> unchanged.add(n.asText()));
            switch (op) {
                case "t" -> {
                    byKey.clear();
                    multiset.clear();
                    return null;
                }
                case "r", "c" -> {
                    if (!(after instanceof ObjectNode row) || !unchanged.isEmpty()) {
                        return "an insert without a whole new row";
                    }
                    return table.keyless() ? add(row) : put(key(row), row, null);
                }
                case "u" -> {
                    if (!(after instanceof ObjectNode row)) {
                        return "an update without a new row";
                    }
                    if (table.keyless()) {
                        if (!(before instanceof ObjectNode old)) {
                            return "an update of a keyless table without the old row";
                        }
                        boolean held = remove(old);
                        unchanged.forEach(col -> row.set(col, old.get(col)));
                        add(row);
                        return held ? null : "an update of a row the table does not hold: " + abbreviate(old.toString());
                    }
                    String oldKey = before instanceof ObjectNode old ? key(old) : key(row);
                    String held = byKey.remove(oldKey);
                    String problem = null;
                    if (held == null) {
                        problem = "an update of key " + oldKey + " that the table does not hold";
                    } else if (!unchanged.isEmpty()) {
                        ObjectNode old = parse(held);
                        for (String col : unchanged) {
                            if (!old.has(col)) {
                                problem = "unchanged TOAST column " + col + " of key " + oldKey + " unknown";
                            }
                            row.set(col, old.get(col));
                        }
                    }
                    String moved = put(key(row), row, oldKey);
                    return problem != null ? problem : moved;
                }
                case "d" -> {
                    if (!(before instanceof ObjectNode old)) {
                        return "a delete without the old row or key";
                    }
                    if (table.keyless()) {
                        return remove(old) ? null : "a delete of a row the table does not hold: " + abbreviate(old.toString());
                    }
                    return byKey.remove(key(old)) != null ? null : "a delete of key " + key(old) + " that the table does not hold";
                }
                default -> {
                    return "unknown op '" + op + "'";
                }
            }
        }

        private String put(String key, ObjectNode row, String movedFrom) {
            if (byKey.put(key, canonical(row)) != null) {
                return (movedFrom != null ? "a key change from " + movedFrom + " onto " : "an insert of ") + "key " + key + " the table already holds";
            }
            return null;
        }

        private String add(ObjectNode row) {
            multiset.merge(canonical(row), 1, Integer::sum);
            return null;
        }

        private boolean remove(ObjectNode row) {
            String k = canonical(row);
            Integer n = multiset.get(k);
            if (n == null) {
                return false;
            }
            if (n == 1) {
                multiset.remove(k);
            } else {
                multiset.put(k, n - 1);
            }
            return true;
        }

        private String key(JsonNode row) {
            StringBuilder k = new StringBuilder();
            for (String col : table.key()) {
                k.append(k.isEmpty() ? "" : ", ").append(text(row.get(col)));
            }
            return k.toString();
        }

        /** The row as JSON with its fields sorted, so equal rows are equal strings. */
        private static String canonical(ObjectNode row) {
            ObjectNode sorted = JsonNodeFactory.instance.objectNode();
            new TreeSet<String>(toList(row.fieldNames())).forEach(f -> sorted.set(f, row.get(f)));
            return text(sorted);
        }

        private static List<String> toList(Iterator<String> it) {
            List<String> out = new ArrayList<>();
            it.forEachRemaining(out::add);
            return out;
        }

        private static String text(JsonNode n) {
            try {
                return JSON.writeValueAsString(n);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }

        private static ObjectNode parse(String row) {
            try {
                return (ObjectNode) JSON.readTree(row);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
