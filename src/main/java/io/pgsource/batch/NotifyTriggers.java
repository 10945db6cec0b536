package io.pgsource.batch;

import io.pgsource.change.TableId;
import io.pgsource.config.ConfigurationException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code source.notify}: the trigger that tells the batch query a selected table changed. Each selected table gets a
 * statement-level {@code AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE} trigger named after the channel, calling the
 * function {@code pgsource_notify} of the table's schema, which sends {@code {"schema": ..., "table": ...}} on the
 * channel. PostgreSQL delivers a notification when its transaction commits, and only once per transaction for the same
 * payload, so a transaction of a million rows wakes the batch query once.
 *
 * <p>Installed when missing, so a second start (or a user who installed it as the README shows) changes nothing.
 */
public final class NotifyTriggers {
    private static final Logger LOG = LoggerFactory.getLogger(NotifyTriggers.class);
    /** The trigger function, in each schema that holds a selected table. */
    static final String FUNCTION = "pgsource_notify";

    private NotifyTriggers() {
    }

    /** The function's definition in {@code schema}, as the README shows it. */
    static String functionSql(String schema) {
        return "CREATE FUNCTION " + TableId.quoteIdent(schema) + "." + FUNCTION + "() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                + "BEGIN\n"
                + "  PERFORM pg_catalog.pg_notify(TG_ARGV[0], pg_catalog.json_build_object('schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME)::text);\n"
                + "  RETURN NULL;\n"
                + "END $$";
    }

    /** The trigger on {@code table} that notifies {@code channel}, as the README shows it. */
    static String triggerSql(TableId table, String channel) {
        return "CREATE TRIGGER " + channel + " AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON " + table.quoted()
                + " FOR EACH STATEMENT EXECUTE FUNCTION " + TableId.quoteIdent(table.schema()) + "." + FUNCTION + "('" + channel + "')";
    }

    /**
     * Creates what is missing: the function in each schema of these tables, the trigger on each table.
     *
     * @param channel a channel name that needs no quoting (lower-case letters, digits, underscores)
     * @return the tables that got a trigger now
     * @throws ConfigurationException when the source role may not create them (the message names the grant, or the way
     *                                to install them as the tables' owner)
     */
    public static List<TableId> install(Connection c, List<TableId> tables, String channel) throws SQLException {
        boolean autoCommit = c.getAutoCommit();
        c.setAutoCommit(true);
        try {
            Set<String> schemas = new LinkedHashSet<>();
            tables.forEach(t -> schemas.add(t.schema()));
            for (String schema : schemas) {
                if (!functionExists(c, schema)) {
                    create(c, functionSql(schema), "GRANT CREATE ON SCHEMA " + TableId.quoteIdent(schema) + " TO " + role(c),
                            "cannot create its NOTIFY trigger function in schema " + TableId.quoteIdent(schema));
                }
            }
            List<TableId> installed = new ArrayList<>();
            for (TableId table : tables) {
                if (!triggerExists(c, table, channel)) {
                    create(c, triggerSql(table, channel), "GRANT TRIGGER ON " + table.quoted() + " TO " + role(c),
                            "cannot create its NOTIFY trigger on " + table.quoted());
                    installed.add(table);
                }
            }
            if (!installed.isEmpty()) {
                LOG.info("source.notify: installed trigger {} on {} table(s): {}", channel, installed.size(),
                        installed.stream().map(TableId::quoted).toList());
            }
            return installed;
        } finally {
            c.setAutoCommit(autoCommit);
        }
    }

    /** Runs a CREATE; another instance creating the same at the same moment is no error. */
    private static void create(Connection c, String sql, String grant, String what) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            String state = String.valueOf(e.getSQLState());
            if (state.equals("42723") || state.equals("42710") || state.equals("23505")) {
                return; // duplicate function, duplicate object, or the catalog's unique index: created meanwhile
            }
            if (state.equals("42501")) {
                throw new ConfigurationException("source.notify=true: pgsource " + what + " (" + firstLine(e) + "): run " + grant
                        + "; or install the function and triggers as the tables' owner with the SQL in the README (INCREMENTAL,"
                        + " woken by NOTIFY), or unset source.notify");
            }
            throw e;
        }
    }

    private static boolean functionExists(Connection c, String schema) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n"
                + " ON n.oid = p.pronamespace WHERE n.nspname = ? AND p.proname = ? AND p.pronargs = 0")) {
            ps.setString(1, schema);
            ps.setString(2, FUNCTION);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    private static boolean triggerExists(Connection c, TableId table, String channel) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class r"
                + " ON r.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
                + " WHERE n.nspname = ? AND r.relname = ? AND t.tgname = ?")) {
            ps.setString(1, table.schema());
            ps.setString(2, table.name());
            ps.setString(3, channel);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    private static String role(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT CURRENT_USER")) {
            rs.next();
            return TableId.quoteIdent(rs.getString(1));
        }
    }

    private static String firstLine(SQLException e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).replaceFirst("^ERROR: ", "");
    }
}
