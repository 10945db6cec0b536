package io.pgsource.types;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** COPY text lines as the server prints them (and as COPY FROM reads them) back into fields. */
class CopyTextTest {

    private static Object[] parse(String line, int columns) {
        return CopyText.parseLine(line.getBytes(StandardCharsets.UTF_8), columns);
    }

    @Test
    void fieldsNullsAndTheNewline() {
        assertThat(parse("1\t\\N\t\té中文😀\n", 4)).containsExactly("1", null, "", "é中文😀");
        assertThat(parse("\\N", 1)).containsExactly((Object) null);
        assertThat(parse("", 1)).containsExactly("");
    }

    @Test
    void escapesAreTheInverseOfCopyEscape() {
        String nasty = "a\\b\tc\nd\re\\N \u0001\u000b\f\b";
        assertThat(parse(PgText.copyEscape(nasty) + "\t" + PgText.copyEscape(null) + "\n", 2)).containsExactly(nasty, null);
        assertThat(parse("\\\\N", 1)).containsExactly("\\N");
    }

    @Test
    void octalHexAndOtherEscapesAsCopyFromReadsThem() {
        assertThat(parse("\\101\\x42\\x4a\\7\\q\\v", 1)).containsExactly("ABJ\u0007q\u000b");
        // escaped bytes of one multi-byte character
        assertThat(parse("\\303\\251", 1)).containsExactly("é");
    }

    @Test
    void aWrongFieldCountFails() {
        assertThatThrownBy(() -> parse("1\t2\t3", 2)).hasMessageContaining("more than the expected 2 fields");
        assertThatThrownBy(() -> parse("1", 2)).hasMessageContaining("has 1 fields, expected 2");
    }
}
