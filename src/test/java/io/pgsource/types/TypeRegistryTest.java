package io.pgsource.types;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TypeRegistryTest {

    @Test
    void resolvesUserTypesAndPassesUnknownOnesThrough() throws Exception {
        TestPostgres pg = TestPostgres.server();
        String db = pg.createDatabase("types_registry");
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            SessionSettings.apply(c);
            s.execute("CREATE SCHEMA ext");
            s.execute("CREATE EXTENSION hstore SCHEMA ext");
            s.execute("CREATE DOMAIN money2 AS numeric(20,2)");
            s.execute("CREATE DOMAIN money2s AS money2[]");
            TypeRegistry registry = TypeRegistry.load(c);

            assertThat(registry.decode(oid(s, "ext.hstore"), "\"a\"=>NULL")).isEqualTo(Collections.singletonMap("a", null));
            assertThat(registry.decode(oid(s, "ext.hstore[]"), "{\"\\\"a\\\"=>\\\"b\\\"\"}"))
                    .isEqualTo(List.of(Map.of("a", "b")));
            assertThat(registry.decode(oid(s, "money2"), "1.50")).isEqualTo(new BigDecimal("1.50"));
            assertThat(registry.decode(oid(s, "money2s"), "{1.50,NULL}")).isEqualTo(Arrays.asList(new BigDecimal("1.50"), null));
            assertThat(registry.decode(oid(s, "money2[]"), "{2.00}")).isEqualTo(List.of(new BigDecimal("2.00")));
            assertThat(registry.decode(oid(s, "int4"), null)).isNull();
            assertThat(registry.knows(oid(s, "money2"))).isTrue();

            s.execute("CREATE DOMAIN late AS int8");
            int late = oid(s, "late");
            assertThat(registry.knows(late)).isFalse();
            assertThat(registry.decode(late, "12")).isEqualTo("12"); // text until reloaded, never a failure
            assertThat(TypeRegistry.load(c).decode(late, "12")).isEqualTo(12L);
            assertThat(registry.decode(999_999_999, "anything")).isEqualTo("anything");
        }
    }

    @Test
    void arrayDecoderKeepsLowerBoundsAndDelimiter() throws Exception {
        TestPostgres pg = TestPostgres.server();
        try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
            TypeRegistry registry = TypeRegistry.load(c);
            PgArray a = (PgArray) registry.decode(oid(s, "int4[]"), "[0:1][-2:-1]={{1,2},{3,4}}");
            assertThat(a.lowerBounds()).containsExactly(0, -2);
            assertThat(PgText.format(a)).isEqualTo("[0:1][-2:-1]={{1,2},{3,4}}");
            PgArray plain = (PgArray) registry.decode(oid(s, "int4[]"), "[1:2]={1,2}");
            assertThat(plain.lowerBounds()).isEmpty();
            assertThat(PgText.format(plain)).isEqualTo("{1,2}");
            PgArray boxes = (PgArray) registry.decode(oid(s, "box[]"), "{(1,1),(0,0);(2,2),(1,1)}");
            assertThat(boxes.delimiter()).isEqualTo(';');
            assertThat(PgText.format(boxes)).isEqualTo("{(1,1),(0,0);(2,2),(1,1)}");
        }
    }

    private static int oid(Statement s, String type) throws Exception {
        try (ResultSet rs = s.executeQuery("SELECT '" + type + "'::regtype::oid")) {
            rs.next();
            return (int) rs.getLong(1);
        }
    }
}
