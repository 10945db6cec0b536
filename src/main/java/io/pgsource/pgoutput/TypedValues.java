package io.pgsource.pgoutput;

import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Column;
import io.pgsource.change.Row;
import io.pgsource.change.TableSchema;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.types.TypeRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * {@code values=typed}: turns the text (or, with {@code binary=true}, binary) values of each delivered part into
 * pgsource's canonical Java values, with the decoders pgsource's own type mapping uses ({@link TypeMappingProcessor},
 * {@link TypeRegistry}): the same values a batch read or pgsource's destinations get. The database's types are read
 * once, and again when a relation names a type that was not there then (a type created later). Used on the delivery
 * thread only.
 */
final class TypedValues {
    private final ConnectionSettings connections;
    private TypeRegistry types;
    private TypeMappingProcessor mapping;
    /** The schemas whose column types the registry knows (schemas are shared by the events of one relation). */
    private final Set<TableSchema> known = Collections.newSetFromMap(new IdentityHashMap<>());

    TypedValues(ConnectionSettings connections) {
        this.connections = connections;
    }

    /**
     * The events decoded since a part without any of them came: after a combined exchange failed, its transactions are
     * delivered again one by one with the same (already decoded) events, which must not be decoded twice.
     */
    private final Set<ChangeEvent> decoded = Collections.newSetFromMap(new IdentityHashMap<>());

    /** Decodes the rows of these events in place, each event once. */
    void decode(List<ChangeEvent> events) throws SQLException {
        List<ChangeEvent> fresh = new ArrayList<>(events.size());
        boolean again = false;
        for (ChangeEvent event : events) {
            if (decoded.contains(event)) {
                again = true;
            } else {
                fresh.add(event);
            }
        }
        if (!again) {
            decoded.clear();
        }
        for (ChangeEvent event : fresh) {
            check(event.before());
            check(event.after());
        }
        if (mapping != null) {
            mapping.map(fresh);
        }
        decoded.addAll(fresh);
    }

    private void check(Row row) throws SQLException {
        if (row == null || known.contains(row.schema())) {
            return;
        }
        for (Column c : row.schema().columns()) {
            if (types == null || !types.knows(c.typeOid())) {
                load();
                break;
            }
        }
        known.add(row.schema());
    }

    private void load() throws SQLException {
        try (Connection c = connections.openCatalog()) {
            types = TypeRegistry.load(c);
        }
        mapping = new TypeMappingProcessor(types);
        known.clear();
    }
}
