package io.pgsource.backfill;

import io.pgsource.change.Row;
import io.pgsource.types.TypeRegistry;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The canonical key of a row by the primary key's columns: raw values (PostgreSQL's text output from a chunk, the text
 * or binary form from the stream) decoded as the pipeline's type mapping decodes them, so the same key read by either
 * path is equal.
 */
final class Keys {
    private Keys() {
    }

    static ChunkWindows.KeyOf of(List<String> keyColumns, TypeRegistry types) {
        return row -> {
            List<Object> key = new ArrayList<>(keyColumns.size());
            for (String name : keyColumns) {
                int i = row.schema().indexOf(name);
                Object v = i < 0 ? null : row.get(i);
                if (v == null) {
                    return null; // not a key this row says (an unchanged TOASTed key value, another shape)
                }
                key.add(canonical(row, i, v, types));
            }
            return key;
        };
    }

    private static Object canonical(Row row, int i, Object v, TypeRegistry types) {
        int oid = row.schema().columns().get(i).typeOid();
        Object c = v instanceof String text ? types.decode(oid, text) : v instanceof byte[] binary ? types.decodeBinary(oid, binary) : v;
        return c instanceof byte[] bytes ? HexFormat.of().formatHex(bytes) : c; // arrays compare by identity
    }

    /** For tests and keys of one text column: the key as its raw values. */
    static ChunkWindows.KeyOf raw(List<String> keyColumns) {
        return row -> {
            List<Object> key = new ArrayList<>();
            for (String name : keyColumns) {
                int i = row.schema().indexOf(name);
                if (i < 0 || row.get(i) == null) {
                    return null;
                }
                key.add(row.get(i));
            }
            return key;
        };
    }

}
