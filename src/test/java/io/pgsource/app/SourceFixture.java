package io.pgsource.app;

import io.pgsource.testsupport.TestPostgres;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Source databases for the end-to-end tests, and the comparison of a source table with its copy. */
final class SourceFixture {
    private SourceFixture() {
    }

    /** A fresh database loaded with fixtures/source.sql. */
    static String createSource(TestPostgres pg, String prefix) throws Exception {
        String db = pg.createDatabase(prefix);
        try (Connection c = pg.connect(db); Statement s = c.createStatement();
             InputStream in = SourceFixture.class.getResourceAsStream("/fixtures/source.sql")) {
            s.execute(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        return db;
    }

    /** The rows of a query, each as its values' text joined by "|". */
    static List<String> query(Connection c, String sql) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> values = new ArrayList<>(n);
                for (int i = 1; i <= n; i++) {
                    values.add(rs.getString(i));
                }
                rows.add(String.join("|", values));
            }
        }
        return rows;
    }

    static List<String> query(TestPostgres pg, String db, String sql) throws SQLException {
        try (Connection c = pg.connect(db)) {
            return query(c, sql);
        }
    }

    static void execute(TestPostgres pg, String db, String sql) throws SQLException {
        try (Connection c = pg.connect(db); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    /** The environment that points pgsource at a source database of the test server, syncing once. */
    static Map<String, String> env(TestPostgres pg, String sourceDb, String schemas) {
        Map<String, String> env = new HashMap<>();
        env.put("SOURCE_HOST", pg.host());
        env.put("SOURCE_PORT", Integer.toString(pg.port()));
        env.put("SOURCE_DATABASE", sourceDb);
        env.put("SOURCE_USERNAME", pg.user());
        env.put("SOURCE_PASSWORD", pg.password());
        env.put("SOURCE_SCHEMA", schemas);
        env.put("SYNC_ONCE", "true");
        env.put("SOURCE_REPLICATION_METHOD", "FULL_TABLE");
        return env;
    }

    /** Points the environment at a destination database of the test server. */
    static Map<String, String> postgresDestination(TestPostgres pg, Map<String, String> env, String targetDb) {
        env.put("DESTINATION", "postgres");
        env.put("DESTINATION_URL", pg.jdbcUrl(targetDb));
        env.put("DESTINATION_USERNAME", pg.user());
        env.put("DESTINATION_PASSWORD", pg.password());
        return env;
    }

    /**
     * The rows of a table as sorted text (a multiset), over the given columns: exact comparison of every value,
     * stricter than EXCEPT (1.50 and 1.5 differ here).
     */
    static List<String> rows(Connection c, String qualifiedTable, List<String> columns) throws SQLException {
        String cols = columns.stream().map(SourceFixture::quote).collect(Collectors.joining(", "));
        List<String> rows = new ArrayList<>();
        try (Statement s = c.createStatement()) {
            s.execute("SET TimeZone = 'UTC'");
            try (ResultSet rs = s.executeQuery("SELECT ROW(" + cols + ")::text FROM " + qualifiedTable)) {
                while (rs.next()) {
                    rows.add(rs.getString(1));
                }
            }
        }
        rows.sort(null);
        return rows;
    }

    static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    static String qualified(String schema, String table) {
        return quote(schema) + "." + quote(table);
    }
}
