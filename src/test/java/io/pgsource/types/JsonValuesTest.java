package io.pgsource.types;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
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
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The exact JSON of representative canonical values (the table in package-info). */
class JsonValuesTest {

    @Test
    void numbersKeepEveryDigitAndTheScale() throws IOException {
        assertThat(json(null)).isEqualTo("null");
        assertThat(json((short) -32768)).isEqualTo("-32768");
        assertThat(json(Long.MIN_VALUE)).isEqualTo("-9223372036854775808");
        assertThat(json(4294967295L)).isEqualTo("4294967295");
        assertThat(json(new BigDecimal("1.50"))).isEqualTo("1.50");
        assertThat(json(new BigDecimal("0.00000000000000000001"))).isEqualTo("0.00000000000000000001");
        assertThat(json(new BigDecimal("1E+3"))).isEqualTo("1000");
        assertThat(json(new BigDecimal("9".repeat(40) + ".5"))).isEqualTo("9".repeat(40) + ".5");
        assertThat(json(0.1)).isEqualTo("0.1");
        assertThat(json(0.1f)).isEqualTo("0.1");
        assertThat(json(1e-310)).isEqualTo("1.0E-310");
        assertThat(json(-0.0)).isEqualTo("-0.0");
        assertThat(json(true)).isEqualTo("true");
    }

    @Test
    void nonFiniteValuesAreStrings() throws IOException {
        assertThat(json(Double.NaN)).isEqualTo("\"NaN\"");
        assertThat(json(Float.POSITIVE_INFINITY)).isEqualTo("\"Infinity\"");
        assertThat(json(Double.NEGATIVE_INFINITY)).isEqualTo("\"-Infinity\"");
        assertThat(json(Special.NAN)).isEqualTo("\"NaN\"");
        assertThat(json(Special.INFINITY)).isEqualTo("\"Infinity\"");
        assertThat(json(Special.NEGATIVE_INFINITY)).isEqualTo("\"-Infinity\"");
    }

    @Test
    void datesAndTimesAreIso8601() throws IOException {
        assertThat(json(LocalDate.of(2024, 2, 29))).isEqualTo("\"2024-02-29\"");
        assertThat(json(LocalDate.of(-43, 3, 15))).isEqualTo("\"-0043-03-15\"");
        assertThat(json(LocalDate.of(0, 12, 31))).isEqualTo("\"0000-12-31\"");
        assertThat(json(LocalDate.of(10000, 1, 1))).isEqualTo("\"+10000-01-01\"");
        assertThat(json(LocalTime.of(10, 15))).isEqualTo("\"10:15:00\"");
        assertThat(json(LocalTime.of(10, 15, 0, 1000))).isEqualTo("\"10:15:00.000001\"");
        assertThat(json(LocalTime.MAX)).isEqualTo("\"24:00:00\"");
        assertThat(json(OffsetTime.of(12, 0, 0, 0, ZoneOffset.ofHoursMinutesSeconds(0, 53, 28)))).isEqualTo("\"12:00:00+00:53:28\"");
        assertThat(json(OffsetTime.of(12, 0, 0, 0, ZoneOffset.UTC))).isEqualTo("\"12:00:00Z\"");
        assertThat(json(LocalDateTime.of(-43, 3, 15, 12, 0, 0, 500_000_000))).isEqualTo("\"-0043-03-15T12:00:00.5\"");
        assertThat(json(OffsetDateTime.of(2024, 1, 1, 6, 30, 0, 123_456_000, ZoneOffset.UTC))).isEqualTo("\"2024-01-01T06:30:00.123456Z\"");
        assertThat(json(OffsetDateTime.of(2024, 1, 1, 12, 0, 0, 0, ZoneOffset.ofHoursMinutes(5, 30))))
                .isEqualTo("\"2024-01-01T12:00:00+05:30\"");
        assertThat(json(new Interval(10, 3, -14_706_789_000L))).isEqualTo("\"P10M3DT-4H-5M-6.789S\"");
    }

    @Test
    void structuredValues() throws IOException {
        assertThat(json(Bytes.fromHex("00ff10"))).isEqualTo("\"AP8Q\"");
        assertThat(json(Bytes.fromHex("00ff"))).isEqualTo("\"AP8=\"");
        assertThat(json(new Json("{\"a\": [1, 2.50, 1e400], \"a\": \"\\u00e9\"}"))).isEqualTo("{\"a\": [1, 2.50, 1e400], \"a\": \"\\u00e9\"}");
        assertThat(json(new Json("{\"x\":\n 1}"))).isEqualTo("{\"x\":  1}");
        assertThat(json(UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))).isEqualTo("\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
        Map<String, String> h = new LinkedHashMap<>();
        h.put("b", "1");
        h.put("a", null);
        assertThat(json(h)).isEqualTo("{\"b\":\"1\",\"a\":null}");
        assertThat(json(Arrays.asList(List.of(1, 2), Arrays.asList(null, 4)))).isEqualTo("[[1,2],[null,4]]");
        assertThat(json(List.of(Special.NAN, new BigDecimal("1.50")))).isEqualTo("[\"NaN\",1.50]");
        assertThat(json("é \"q\" \n")).isEqualTo("\"é \\\"q\\\" \\n\"");
        assertThat(json("192.168.0.1/24")).isEqualTo("\"192.168.0.1/24\"");
    }

    private static String json(Object value) throws IOException {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(w)) {
            JsonValues.write(g, value);
        }
        return w.toString();
    }
}
