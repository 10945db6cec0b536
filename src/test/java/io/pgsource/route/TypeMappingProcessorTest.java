package io.pgsource.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.testsupport.TestPostgres;
import io.pgsource.types.TypeRegistry;
import java.sql.Connection;
import java.util.List;
import java.util.Set;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TypeMappingProcessorTest {
    private static TypeRegistry types;
    private static final TableSchema SCHEMA = new TableSchema(new TableId("s", "t"), List.of(
            new Column("id", 23, "integer", "integer"),
            new Column("amount", 1700, "numeric(12,2)", "numeric(12,2)"),
            new Column("at", 1184, "timestamp with time zone", "timestamp with time zone"),
            new Column("name", 25, "text", "text")), List.of("id"));
    private static final Position POSITION = new Position.Batch("s.t", "{}");

    @BeforeAll
    static void loadTypes() throws Exception {
        String db = TestPostgres.server().createDatabase("typemapping");
        try (Connection c = TestPostgres.server().connect(db)) {
            types = TypeRegistry.load(c);
        }
    }

    private static Exchange exchange(Object body) {
        CamelContext context = new DefaultCamelContext();
        Exchange e = new DefaultExchange(context);
        e.getMessage().setBody(body);
        return e;
    }

    @Test
    void decodesEveryRawValueOfBeforeAndAfterInPlace() {
        Integer canonical = 7;
        Row after = new Row(SCHEMA, new Object[] {"1", "12.50", "2024-01-01 00:00:00+00", null});
        Row before = new Row(SCHEMA, new Object[] {canonical, null, "1999-12-31 23:59:59.999999+00", "x"});
        ChangeBatch batch = new ChangeBatch(List.of(
                ChangeEvent.read(after, POSITION),
                new ChangeEvent(Op.UPDATE, SCHEMA, before, new Row(SCHEMA, new Object[] {"2", "-0.01", "infinity", "ü"}), Set.of(), POSITION),
                ChangeEvent.truncate(SCHEMA, POSITION)), POSITION, true);

        new TypeMappingProcessor(types).process(exchange(batch));

        assertThat(after.get(0)).isEqualTo(types.decoder(23).decode("1"));
        assertThat(after.get(1)).isEqualTo(types.decoder(1700).decode("12.50"));
        assertThat(after.get(2)).isEqualTo(types.decoder(1184).decode("2024-01-01 00:00:00+00"));
        assertThat(after.get(3)).isNull();
        assertThat(before.get(0)).isSameAs(canonical);
        assertThat(before.get(1)).isNull();
        assertThat(before.get(3)).isEqualTo(types.decoder(25).decode("x"));
        assertThat(batch.get(1).after().get(2)).isEqualTo(types.decoder(1184).decode("infinity"));
    }

    @Test
    void aSingleEventIsMappedAndOtherBodiesPass() {
        Row row = new Row(SCHEMA, new Object[] {"3", null, null, "n"});
        new TypeMappingProcessor(types).process(exchange(ChangeEvent.read(row, POSITION)));
        assertThat(row.get(0)).isEqualTo(types.decoder(23).decode("3"));

        Exchange other = exchange("not a batch");
        new TypeMappingProcessor(types).process(other);
        assertThat(other.getMessage().getBody()).isEqualTo("not a batch");
    }
}
