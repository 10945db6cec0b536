package io.pgsource.verify;

import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.Settings;
import io.pgsource.types.SessionSettings;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/** The destination side of verify: a table destination's connection, catalog, names and stored positions. */
abstract class Side {

    /** The side of the configured destination; an event destination cannot be verified. */
    static Side of(Settings settings) {
        String kind = settings.destination().kind();
        return switch (kind) {
            case "postgres" -> new Postgres();
            case "mysql" -> new MySql();
            default -> throw new ConfigurationException("destination=" + kind + " cannot be verified: it is an event destination, which"
                    + " hands each change on as a message and holds no tables of rows to compare with the source (its consumers"
                    + " do); verify and repair compare table destinations: destination=postgres or destination=mysql");
        };
    }

    abstract DataSource dataSource(DestinationSettings settings) throws SQLException;

    abstract Dialect dialect();

    /** How the source prints values for this destination. */
    abstract Dialect sourceDialect();

    /** The destination table's columns and their types; empty when there is no such table. */
    abstract Map<String, String> columns(Queries q, TableId table, DestinationSettings settings) throws SQLException;

    /** The destination's name of a source column. */
    String columnName(String name) {
        return name;
    }

    abstract String quoteColumn(String name);

    abstract String quoteTable(TableId table);

    String display(TableId table) {
        return table.quoted();
    }

    /** PostgreSQL's text form of a key column's canonical text (the source's type given). */
    String sourceText(String pgType, String canonical) {
        return canonical;
    }

    /** The position the destination stores for a stream, or null. */
    abstract String storedPosition(Queries q, DestinationSettings settings, String stream) throws SQLException;

    static final class Postgres extends Side {
        @Override
        DataSource dataSource(DestinationSettings settings) throws SQLException {
            if (settings.url() == null || settings.url().isBlank()) {
                throw new ConfigurationException("destination.url is not set: give the JDBC URL of the destination database, e.g."
                        + " jdbc:postgresql://localhost:5432/warehouse");
            }
            PGSimpleDataSource ds = new PGSimpleDataSource();
            ds.setUrl(settings.url().strip());
            if (settings.username() != null && !settings.username().isEmpty()) {
                ds.setUser(settings.username());
            }
            if (settings.password() != null && !settings.password().isEmpty()) {
                ds.setPassword(settings.password());
            }
            Properties ssl = new Properties();
            if (settings.ssl() != null) {
                settings.ssl().applyTo(ssl);
            }
            // the source's session settings, so both sides print every value the same way
            ssl.putAll(SessionSettings.jdbcProperties());
            for (String k : ssl.stringPropertyNames()) {
                ds.setProperty(k, ssl.getProperty(k));
            }
            ds.setApplicationName("pgsource verify");
            return ds;
        }

        @Override
        Dialect dialect() {
            return new Dialect.Postgres();
        }

        @Override
        Dialect sourceDialect() {
            return new Dialect.Postgres();
        }

        @Override
        Map<String, String> columns(Queries q, TableId table, DestinationSettings settings) throws SQLException {
            Map<String, String> out = new LinkedHashMap<>();
            List<Map<String, Object>> rows = q.query(Queries.DESTINATION, "SELECT a.attname AS c, pg_catalog.format_type(a.atttypid,"
                    + " a.atttypmod) AS t FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class r ON r.oid = a.attrelid"
                    + " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = :?s AND r.relname = :?t"
                    + " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", Map.of("s", table.schema(), "t", table.name()));
            for (Map<String, Object> r : rows) {
                out.put(String.valueOf(r.get("c")), String.valueOf(r.get("t")));
            }
            return out;
        }

        @Override
        String quoteColumn(String name) {
            return TableId.quoteIdent(name);
        }

        @Override
        String quoteTable(TableId table) {
            return table.quoted();
        }

        @Override
        String storedPosition(Queries q, DestinationSettings settings, String stream) throws SQLException {
            Map<String, Object> exists = q.one(Queries.DESTINATION, "SELECT to_regclass('\"_pgsource\".\"positions\"') IS NOT NULL AS e", Map.of());
            if (!Boolean.TRUE.equals(exists.get("e"))) {
                return null;
            }
            Object p = q.one(Queries.DESTINATION, "SELECT position AS p FROM \"_pgsource\".\"positions\" WHERE stream = :?stream",
                    Map.of("stream", stream)).get("p");
            return p == null ? null : p.toString();
        }
    }

