package io.pgsource.pgoutput;

import static io.pgsource.pgoutput.PgOutputTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Row;
import io.pgsource.pgoutput.PgOutputTestSupport.Collector;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.TypeRegistry;
import java.math.BigDecimal;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.camel.Exchange;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code binary=true} end to end: the same transactions read by a text-mode route and a binary-mode route, both
 * type-mapped, give equal rows; the binary route's raw values really were binary.
 */
class BinaryModeConsumerTest extends CamelTestSupport {
    private static PgOutputTestSupport db;
    private static TypeRegistry types;

    @BeforeAll
    static void database() throws Exception {
        Assumptions.assumeTrue(TestPostgres.server().majorVersion() >= 14, "pgoutput's binary mode came with PostgreSQL 14");
        db = new PgOutputTestSupport("pgoutput_binary");
        db.execute("CREATE EXTENSION hstore", "CREATE TYPE mood AS ENUM ('sad', 'happy')", "CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
                "CREATE TABLE orders (id bigint PRIMARY KEY, qty int, note text, amount numeric(12,2), code varchar(100),"
                        + " created timestamptz, updated timestamptz, doc jsonb, paid bool, tags text[], attrs hstore, m mood,"
                        + " p posint, d date, t time, tz timetz, i interval, u uuid, b bytea, f float8, r real, cash money)",
                "ALTER TABLE orders REPLICA IDENTITY FULL",
                "CREATE PUBLICATION orders_pub FOR TABLE orders",
                "CREATE TABLE plain (id int PRIMARY KEY, v text)",
                "CREATE TABLE shapes (id int PRIMARY KEY, at point)",
                "CREATE PUBLICATION mixed_pub FOR TABLE plain, shapes");
        try (Connection c = db.connect()) {
            types = TypeRegistry.load(c);
        }
    }

    @AfterAll
    static void dropSlots() throws Exception {
        if (db != null) {
            db.dropSlots();
        }
    }

    @Test
    void binaryModeDeliversTheSameTypeMappedRowsAsTextMode() throws Exception {
        String textSlot = db.createSlot("text_mode");
        String binarySlot = db.createSlot("binary_mode");
        Collector text = new Collector();
        Collector binary = new Collector();
        List<Class<?>> rawClasses = new CopyOnWriteArrayList<>();
        TypeMappingProcessor typeMapping = new TypeMappingProcessor(types);
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from(db.uri(textSlot, "orders_pub", "")).routeId("text").process(typeMapping).process(text);
                from(db.uri(binarySlot, "orders_pub", "binary=true")).routeId("binary")
                        .process(e -> recordRawClasses(e, rawClasses)).process(typeMapping).process(binary);
            }
        });

        db.transaction("INSERT INTO orders VALUES (1, 3, 'é note', 12.5, 'A-1', '2024-01-01 12:00:00.123456+05:30', 'infinity',"
                        + " '{\"b\": [1, 2.50], \"a\": null}', true, '{x,NULL,\"y z\"}', 'k=>v, n=>NULL', 'happy', 7, '0044-03-15 BC',"
                        + " '24:00:00', '12:00:00+00:53:28', 'P1Y2M3DT4H5M6.789S', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff',"
                        + " 'NaN', '-0', -1234.56)",
                "INSERT INTO orders (id) VALUES (2)");
        db.transaction("UPDATE orders SET amount = 99999.99, note = NULL WHERE id = 1", "DELETE FROM orders WHERE id = 2");
        await(Duration.ofSeconds(20), () -> text.events().size() >= 4 && binary.events().size() >= 4, "4 events on both routes");

        List<ChangeEvent> t = text.events();
        List<ChangeEvent> b = binary.events();
        assertThat(b).extracting(ChangeEvent::op).containsExactly(Op.INSERT, Op.INSERT, Op.UPDATE, Op.DELETE);
        assertThat(b).hasSameSizeAs(t);
        for (int i = 0; i < t.size(); i++) {
            assertThat(b.get(i).before()).isEqualTo(t.get(i).before());
            assertThat(b.get(i).after()).isEqualTo(t.get(i).after());
        }
        Row first = b.get(0).after();
        assertThat(first.get("amount")).isEqualTo(new BigDecimal("12.50"));
        assertThat(first.get("cash")).isEqualTo(new BigDecimal("-1234.56"));
        assertThat(first.get("id")).isEqualTo(1L);
        assertThat(rawClasses).contains(byte[].class).doesNotContain(String.class);
    }

    @Test
    void withBinaryTypesTheStreamIsBinaryUntilARelationHasAColumnWithoutBinaryDecoderThenTextFromTheSamePosition() throws Exception {
        assertThat(types.decodesBinary(23)).isTrue();
        assertThat(types.decodesBinary(1007)).as("int4[]").isTrue();
        assertThat(types.decodesBinary(600)).as("point").isFalse();
        assertThat(types.decodesBinary(1017)).as("point[]").isFalse();
        String slot = db.createSlot("auto_mode");
        Collector collector = new Collector();
        List<Class<?>> rawClasses = new CopyOnWriteArrayList<>();
        TypeMappingProcessor typeMapping = new TypeMappingProcessor(types);
        context.getRegistry().bind("decodable", (java.util.function.IntPredicate) types::decodesBinary);
        context.addRoutes(new RouteBuilder() {
            @Override
            public void configure() {
                from(db.uri(slot, "mixed_pub", "binary=true&binaryTypes=#decodable")).routeId("auto")
                        .process(e -> recordRawClasses(e, rawClasses)).process(typeMapping).process(collector);
            }
        });

        db.transaction("INSERT INTO plain VALUES (1, 'binary')");
        await(Duration.ofSeconds(20), () -> collector.events().size() >= 1, "the first row");
        assertThat(rawClasses).containsOnly(byte[].class);

        // point has no binary decoder: the consumer reads this transaction (and everything after) in text mode
        db.transaction("INSERT INTO plain VALUES (2, 'before the shape')", "INSERT INTO shapes VALUES (1, '(1.5,2)')");
        db.transaction("INSERT INTO plain VALUES (3, 'text')");
        await(Duration.ofSeconds(20), () -> collector.events().size() >= 4, "all four rows");
        PgOutputTestSupport.sleep(500); // anything delivered twice would arrive now

        assertThat(collector.events()).extracting(e -> e.after().get(0)).containsExactly(1, 2, 1, 3);
        assertThat(collector.events().get(2).after().get("at")).isEqualTo("(1.5,2)");
        assertThat(rawClasses.subList(2, rawClasses.size())).containsOnly(String.class);
    }

    private static void recordRawClasses(Exchange exchange, List<Class<?>> classes) {
        for (ChangeEvent e : exchange.getMessage().getBody(io.pgsource.change.ChangeBatch.class)) {
            for (Row row : new Row[] {e.before(), e.after()}) {
                if (row != null) {
                    for (int i = 0; i < row.size(); i++) {
                        if (row.get(i) != null) {
                            classes.add(row.get(i).getClass());
                        }
                    }
                }
            }
        }
    }
}
