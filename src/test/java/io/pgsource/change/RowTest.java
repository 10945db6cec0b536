package io.pgsource.change;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RowTest {
    private static final TableSchema T = new TableSchema(new TableId("public", "t"),
            List.of(new Column("id", 23, "integer", "integer"), new Column("n", 23, "integer", "integer"),
                    new Column("b", 17, "bytea", "bytea"), new Column("x", 23, "integer", "integer")), List.of("id"));

    /** Decodes integers' text, and a byte[] into its length; records which columns it decoded. */
    private static final class Counting implements Row.Decoding {
        final List<Integer> decoded = new ArrayList<>();

        @Override
        public Object decode(Row row, int column, Object raw) {
            decoded.add(column);
            return raw instanceof byte[] b ? b.length : Integer.valueOf((String) raw);
        }
    }

    @Test
    void aRawValueIsDecodedOnceWhenFirstReadAndKeepsItsArrivalFormUntilThen() {
        Counting d = new Counting();
        Row row = new Row(T, new Object[] {"1", "22", new byte[3], 7});
        row.decodeLazily(d);

        assertThat(d.decoded).isEmpty();
        assertThat(row.raw(1)).isEqualTo("22");
        assertThat(row.raw(2)).isEqualTo(new byte[3]);
        assertThat(row.raw(3)).isNull(); // already a canonical value: nothing to decode
        assertThat(row.get(1)).isEqualTo(22);
        assertThat(row.raw(1)).isEqualTo("22"); // still there for a writer that takes the value as it arrived
        assertThat(d.decoded).containsExactly(1);

        assertThat(row.key()).containsExactly(1);
        row.set(2, 99);
        assertThat(row.raw(2)).isNull();
        assertThat(row.get(2)).isEqualTo(99);
        assertThat(row.get(3)).isEqualTo(7);
        assertThat(d.decoded).containsExactly(1, 0);
    }

    @Test
    void readersSeeCanonicalValues() {
        Row lazy = new Row(T, new Object[] {"1", "22", new byte[3], null});
        lazy.decodeLazily(new Counting());
        Row decoded = new Row(T, new Object[] {1, 22, 3, null});

        assertThat(lazy.asMap()).containsEntry("n", 22).containsEntry("b", 3);
        Row other = new Row(T, new Object[] {"1", "22", new byte[3], null});
        other.decodeLazily(new Counting());
        assertThat(other).isEqualTo(decoded).hasSameHashCodeAs(decoded);
        assertThat(other.raw(1)).isEqualTo("22");
        other.decodeAll();
        assertThat(other.raw(1)).isNull();
        assertThat(other.get(1)).isEqualTo(22);
        assertThat(lazy.toString()).isEqualTo(decoded.toString());
    }

    private static byte[] line(String text) {
        return text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void aCopyTextLineIsSplitOnlyWhenAValueIsReadAndGivesTheSameValuesAsStrings() {
        Counting d = new Counting();
        // a report field after the table's columns and a newline: not part of the row
        byte[] bytes = line("1\t22\t\\N\t7\t\\N\n");
        Row row = Row.ofCopyText(T, bytes, 9);
        row.decodeLazily(d);

        assertThat(row.copyText()).isSameAs(bytes);
        assertThat(row.copyTextEnd()).isEqualTo(9);
        assertThat(row.size()).isEqualTo(4);
        assertThat(d.decoded).isEmpty();
        assertThat(row.raw(1)).isEqualTo("22");
        assertThat(row.raw(2)).isNull(); // NULL
        assertThat(row.get(1)).isEqualTo(22);
        assertThat(row.get(3)).isEqualTo(7);
        assertThat(d.decoded).containsExactly(1, 3);
        assertThat(row.copyText()).isSameAs(bytes); // read, not replaced: the line still holds every value as it arrived

        Row strings = new Row(T, new Object[] {"1", "22", null, "7"});
        strings.decodeLazily(new Counting());
        assertThat(row).isEqualTo(strings).hasSameHashCodeAs(strings);
        assertThat(row.key()).containsExactly(1);

        row.set(3, 8);
        assertThat(row.copyText()).isNull();
        assertThat(row.get(3)).isEqualTo(8);
        assertThat(row.get(0)).isEqualTo(1);
    }

    @Test
    void aCopyTextLineReadBeforeTheTypeMappingHoldsItsTextValues() {
        Row row = Row.ofCopyText(T, line("1\tab\\tc\t\\N\t"), 11);
        assertThat(row.get(1)).isEqualTo("ab\tc");
        assertThat(row.get(3)).isEqualTo("");
        assertThat(row.raw(1)).isNull(); // not mapped yet: the Strings are its values
        Counting d = new Counting();
        row.decodeLazily(d);
        assertThat(row.raw(0)).isEqualTo("1");
        assertThat(row.get(0)).isEqualTo(1);
        assertThat(d.decoded).containsExactly(0);

        Row all = Row.ofCopyText(T, line("1\t2\t\\N\t4"), 8);
        all.decodeLazily(new Counting());
        all.decodeAll();
        assertThat(all.copyText()).isNull(); // decoded for good: its values are no longer the line's
        assertThat(all.get(3)).isEqualTo(4);
    }

    @Test
    void aCopyTextLineWithTheWrongNumberOfFieldsFailsWhenSplit() {
        Row row = Row.ofCopyText(T, line("1\t2\t3"), 5);
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> row.get(0))).hasMessageContaining("has 3 fields, expected 4");
    }
}