    /** MySQL or MariaDB (destination=mysql): the tables in destination.schema, else the URL's database. */
    static final class MySql extends Side {
        private String database;

        @Override
        DataSource dataSource(DestinationSettings settings) {
            if (settings.url() == null || settings.url().isBlank()) {
                throw new ConfigurationException("destination.url is not set: give the JDBC URL of the MySQL or MariaDB database, e.g."
                        + " jdbc:mariadb://localhost:3306/warehouse");
            }
            HikariConfig config = new HikariConfig();
            config.setPoolName("pgsource-verify-destination");
            config.setJdbcUrl(settings.url().strip());
            if (settings.username() != null && !settings.username().isEmpty()) {
                config.setUsername(settings.username());
            }
            if (settings.password() != null && !settings.password().isEmpty()) {
                config.setPassword(settings.password());
            }
            // as the destination writes: UTC, utf8mb4
            config.setConnectionInitSql("SET SESSION time_zone = '+00:00', NAMES utf8mb4");
            config.setMaximumPoolSize(1);
            config.setMinimumIdle(0);
            config.setInitializationFailTimeout(-1);
            return new HikariDataSource(config);
        }

        @Override
        Dialect dialect() {
            return new Dialect.MySql();
        }

        @Override
        Dialect sourceDialect() {
            return new Dialect.PostgresForMySql();
        }

        /** The canonical texts that are not PostgreSQL's: timestamptz in UTC without its offset, bytea as bare hex. */
        @Override
        String sourceText(String pgType, String canonical) {
            String type = Dialect.plain(pgType);
            return canonical == null ? null : type.equals("timestamp with time zone") ? canonical + "+00"
                    : type.equals("bytea") ? "\\x" + canonical : canonical;
        }

        private String database(Queries q, DestinationSettings settings) throws SQLException {
            if (database == null) {
                database = settings.schema() != null && !settings.schema().isBlank() ? settings.schema()
                        : String.valueOf(q.one(Queries.DESTINATION, "SELECT DATABASE() AS d", Map.of()).get("d"));
            }
            return database;
        }

        @Override
        Map<String, String> columns(Queries q, TableId table, DestinationSettings settings) throws SQLException {
            Map<String, String> out = new LinkedHashMap<>();
            for (Map<String, Object> r : q.query(Queries.DESTINATION, "SELECT COLUMN_NAME AS c, DATA_TYPE AS t FROM"
                    + " information_schema.COLUMNS WHERE TABLE_SCHEMA = :?s AND TABLE_NAME = :?t ORDER BY ORDINAL_POSITION",
                    Map.of("s", database(q, settings), "t", table.name()))) {
                out.put(String.valueOf(r.get("c")), String.valueOf(r.get("t")));
            }
            return out;
        }

        @Override
        String quoteColumn(String name) {
            return quote(name);
        }

        private static String quote(String name) {
            return "`" + name.replace("`", "``") + "`";
        }

        @Override
        String quoteTable(TableId table) {
            return quote(database) + "." + quote(table.name());
        }

        @Override
        String display(TableId table) {
            return quoteTable(table);
        }

        @Override
        String storedPosition(Queries q, DestinationSettings settings, String stream) throws SQLException {
            String db = database(q, settings);
            Map<String, Object> exists = q.one(Queries.DESTINATION, "SELECT COUNT(*) AS e FROM information_schema.TABLES WHERE TABLE_SCHEMA = :?s"
                    + " AND TABLE_NAME = '_pgsource_positions'", Map.of("s", db));
            if (Long.parseLong(String.valueOf(exists.get("e"))) == 0) {
                return null;
            }
            Object p = q.one(Queries.DESTINATION, "SELECT position AS p FROM " + quote(db) + ".`_pgsource_positions` WHERE stream = :?stream",
                    Map.of("stream", stream)).get("p");
            return p == null ? null : p.toString();
        }
    }
}
