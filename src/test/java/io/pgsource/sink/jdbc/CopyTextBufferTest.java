package io.pgsource.sink.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.Row;
import io.pgsource.change.TableSchema;
import io.pgsource.sink.TestChanges;
import io.pgsource.types.Bytes;
import io.pgsource.types.Json;
import io.pgsource.types.PgText;
import io.pgsource.types.Special;
import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The byte writer gives exactly the bytes of the string path: copyEscape(format(value)) in UTF-8, tabs, newlines. */
class CopyTextBufferTest {

    @Test
    void sameBytesAsTheStringPathForEveryKindOfValue() throws Exception {
        List<Object> values = List.of(0L, -1L, Long.MIN_VALUE, Long.MAX_VALUE, Integer.MIN_VALUE, (short) -32768, 42,
                true, false, "", "plain", "tab\there\nnew\rcr\\back", "é中文😀", "lone \uD800 surrogate", "\\N",
                new BigDecimal("-12345678901234567890.123456789"), Special.NAN, 1.5e-300, Float.NaN,
                OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 600_000_000, ZoneOffset.UTC), new Json("{\"a\": \"x\\ty\"}"),
                Bytes.of(new byte[] {0, '\\', (byte) 0xff}), UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                List.of("a b", "c\"d"));
        List<Object> withNull = new ArrayList<>(values);
        withNull.add(null);
        Object[] cells = withNull.toArray();
        TableSchema t = TestChanges.table("s", "t", List.of(), columns(cells.length));
        Row row = new Row(t, cells);
        int[] all = new int[cells.length];
        int[] some = {3, 11, cells.length - 1};
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CopyTextBuffer buffer = CopyTextBuffer.into(out);
        for (int i = 0; i < 2000; i++) { // more than one 64 kB chunk
            buffer.row(row, i % 2 == 0 ? all : some);
        }
        buffer.flush();

        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < 2000; i++) {
            int[] columns = i % 2 == 0 ? all : some;
            for (int j = 0; j < columns.length; j++) {
                expected.append(j == 0 ? "" : "\t").append(PgText.copyEscape(PgText.format(cells[columns[j]])));
            }
            expected.append('\n');
        }
        assertThat(out.toByteArray()).isEqualTo(expected.toString().getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aRowStillItsCopyTextLineGoesAsThatLineWhenEveryColumnIsWrittenAsItArrived() throws Exception {
        TableSchema t = TestChanges.table("s", "t", List.of(), columns(3));
        // as COPY TO prints them: escapes kept as they are, a guard's report field after the columns
        String text = "1\ttab\\there\\\\\t\\N";
        byte[] line = (text + "\t\\N\n").getBytes(StandardCharsets.UTF_8);
        int end = text.length();
        boolean[] asArrived = {true, true, true};
        int[] all = {0, 1, 2};

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CopyTextBuffer buffer = CopyTextBuffer.into(out);
        assertThat(buffer.line(Row.ofCopyText(t, line, end), all, asArrived)).isTrue();
        // not when a column is left out, or one may not go as it arrived (money), or a value was replaced
        assertThat(buffer.line(Row.ofCopyText(t, line, end), new int[] {0, 2}, asArrived)).isFalse();
        assertThat(buffer.line(Row.ofCopyText(t, line, end), all, new boolean[] {true, false, true})).isFalse();
        Row replaced = Row.ofCopyText(t, line, end);
        replaced.set(0, "2");
        assertThat(buffer.line(replaced, all, asArrived)).isFalse();
        assertThat(buffer.line(new Row(t, new Object[] {"1", "a", null}), all, asArrived)).isFalse();
        buffer.flush();
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(text + "\n");

        // the same bytes as the values' path
        Row split = Row.ofCopyText(t, line, end);
        split.get(0);
        ByteArrayOutputStream viaValues = new ByteArrayOutputStream();
        CopyTextBuffer values = CopyTextBuffer.into(viaValues);
        values.row(new Row(t, new Object[] {split.get(0), split.get(1), split.get(2)}), all);
        values.flush();
        assertThat(viaValues.toString(StandardCharsets.UTF_8)).isEqualTo(text + "\n");
    }

    @Test
    void aRowStillItsCopyBinaryTupleGoesAsThatTupleWhenEveryColumnIsWritten() throws Exception {
        TableSchema t = TestChanges.table("s", "t", List.of(), columns(3));
        // a tuple as COPY TO (FORMAT binary) sends it: 2 bytes of field count, then "ab", NULL, "" and a report field (NULL)
        byte[] tuple = {9, 9, 0, 4, 0, 0, 0, 2, 'a', 'b', -1, -1, -1, -1, 0, 0, 0, 0, -1, -1, -1, -1};
        int start = 4;
        int end = 18;
        byte[] expected = {0, 3, 0, 0, 0, 2, 'a', 'b', -1, -1, -1, -1, 0, 0, 0, 0};

        ByteArrayOutputStream whole = new ByteArrayOutputStream();
        CopyTextBuffer buffer = CopyTextBuffer.into(whole);
        Row row = Row.ofCopyBinary(t, tuple, start, end);
        assertThat(CopyTextBuffer.binaryValues(List.of(row), new int[] {0, 1, 2})).isTrue();
        buffer.binaryRow(row, new int[] {0, 1, 2});
        buffer.flush();
        assertThat(whole.toByteArray()).isEqualTo(expected);
        assertThat(row.copyText()).isNull();

        // split into its values (a column left out), the same bytes for the columns written
        ByteArrayOutputStream some = new ByteArrayOutputStream();
        CopyTextBuffer values = CopyTextBuffer.into(some);
        Row split = Row.ofCopyBinary(t, tuple, start, end);
        // its values are raw only for a row the pipeline's type mapping decodes (as every row it writes): else text
        assertThat(CopyTextBuffer.binaryValues(List.of(split), new int[] {0, 2})).isFalse();
        split.decodeLazily((r, c, raw) -> new String((byte[]) raw, StandardCharsets.UTF_8));
        assertThat(CopyTextBuffer.binaryValues(List.of(split), new int[] {0, 2})).isTrue();
        values.binaryRow(split, new int[] {0, 2});
        values.flush();
        assertThat(some.toByteArray()).isEqualTo(new byte[] {0, 2, 0, 0, 0, 2, 'a', 'b', 0, 0, 0, 0});
        assertThat(split.get(0)).isEqualTo("ab");
        assertThat(split.get(1)).isNull();
        assertThat(split.copyBinary()).isSameAs(tuple);

        // a value replaced: no longer the tuple
        Row replaced = Row.ofCopyBinary(t, tuple, start, end);
        replaced.set(1, "x");
        assertThat(replaced.copyBinary()).isNull();
        assertThat(CopyTextBuffer.binaryValues(List.of(replaced), new int[] {0, 1, 2})).isFalse();
    }

    private static io.pgsource.change.Column[] columns(int n) {
        io.pgsource.change.Column[] c = new io.pgsource.change.Column[n];
        for (int i = 0; i < n; i++) {
            c[i] = TestChanges.col("c" + i, "text");
        }
        return c;
    }
}
