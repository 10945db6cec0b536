package io.pgsource.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.Column;
import io.pgsource.change.SourceColumns;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Each rule of {@link HeldColumns#plan}: what the destination holds (by source column number, with the catalog it last
 * agreed with) against a new shape and what the catalog says now.
 */
class HeldColumnsTest {
    private static final long OID = 16400;
    private static final Map<Long, Long> STORAGE = Map.of(OID, 16400L);

    /** Held: id #1 integer, name #2 text; the catalog agreed then with last number 2 and storage 16400. */
    private static final HeldColumns HELD = new HeldColumns(OID, List.of(new HeldColumns.Held(1, "id", "integer"),
            new HeldColumns.Held(2, "name", "text")), new HeldColumns.Observation(2, STORAGE));

    /** A catalog: name, number, type, missing value; each entry {name, number, type, missing}. */
    private static SourceColumns catalog(int last, Map<Long, Long> storage, Object[]... columns) {
        Map<String, SourceColumns.Attribute> byName = new LinkedHashMap<>();
        for (Object[] c : columns) {
            byName.put((String) c[0], new SourceColumns.Attribute((int) c[1], (String) c[2], (String) c[3], false));
        }
        return new SourceColumns(OID, byName, last, storage);
    }

    private static Object[] column(String name, int number, String type) {
        return new Object[] {name, number, type, null};
    }

    /** A shape of the table: columns {name, type} in order, with the catalog. */
    private static TableSchema shape(SourceColumns catalog, String... nameType) {
        List<Column> columns = new java.util.ArrayList<>();
        for (int i = 0; i < nameType.length; i += 2) {
            columns.add(new Column(nameType[i], 0, nameType[i + 1], nameType[i + 1]));
        }
        return new TableSchema(new TableId("s", "t"), columns, List.of("id"), List.of(), catalog);
    }

    private static HeldColumns.Plan plan(TableSchema shape, boolean evolves) {
        return HeldColumns.plan(shape, HELD, Set.of("id", "name"), evolves);
    }

    @Test
    void theSameShapeNeedsNothingAndRecordsTheNewLook() {
        HeldColumns.Plan p = plan(shape(catalog(2, Map.of(OID, 16500L), column("id", 1, "integer"), column("name", 2, "text")),
                "id", "integer", "name", "text"), true);
        assertThat(p.copyNeeded()).isFalse();
        assertThat(p.renames()).isEmpty();
        assertThat(p.next().observed().storage()).as("a rewrite without a schema change is the new reference").containsEntry(OID, 16500L);
    }

    @Test
    void aRenameIsFoundByTheColumnsNumber() {
        SourceColumns now = catalog(2, STORAGE, column("id", 1, "integer"), column("title", 2, "text"));
        HeldColumns.Plan p = plan(shape(now, "id", "integer", "title", "text"), true);
        assertThat(p.renames()).containsExactly(Map.entry("name", "title"));
        assertThat(p.next().names()).containsExactlyInAnyOrder("id", "title");
        assertThat(plan(shape(now, "id", "integer", "title", "text"), false).copyReason()).as("an event destination")
                .contains("was renamed to \"title\"");
        assertThat(HeldColumns.plan(shape(now, "id", "integer", "title", "text"), HELD, Set.of("id", "name", "title"), true).copyReason())
                .as("onto a name the destination uses").contains("a name the destination holds another column under");
    }

    @Test
    void aColumnAddedWithAConstantDefaultIsFilledOrCopied() {
        SourceColumns now = catalog(3, STORAGE, column("id", 1, "integer"), column("name", 2, "text"), new Object[] {"qty", 3, "integer", "42"});
        TableSchema s = shape(now, "id", "integer", "name", "text", "qty", "integer");
        assertThat(plan(s, true).fills()).containsExactly(Map.entry("qty", "42"));
        assertThat(plan(s, false).copyReason()).contains("was added with a default");
        Map<String, SourceColumns.Attribute> mixed = new LinkedHashMap<>(now.columns());
        mixed.put("qty", new SourceColumns.Attribute(3, "integer", null, true));
        assertThat(plan(shape(new SourceColumns(OID, mixed, 3, STORAGE), "id", "integer", "name", "text", "qty", "integer"), true)
                .copyReason()).contains("partitions hold different values");
    }

    @Test
    void aColumnAddedWithoutOneIsNullInOlderRowsOnlyWhenNothingWasRewrittenSince() {
        Object[][] columns = {column("id", 1, "integer"), column("name", 2, "text"), column("tag", 3, "text")};
        assertThat(plan(shape(catalog(3, STORAGE, columns), "id", "integer", "name", "text", "tag", "text"), false).copyNeeded())
                .as("added after the last look, no rewrite: nothing to do, also for an event destination").isFalse();
        assertThat(plan(shape(catalog(3, Map.of(OID, 17000L), columns), "id", "integer", "name", "text", "tag", "text"), true)
                .copyReason()).as("a volatile default rewrote the table").contains("rewrote the table");
        HeldColumns lookedLater = new HeldColumns(OID, HELD.columns(), new HeldColumns.Observation(3, STORAGE));
        assertThat(HeldColumns.plan(shape(catalog(3, STORAGE, columns), "id", "integer", "name", "text", "tag", "text"), lookedLater,
                Set.of("id", "name"), true).copyNeeded()).as("it existed at the last look: when it came is unknown").isTrue();
        assertThat(HeldColumns.plan(shape(catalog(3, STORAGE, columns), "id", "integer", "name", "text", "tag", "text"),
                new HeldColumns(OID, HELD.columns(), null), Set.of("id", "name"), true).copyNeeded()).as("never looked").isTrue();
    }

