package io.pgsource.types;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The text forms on their own (no server needed); the round trip through PostgreSQL is TypeRoundTripTest. */
class ValueFormsTest {

    @Test
    void intervalParsesAndPrintsPostgresIsoForm() {
        assertThat(Interval.parse("P1Y2M3DT4H5M6.789S")).isEqualTo(new Interval(14, 3, 14_706_789_000L));
        assertThat(Interval.parse("P10M3DT-4H-5M-6.789S")).isEqualTo(new Interval(10, 3, -14_706_789_000L));
        assertThat(Interval.parse("PT-0.5S")).isEqualTo(new Interval(0, 0, -500_000));
        assertThat(Interval.parse("PT0S")).isEqualTo(Interval.ZERO);
        assertThat(Interval.parse("P-1Y-2M")).isEqualTo(new Interval(-14, 0, 0));
        assertThat(Interval.parse("PT0.0000005S")).isEqualTo(new Interval(0, 0, 1));
        assertThat(new Interval(14, 3, 14_706_789_000L)).hasToString("P1Y2M3DT4H5M6.789S");
        assertThat(new Interval(10, 3, -14_706_789_000L)).hasToString("P10M3DT-4H-5M-6.789S");
        assertThat(new Interval(0, 0, -500_000)).hasToString("PT-0.5S");
        assertThat(new Interval(0, 0, 3_600_000_000_000L + 1)).hasToString("PT1000H0.000001S");
        assertThat(Interval.ZERO).hasToString("PT0S");
        assertThat(new Interval(-14, -1, 0)).hasToString("P-1Y-2M-1D");
        for (String bad : List.of("", "P", "1Y", "P1", "P1.5Y", "PT1.5H", "PTT1H", "P1X", "@ 1 year", "P99999999999Y")) {
            assertThatThrownBy(() -> Interval.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void datesAndTimesFormatAsPostgresInput() {
        assertThat(PgText.format(LocalDate.of(-43, 3, 15))).isEqualTo("0044-03-15 BC");
        assertThat(PgText.format(LocalDate.of(0, 1, 1))).isEqualTo("0001-01-01 BC");
        assertThat(PgText.format(LocalDate.of(10000, 1, 1))).isEqualTo("10000-01-01");
        assertThat(PgText.format(LocalTime.MAX)).isEqualTo("24:00:00");
        assertThat(PgText.format(LocalTime.of(1, 2))).isEqualTo("01:02:00");
        assertThat(PgText.format(LocalDateTime.of(-43, 3, 15, 12, 0, 0, 1000))).isEqualTo("0044-03-15 12:00:00.000001 BC");
        assertThat(PgText.format(OffsetDateTime.of(2024, 1, 1, 6, 30, 0, 500_000_000, ZoneOffset.UTC)))
                .isEqualTo("2024-01-01 06:30:00.5+00:00");
        assertThat(PgText.format(OffsetDateTime.of(-43, 1, 1, 0, 0, 0, 0, ZoneOffset.ofHoursMinutesSeconds(0, 53, 28))))
                .isEqualTo("0044-01-01 00:00:00+00:53:28 BC");
        assertThat(PgText.format(OffsetTime.of(LocalTime.MAX, ZoneOffset.ofHoursMinutes(-5, -30)))).isEqualTo("24:00:00-05:30");
        assertThat(PgText.format(Special.NEGATIVE_INFINITY)).isEqualTo("-Infinity");
    }

    @Test
    void scalarsFormatAsPostgresInput() {
        assertThat(PgText.format(null)).isNull();
        assertThat(PgText.format(new BigDecimal("1E+3"))).isEqualTo("1000");
        assertThat(PgText.format(new BigDecimal("1.50"))).isEqualTo("1.50");
        assertThat(PgText.format(Double.NaN)).isEqualTo("NaN");
        assertThat(PgText.format(Float.NEGATIVE_INFINITY)).isEqualTo("-Infinity");
        assertThat(PgText.format(true)).isEqualTo("t");
        assertThat(PgText.format(Bytes.of(new byte[] {0, -1}))).isEqualTo("\\x00ff");
        assertThat(PgText.format(new Json("{\"a\": 1}"))).isEqualTo("{\"a\": 1}");
        Map<String, String> h = new LinkedHashMap<>();
        h.put("k \"1\"", "v\\");
        h.put("n", null);
        assertThat(PgText.format(h)).isEqualTo("\"k \\\"1\\\"\"=>\"v\\\\\", \"n\"=>NULL");
    }

    @Test
    void arraysQuoteWhatArrayInWouldMisread() {
        assertThat(PgText.format(Arrays.asList("a", null, "NULL", "", "x y", "q\"b\\", "{", "é", List.of()))).isEqualTo(
                "{a,NULL,\"NULL\",\"\",\"x y\",\"q\\\"b\\\\\",\"{\",é,{}}");
        assertThat(PgText.format(List.of(List.of(1, 2), List.of(3, 4)))).isEqualTo("{{1,2},{3,4}}");
        assertThat(PgText.format(List.of(LocalDate.of(-43, 3, 15), Special.INFINITY))).isEqualTo("{\"0044-03-15 BC\",Infinity}");
        assertThat(PgText.format(PgArray.of(List.of()))).isEqualTo("{}");
    }

    @Test
    void arrayDecoderReadsArrayOutAndLenientInput() {
        ArrayDecoder texts = new ArrayDecoder(Decoders.TEXT, ',');
        assertThat(texts.decode("{a,\"NULL\",NULL,null,\"x\\\"y\\\\z\",\"\",\"a,b\"}"))
                .isEqualTo(Arrays.asList("a", "NULL", null, null, "x\"y\\z", "", "a,b"));
        assertThat(texts.decode("{a\\,b}")).isEqualTo(List.of("a,b"));
        assertThat(texts.decode("{}")).isEqualTo(List.of());
        for (String bad : List.of("", "{", "{a", "{a,}", "[0:1]{a,b}", "{a}x", "{\"a}")) {
            assertThatThrownBy(() -> texts.decode(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void copyEscapesTheFourSpecialCharactersAndNull() {
        assertThat(PgText.copyEscape(null)).isEqualTo("\\N");
        assertThat(PgText.copyEscape("plain é")).isEqualTo("plain é");
        assertThat(PgText.copyEscape("\\N")).isEqualTo("\\\\N");
        assertThat(PgText.copyEscape("a\tb\nc\rd\\e")).isEqualTo("a\\tb\\nc\\rd\\\\e");
    }

    @Test
    void bytesHaveContentEquality() {
        Bytes a = Bytes.fromHex("00ff");
        byte[] raw = {0, -1};
        Bytes b = Bytes.of(raw);
        raw[0] = 1; // a copy: later changes to the array do not leak in
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b).hasToString("\\x00ff");
        assertThat(a.toBase64()).isEqualTo("AP8=");
        assertThat(Decoders.BYTEA.decode("\\x00ff")).isEqualTo(a);
        assertThatThrownBy(() -> Decoders.BYTEA.decode("\\000")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void moneyParsesEveryLocaleSign() {
        assertThat(Decoders.MONEY.decode("-$1,234.56")).isEqualTo(new BigDecimal("-1234.56"));
        assertThat(Decoders.MONEY.decode("($1,234.56)")).isEqualTo(new BigDecimal("-1234.56"));
        assertThat(Decoders.MONEY.decode("$0.00")).isEqualTo(new BigDecimal("0.00"));
    }

    @Test
    void dateTimeDecodersRejectOtherStyles() {
        for (String bad : List.of("03/15/2024", "2024-3-15", "15.03.2024", "2024-03-15 12:00", "2024-02-30")) {
            assertThatThrownBy(() -> Decoders.TIMESTAMP.decode(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(Decoders.TIMESTAMPTZ.decode("2024-01-01 00:00:00+00:53:28"))
                .isEqualTo(OffsetDateTime.of(2023, 12, 31, 23, 6, 32, 0, ZoneOffset.UTC));
    }
}
