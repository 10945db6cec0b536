package io.pgsource.types;

import io.pgsource.change.ChangeEvent;
import io.pgsource.pgoutput.protocol.CatalogTypeNames;
import io.pgsource.pgoutput.protocol.RelationCache;
import io.pgsource.pgoutput.protocol.TransactionAssembler;
import io.pgsource.route.TypeMappingProcessor;
import io.pgsource.testsupport.TestPostgres;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * A rough comparison, not a test: decode + assemble + type-map N rows of a realistic table from the SQL interface's
 * pgoutput output, text mode against binary mode. Run by hand:
 * {@code java -cp target/classes:target/test-classes:<deps> io.pgsource.types.BinaryThroughput [rows]}.
 */
public final class BinaryThroughput {
    private BinaryThroughput() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        TestPostgres pg = TestPostgres.server();
        String db = pg.createDatabase("binary_throughput");
        try (Connection c = TypeRoundTripTest.connect(pg, db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE orders (id bigint PRIMARY KEY, qty int, note text, amount numeric(12,2), code varchar(100),"
                    + " created timestamptz, updated timestamptz, doc jsonb, paid bool)");
            s.execute("CREATE PUBLICATION pub FOR ALL TABLES");
            s.execute("SELECT pg_create_logical_replication_slot('tp_bin', 'pgoutput')");
            s.execute("SELECT pg_copy_logical_replication_slot('tp_bin', 'tp_txt')");
            s.execute("INSERT INTO orders SELECT g, g % 1000, 'note number ' || g || ' with some text', (g * 12.34) % 1000000,"
                    + " 'CODE-' || (g % 97), now() - g * interval '1 second', now(), jsonb_build_object('id', g, 'tags', jsonb_build_array('a', 'b'),"
                    + " 'price', g * 0.01), g % 2 = 0 FROM generate_series(1, " + n + ") g");
            TypeRegistry types = TypeRegistry.load(c);
            List<byte[]> binary = read(c, "tp_bin", true);
            List<byte[]> text = read(c, "tp_txt", false);
            long textBytes = text.stream().mapToLong(b -> b.length).sum();
            long binaryBytes = binary.stream().mapToLong(b -> b.length).sum();
            System.out.printf("%d rows: text %d bytes, binary %d bytes of pgoutput messages%n", n, textBytes, binaryBytes);
            for (int round = 0; round < 12; round++) {
                long t = run(c, types, text);
                long b = run(c, types, binary);
                System.out.printf("round %d: text %.0f ms (%.0f rows/s), binary %.0f ms (%.0f rows/s)%n", round, t / 1e6, n / (t / 1e9),
                        b / 1e6, n / (b / 1e9));
            }
            s.execute("SELECT pg_drop_replication_slot('tp_bin')");
            s.execute("SELECT pg_drop_replication_slot('tp_txt')");
        }
    }

    private static long run(Connection c, TypeRegistry types, List<byte[]> messages) throws Exception {
        TypeMappingProcessor mapping = new TypeMappingProcessor(types);
        RelationCache relations = new RelationCache(new CatalogTypeNames(c));
        Path spool = Files.createTempDirectory("tp");
        long[] rows = {0};
        long start = System.nanoTime();
        try (TransactionAssembler a = new TransactionAssembler(4, relations, 10_000, spool, part -> {
            List<ChangeEvent> events = part.batch();
            mapping.map(events);
            rows[0] += events.size();
        }, m -> { })) {
            for (byte[] m : messages) {
                a.accept(ByteBuffer.wrap(m), 0);
            }
        }
        long elapsed = System.nanoTime() - start;
        if (rows[0] == 0) {
            throw new IllegalStateException("no rows");
        }
        return elapsed;
    }

    private static List<byte[]> read(Connection c, String slot, boolean binary) throws Exception {
        List<String> options = new ArrayList<>(List.of("proto_version", "4", "publication_names", "pub"));
        if (binary) {
            options.addAll(List.of("binary", "true"));
        }
        List<byte[]> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT data FROM pg_logical_slot_get_binary_changes(?, NULL, NULL, VARIADIC ?::text[])")) {
            ps.setString(1, slot);
            ps.setArray(2, c.createArrayOf("text", options.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getBytes(1));
                }
            }
        }
        return out;
    }
}
