package io.pgsource.route;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Row;
import io.pgsource.change.TableId;
import io.pgsource.change.TableSchema;
import io.pgsource.types.BinaryDecoder;
import io.pgsource.types.TypeRegistry;
import io.pgsource.types.ValueDecoder;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;

/**
 * The {@code typeMapping} processor: turns the raw values of every row of the body into canonical Java values, in
 * place, with the decoders of each column's type, each value the first time something reads it
 * ({@link Row#decodeLazily}: a destination that can write the value as it arrived never decodes it): a String (PostgreSQL's text output, as both capture paths read it
 * by default) with the type's text decoder, a {@code byte[]} (the type's binary form, from pgoutput with
 * {@code binary=true}) with its binary decoder, which makes the same value. Nulls stay null; other values are already
 * canonical and are left alone.
 *
 * <p>The body is a {@link ChangeBatch} (or a single {@link ChangeEvent}, for routes that split first); any other
 * body passes unchanged. Decoders are looked up once per table schema per exchange, not per value.
 */
public final class TypeMappingProcessor implements Processor {
    private final TypeRegistry types;

    public TypeMappingProcessor(TypeRegistry types) {
        this.types = types;
    }

    @Override
    public void process(Exchange exchange) {
        Object body = exchange.getMessage().getBody();
        if (body instanceof ChangeBatch batch) {
            map(batch);
        } else if (body instanceof ChangeEvent event) {
            map(List.of(event));
        }
    }

    /** Makes the rows of these events decode in place (each value when first read). */
    public void map(List<ChangeEvent> events) {
        Map<TableSchema, ColumnDecoders> decoders = new IdentityHashMap<>();
        ColumnDecoders last = null;
        for (ChangeEvent event : events) {
            last = decode(event.before(), decoders, last);
            last = decode(event.after(), decoders, last);
        }
    }

    /** @param last the decoders of the row before (a batch's rows are mostly of one table): no map look-up per row */
    private ColumnDecoders decode(Row row, Map<TableSchema, ColumnDecoders> decoders, ColumnDecoders last) {
        if (row == null) {
            return last;
        }
        ColumnDecoders d = last != null && last.schema == row.schema() ? last : decoders.computeIfAbsent(row.schema(), this::decodersOf);
        row.decodeLazily(d);
        return d;
    }

    private ColumnDecoders decodersOf(TableSchema schema) {
        ValueDecoder[] decoders = new ValueDecoder[schema.size()];
        for (int i = 0; i < decoders.length; i++) {
            decoders[i] = types.decoder(schema.columns().get(i).typeOid());
        }
        return new ColumnDecoders(schema, decoders, new BinaryDecoder[decoders.length]);
    }

    /** The text decoder of each column, and its binary decoder looked up when a binary value first comes. */
    private final class ColumnDecoders implements Row.Decoding {
        final TableSchema schema;
        final ValueDecoder[] text;
        final BinaryDecoder[] binary;

        ColumnDecoders(TableSchema schema, ValueDecoder[] text, BinaryDecoder[] binary) {
            this.schema = schema;
            this.text = text;
            this.binary = binary;
        }

        @Override
        public Object decode(Row row, int i, Object raw) {
            try {
                return raw instanceof String text ? this.text[i].decode(text) : binary(i).decode((byte[]) raw);
            } catch (RuntimeException e) {
                Column c = row.schema().columns().get(i);
                // the value stays out of the message: it may be personal data
                throw new IllegalArgumentException("cannot decode a value of " + row.schema().id().quoted() + "."
                        + TableId.quoteIdent(c.name()) + " (type " + c.typeName() + "): " + e.getMessage(), e);
            }
        }

        BinaryDecoder binary(int i) {
            BinaryDecoder d = binary[i];
            if (d == null) {
                d = types.binaryDecoder(schema.columns().get(i).typeOid());
                binary[i] = d;
            }
            return d;
        }
    }
}
