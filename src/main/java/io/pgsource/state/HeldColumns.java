package io.pgsource.state;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.pgsource.change.Column;
import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a destination holds of a source table's columns, by the source's column numbers ({@link SourceColumns}), kept
 * with its positions (stream {@link #stream}): with it a destination follows each new shape of the table exactly, also
 * after a restart, and {@link #plan} says how, or that only a copy of the table can give the rows what the source shows.
 *
 * @param tableOid the source table the numbers belong to
 * @param columns  the destination's columns that came from the source, each with the number and type of its source
 *                 column (columns the source dropped stay, as the destination keeps them)
 * @param observed when the catalog agreed with {@code columns} (same name and type for each number still live), what
 *                 else it said then; null when that was never seen
 */
public record HeldColumns(long tableOid, List<Held> columns, Observation observed) {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HeldColumns.class);

    /**
     * Jackson's streaming reader and writer, not its ObjectMapper: the first transaction of a stream writes this record
     * (its table's first shape), and making an ObjectMapper then loaded about 370 jackson-databind classes and ran their
     * initializers while that transaction and the ones behind it waited (about 70 ms of the first transaction's class
     * loading at load 7).
     */
    private static final class Json {
        static final JsonFactory FACTORY = new JsonFactory();
    }

    public HeldColumns {
        columns = List.copyOf(columns);
    }

    /** A destination column and the source column it holds. */
    public record Held(int number, String name, String type) {
    }

    /**
     * What the catalog said at a moment it agreed with the held columns.
     *
     * @param lastNumber the highest column number given until then: a column numbered higher was added after
     * @param storage    the table's storage then: while it is the same, nothing was rewritten since
     */
    public record Observation(int lastNumber, Map<Long, Long> storage) {
        public Observation {
            storage = Map.copyOf(storage);
        }
    }

    /**
     * How a destination follows a new shape of the table.
     *
     * @param copyReason null when the destination can follow it as planned; else why only a copy of the table gives the
     *                   rows it holds what the source shows (the plan's other parts are then empty)
     * @param renames    destination columns to rename (old name to new name): the source renamed them
     * @param fills      columns to add with the value every row already held takes (its text form): the source added them
     *                   with a default it did not write into its existing rows ({@code attmissingval})
     * @param next       what the destination holds once it followed the plan
     */
    public record Plan(String copyReason, Map<String, String> renames, Map<String, String> fills, HeldColumns next) {
        public Plan {
            renames = Map.copyOf(renames);
            fills = Map.copyOf(fills);
        }

        /** Only a copy of the table follows the source, for this reason. */
        public static Plan copy(String reason) {
            return new Plan(reason, Map.of(), Map.of(), null);
        }

        public boolean copyNeeded() {
            return copyReason != null;
        }
    }

    /** The stream a destination keeps the held columns of a source table under. */
    public static String stream(TableId table) {
        return "columns:" + table;
    }

    /**
     * What a destination holds after a copy of the table.
     *
     * @param copied  the schema the copy's rows had (the columns it created or filled)
     * @param catalog the catalog as the copy read it (inside its snapshot); null when unknown
     * @return null when the catalog is unknown
     */
    public static HeldColumns ofCopy(TableSchema copied, SourceColumns catalog) {
        return catalog == null ? null : adopt(copied.allColumns(), catalog);
    }

    /**
     * How a destination table follows the shape, from the record it stored ({@link #serialize}, under {@link #stream}):
     * a table the destination held that is gone (dropped there to be copied again, say) takes a copy; a missing table
     * without a record is created from this shape and holds what it says; an unreadable record is warned about and
     * decided without.
     *
     * @param stored      the stored record, or null
     * @param destination the names of the destination table's columns; null when the table does not exist
     * @param table       the destination table, for messages
     */
    public static Plan plan(TableSchema shape, String stored, Set<String> destination, boolean evolves, String table) {
        if (destination == null) {
            return stored != null ? Plan.copy("destination table " + table + " is gone") : plan(shape, null, null, evolves);
        }
        HeldColumns held = null;
        if (stored != null) {
            try {
                held = parse(stored);
            } catch (IllegalArgumentException e) {
                LOG.warn("the record of the source columns destination table {}"
                        + " holds is unreadable ({}); deciding without it", table, e.getMessage());
            }
        }
        return plan(shape, held, destination, evolves);
    }

    /**
     * Plans how a destination follows a new shape of the table (a schema that came with a Relation message, carrying the
     * catalog's {@link SourceColumns} of that moment). The catalog may already be ahead of the shape (it tells what the
     * table is now): what cannot be told apart exactly is a copy.
     *
     * @param held        what the destination holds, null when it has no record (an older destination, or a copy that
     *                    ended before its record was stored)
     * @param destination the names of the destination's columns; null when unknown
     * @param evolves     whether the destination renames columns and fills added ones for the rows it holds (a table
     *                    destination); an event destination cannot change what it wrote, so a rename or a filled column
     *                    takes a copy
     */
    public static Plan plan(TableSchema shape, HeldColumns held, Set<String> destination, boolean evolves) {
        SourceColumns now = shape.sourceColumns();
        if (now == null) {
            return new Plan(null, Map.of(), Map.of(), held);
        }
        String table = shape.id().quoted();
        List<Column> columns = shape.allColumns();
        if (held != null && held.tableOid != now.oid()) {
            return Plan.copy(table + " was dropped and created again since the destination took its rows");
        }
        if (held == null) {
            List<String> lacking = destination == null ? List.of()
                    : columns.stream().map(Column::name).filter(n -> !destination.contains(n)).toList();
            if (!lacking.isEmpty()) {
                return Plan.copy(table + " has column(s) " + lacking + " the destination lacks, and pgsource has no record of"
                        + " which source columns the destination holds (it was written by an earlier version, or its copy"
                        + " stopped before the record was stored)");
            }
            return new Plan(null, Map.of(), Map.of(), adopt(columns, now));
        }
        Set<String> names = destination != null ? destination : held.names();
        Map<Integer, Held> byNumber = new TreeMap<>();
        Map<String, Held> byName = new HashMap<>();
        for (Held h : held.columns) {
            byNumber.put(h.number, h);
            byName.put(h.name, h);
        }
        boolean notRewritten = held.observed != null && now.sameStorageAs(held.observed.storage);
        Map<String, String> renames = new LinkedHashMap<>();
        Map<String, String> fills = new LinkedHashMap<>();
        for (Column c : columns) {
            String column = table + "." + TableId.quoteIdent(c.name());
            SourceColumns.Attribute a = now.columns().get(c.name());
            Held named = byName.get(c.name());
            if (a == null) {
                // renamed or dropped again since this shape: the destination's column of that name is the one, if any
                if (named == null || !named.type.equals(c.typeName())) {
                    return Plan.copy(column + " changed again before pgsource saw what it is (it is no longer in the source's"
                            + " catalog under that name)");
                }
                continue;
            }
            Held same = byNumber.get(a.number());
            if (same == null) {
                if (named != null || names.contains(c.name())) {
                    return Plan.copy(column + " is a new column with the name of one the destination holds from before (dropped"
                            + " or renamed at the source)");
                }
                if (a.missingMixed()) {
                    return Plan.copy(column + " was added with a default, and the table's partitions hold different values"
                            + " for their older rows");
                }
                if (a.missingValue() != null) {
                    if (!evolves) {
                        return Plan.copy(column + " was added with a default, which the source gives its older rows without"
                                + " changing them");
                    }
                    fills.put(c.name(), a.missingValue());
                } else if (!notRewritten || a.number() <= held.observed.lastNumber) {
                    return Plan.copy(column + " was added, and the source rewrote the table since the destination's last look"
                            + " (a volatile default, ALTER COLUMN ... TYPE, VACUUM FULL, CLUSTER, TRUNCATE) or pgsource cannot"
                            + " tell: its older rows may hold values no change carried");
                }
                byNumber.put(a.number(), new Held(a.number(), c.name(), c.typeName()));
                continue;
            }
            if (!same.name.equals(c.name())) {
                if (!evolves) {
                    return Plan.copy(table + "." + TableId.quoteIdent(same.name) + " was renamed to " + TableId.quoteIdent(c.name()));
                }
                if (names.contains(c.name())) {
                    return Plan.copy(table + "." + TableId.quoteIdent(same.name) + " was renamed to " + TableId.quoteIdent(c.name())
                            + ", a name the destination holds another column under");
                }
                renames.put(same.name, c.name());
            }
            if (!same.type.equals(c.typeName()) && !notRewritten) {
                return Plan.copy(column + " changed its type from " + same.type + " to " + c.typeName() + " and the source"
                        + " rewrote the table (or pgsource cannot tell whether it did): the values it converted reach the"
                        + " destination only by a copy");
            }
            byNumber.put(a.number(), new Held(a.number(), c.name(), c.typeName()));
        }
        List<Held> next = new ArrayList<>(byNumber.values());
        // a look is kept while the catalog agrees with what is held, and has no column added since the last look that this
        // shape does not show yet: the last look still proves when those were added, and whether a rewrite came since
        boolean ahead = held.observed != null && now.columns().values().stream()
                .anyMatch(a -> a.number() > held.observed.lastNumber && !byNumber.containsKey(a.number()));
        Observation observed = agrees(now, next) && !ahead ? new Observation(now.lastNumber(), now.storage()) : held.observed;
        return new Plan(null, renames, fills, new HeldColumns(now.oid(), next, observed));
    }

    /** The columns as the catalog has them now, by name; observed when it agrees with them. */
    private static HeldColumns adopt(List<Column> columns, SourceColumns now) {
        List<Held> held = new ArrayList<>();
        for (Column c : columns) {
            SourceColumns.Attribute a = now.columns().get(c.name());
            if (a != null) {
                held.add(new Held(a.number(), c.name(), c.typeName()));
            }
        }
        return new HeldColumns(now.oid(), held, agrees(now, held) ? new Observation(now.lastNumber(), now.storage()) : null);
    }

    /** Whether every held column still live in the catalog has the same name and type there. */
    private static boolean agrees(SourceColumns now, List<Held> held) {
        for (Held h : held) {
            Map.Entry<String, SourceColumns.Attribute> live = now.byNumber(h.number);
            if (live != null && (!live.getKey().equals(h.name) || !live.getValue().type().equals(h.type))) {
                return false;
            }
        }
        return true;
    }

    /** The names of the held columns. */
    public Set<String> names() {
        Set<String> out = new java.util.HashSet<>();
        columns.forEach(h -> out.add(h.name));
        return out;
    }

    /** The stored form: a JSON object ({@code {"oid":1,"columns":[[1,"id","integer"]],"observed":{"last":1,"storage":{"1":2}}}}). */
    public String serialize() {
        java.io.StringWriter out = new java.io.StringWriter();
        try (JsonGenerator g = Json.FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeNumberField("oid", tableOid);
            g.writeArrayFieldStart("columns");
            for (Held h : columns) {
                g.writeStartArray();
                g.writeNumber(h.number);
                g.writeString(h.name);
                g.writeString(h.type);
                g.writeEndArray();
            }
            g.writeEndArray();
            if (observed != null) {
                g.writeObjectFieldStart("observed");
                g.writeNumberField("last", observed.lastNumber);
                g.writeObjectFieldStart("storage");
                for (Map.Entry<Long, Long> e : new TreeMap<>(observed.storage).entrySet()) {
                    g.writeNumberField(Long.toString(e.getKey()), e.getValue());
                }
                g.writeEndObject();
                g.writeEndObject();
            }
            g.writeEndObject();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // a StringWriter does not fail
        }
        return out.toString();
    }

    /**
     * Reads the stored form (its fields in any order; others are skipped).
     *
     * @throws IllegalArgumentException when it is not one
     */
    public static HeldColumns parse(String stored) {
        try (JsonParser p = Json.FACTORY.createParser(stored)) {
            expect(p.nextToken(), JsonToken.START_OBJECT);
            Long oid = null;
            List<Held> held = null;
            Observation observed = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "oid" -> oid = p.getLongValue();
                    case "columns" -> {
                        expect(value, JsonToken.START_ARRAY);
                        held = new ArrayList<>();
                        while (p.nextToken() == JsonToken.START_ARRAY) {
                            p.nextToken();
                            int number = p.getIntValue();
                            p.nextToken();
                            String name = p.getValueAsString();
                            p.nextToken();
                            String type = p.getValueAsString();
                            expect(p.nextToken(), JsonToken.END_ARRAY);
                            held.add(new Held(number, name, type));
                        }
                    }
                    case "observed" -> {
                        if (value == JsonToken.VALUE_NULL) {
                            break;
                        }
                        expect(value, JsonToken.START_OBJECT);
                        Integer last = null;
                        Map<Long, Long> storage = null;
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String name = p.currentName();
                            JsonToken v = p.nextToken();
                            if ("last".equals(name)) {
                                last = p.getIntValue();
                            } else if ("storage".equals(name)) {
                                expect(v, JsonToken.START_OBJECT);
                                storage = new HashMap<>();
                                while (p.nextToken() == JsonToken.FIELD_NAME) {
                                    long key = Long.parseLong(p.currentName());
                                    p.nextToken();
                                    storage.put(key, p.getLongValue());
                                }
                            } else {
                                p.skipChildren();
                            }
                        }
                        if (last == null || storage == null) {
                            throw new IllegalArgumentException("an observation without last or storage");
                        }
                        observed = new Observation(last, storage);
                    }
                    default -> p.skipChildren();
                }
            }
            if (oid == null || held == null) {
                throw new IllegalArgumentException("no oid or columns");
            }
            return new HeldColumns(oid, held, observed);
        } catch (Exception e) {
            throw new IllegalArgumentException("not a record of held columns: " + stored, e);
        }
    }

    private static void expect(JsonToken actual, JsonToken wanted) {
        if (actual != wanted) {
            throw new IllegalArgumentException("expected " + wanted + ", found " + actual);
        }
    }
}
