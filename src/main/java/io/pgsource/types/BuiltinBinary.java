package io.pgsource.types;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Which built-in types a snapshot may read in {@code COPY ... (FORMAT binary)}, decided from the column's type OID alone
 * (a page reader has no {@link TypeRegistry}): a built-in type with an exact binary decoder, or a built-in array of one.
 * Built-in OIDs are the same on every server, so the binary form also means the same at a PostgreSQL destination.
 * Domains, enums and extension types (OIDs of the database's own) are read as text, where nothing depends on them.
 *
 * <p>And the text output of a key value from its binary form ({@link #keyText}), for the keyset bookmark, which must hold
 * exactly what PostgreSQL's output function prints (a stored bookmark is compared, and bound back with a cast): only for
 * types whose output is exactly reproduced here; a table keyed by another type is read as text.
 */
public final class BuiltinBinary {
    private BuiltinBinary() {
    }

    /** PostgreSQL's first OID of objects not built in ({@code FirstNormalObjectId}). */
    private static final int FIRST_NORMAL_OID = 16384;

    /** Built-in array type OID → its element type OID, for the element types with a binary decoder. */
    private static final Map<Integer, Integer> ARRAYS = Map.ofEntries(
            Map.entry(1000, 16), Map.entry(1001, 17), Map.entry(1002, 18), Map.entry(1003, 19), Map.entry(1005, 21),
            Map.entry(1006, 22), Map.entry(1007, 23), Map.entry(1009, 25), Map.entry(1028, 26), Map.entry(1011, 28),
            Map.entry(1012, 29), Map.entry(1013, 30), Map.entry(1014, 1042), Map.entry(1015, 1043), Map.entry(1016, 20),
            Map.entry(1021, 700), Map.entry(1022, 701), Map.entry(199, 114), Map.entry(143, 142), Map.entry(3807, 3802),
            Map.entry(651, 650), Map.entry(1041, 869), Map.entry(1040, 829), Map.entry(775, 774), Map.entry(791, 790),
            Map.entry(1182, 1082), Map.entry(1183, 1083), Map.entry(1115, 1114), Map.entry(1185, 1184), Map.entry(1187, 1186),
            Map.entry(1270, 1266), Map.entry(1561, 1560), Map.entry(1563, 1562), Map.entry(1231, 1700), Map.entry(2951, 2950),
            Map.entry(3221, 3220), Map.entry(271, 5069));

    /** Whether values of the type may be read in binary: a built-in type, or array of one, that decodes exactly from it. */
    public static boolean decodes(int typeOid) {
        if (typeOid <= 0 || typeOid >= FIRST_NORMAL_OID) {
            return false;
        }
        if (BinaryDecoders.builtin(typeOid) != null) {
            return true;
        }
        Integer element = ARRAYS.get(typeOid);
        return element != null && BinaryDecoders.builtin(element) != null;
    }

    /** The element type of a built-in array type {@link #decodes} accepts, or 0. For tests. */
    static int arrayElement(int typeOid) {
        return ARRAYS.getOrDefault(typeOid, 0);
    }

    /** Whether {@link #keyText} prints the type's values exactly as PostgreSQL's output function does. */
    public static boolean keyText(int typeOid) {
        return switch (typeOid) {
            case 16, 20, 21, 23, 25, 19, 1042, 1043, 1700, 2950 -> true;
            default -> false;
        };
    }

    /**
     * PostgreSQL's text output (under {@link SessionSettings}) of a value of a {@link #keyText(int)} type given in its
     * binary form.
     */
    public static String keyText(int typeOid, byte[] binary) {
        return switch (typeOid) {
            case 16 -> binary[0] != 0 ? "t" : "f";
            case 20, 21, 23 -> BinaryDecoders.builtin(typeOid).decode(binary).toString();
            case 25, 19, 1042, 1043 -> new String(binary, StandardCharsets.UTF_8);
            case 2950 -> BinaryDecoders.UUID_.decode(binary).toString();
            case 1700 -> {
                Object v = BinaryDecoders.NUMERIC.decode(binary);
                yield v instanceof BigDecimal d ? d.toPlainString() : v.toString(); // NaN, Infinity, -Infinity as numeric_out
            }
            default -> throw new IllegalArgumentException("no exact text output of type OID " + typeOid + " here");
        };
    }
}