    @Test
    void columnsTheCatalogHasBeforeTheShapeShowsThemAreStillFollowedExactly() {
        // the catalog has tag (#3) and qty (#4) already; this shape comes from before them, the next one shows tag
        SourceColumns ahead = catalog(4, STORAGE, column("id", 1, "integer"), column("name", 2, "text"), column("tag", 3, "text"),
                column("qty", 4, "integer"));
        HeldColumns.Plan first = plan(shape(ahead, "id", "integer", "name", "text"), true);
        assertThat(first.next().observed()).as("the last look, which predates them, stays").isEqualTo(HELD.observed());
        HeldColumns.Plan second = HeldColumns.plan(shape(ahead, "id", "integer", "name", "text", "tag", "text"), first.next(),
                Set.of("id", "name"), true);
        assertThat(second.copyNeeded()).as("added after the last look, nothing rewritten since: NULL in older rows").isFalse();
    }

    @Test
    void aColumnDroppedAndAddedAgainUnderItsNameIsCopied() {
        HeldColumns.Plan p = plan(shape(catalog(3, STORAGE, column("id", 1, "integer"), column("name", 3, "text")),
                "id", "integer", "name", "text"), true);
        assertThat(p.copyReason()).contains("a new column with the name of one the destination holds");
    }

    @Test
    void aTypeChangeIsFollowedOnlyWithoutARewrite() {
        Object[][] columns = {column("id", 1, "bigint"), column("name", 2, "text")};
        HeldColumns.Plan widened = plan(shape(catalog(2, STORAGE, columns), "id", "bigint", "name", "text"), true);
        assertThat(widened.copyNeeded()).as("binary-compatible: the values stay").isFalse();
        assertThat(widened.next().columns()).contains(new HeldColumns.Held(1, "id", "bigint"));
        assertThat(plan(shape(catalog(2, Map.of(OID, 17000L), columns), "id", "bigint", "name", "text"), true).copyReason())
                .contains("changed its type from integer to bigint");
    }

    @Test
    void aShapeOlderThanTheCatalogKeepsWhatTheDestinationHoldsUnderItsNames() {
        // the catalog has renamed name to title already; this shape still says name
        SourceColumns ahead = catalog(2, STORAGE, column("id", 1, "integer"), column("title", 2, "text"));
        HeldColumns.Plan p = plan(shape(ahead, "id", "integer", "name", "text"), true);
        assertThat(p.copyNeeded()).isFalse();
        assertThat(p.next().observed()).as("the catalog disagrees: the last look it agreed with stays").isEqualTo(HELD.observed());
        assertThat(plan(shape(ahead, "id", "integer", "other", "text"), true).copyReason()).as("a column pgsource cannot identify")
                .contains("changed again before pgsource saw what it is");
    }

    @Test
    void withoutARecordTheDestinationsColumnsAreTakenByName() {
        SourceColumns now = catalog(2, STORAGE, column("id", 1, "integer"), column("name", 2, "text"));
        assertThat(HeldColumns.plan(shape(now, "id", "integer", "name", "text"), null, Set.of("id", "name"), true).next())
                .isEqualTo(HELD);
        assertThat(HeldColumns.plan(shape(now, "id", "integer", "name", "text"), null, Set.of("id"), true).copyReason())
                .contains("no record of which source columns the destination holds");
        assertThat(HeldColumns.plan(shape(new SourceColumns(OID + 1, now.columns(), 2, STORAGE), "id", "integer", "name", "text"),
                HELD, Set.of("id", "name"), true).copyReason()).contains("dropped and created again");
    }

    @Test
    void theRecordRoundTrips() {
        assertThat(HeldColumns.parse(HELD.serialize())).isEqualTo(HELD);
        HeldColumns unobserved = new HeldColumns(OID, List.of(new HeldColumns.Held(1, "a \"quoted\", name", "public.mood[]")), null);
        assertThat(HeldColumns.parse(unobserved.serialize())).isEqualTo(unobserved);
    }

    @Test
    void theRecordIsTheOneEarlierVersionsStoredAndReadBack() throws Exception {
        // what the ObjectMapper-built record of earlier versions was (destinations keep it): the same text, read alike
        com.fasterxml.jackson.databind.ObjectMapper mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var root = mapper.createObjectNode().put("oid", OID);
        var cols = root.putArray("columns");
        cols.addArray().add(1).add("id").add("integer");
        cols.addArray().add(2).add("name").add("text");
        root.putObject("observed").put("last", 2).putObject("storage").put(Long.toString(OID), 16400L);
        assertThat(HELD.serialize()).isEqualTo(root.toString())
                .isEqualTo("{\"oid\":16400,\"columns\":[[1,\"id\",\"integer\"],[2,\"name\",\"text\"]],\"observed\":{\"last\":2,\"storage\":{\"16400\":16400}}}");
        HeldColumns other = new HeldColumns(OID, List.of(new HeldColumns.Held(1, "a \"quoted\",\nname \u00e9", "public.mood[]")), null);
        var node = mapper.createObjectNode().put("oid", OID);
        node.putArray("columns").addArray().add(1).add("a \"quoted\",\nname \u00e9").add("public.mood[]");
        assertThat(other.serialize()).isEqualTo(node.toString());
        // fields in another order, whitespace, an unknown field: still read
        assertThat(HeldColumns.parse(" { \"observed\": {\"storage\": {\"16400\": 16400}, \"last\": 2}, \"x\": [1, {\"y\": 2}],"
                + " \"columns\": [[1, \"id\", \"integer\"], [2, \"name\", \"text\"]], \"oid\": 16400 }")).isEqualTo(HELD);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> HeldColumns.parse("{\"oid\":1}")).isInstanceOf(IllegalArgumentException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> HeldColumns.parse("not json")).isInstanceOf(IllegalArgumentException.class);
    }
}
