package io.pgsource.testsupport;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * pgsource's sessions at a {@code postgres} destination, watched and interfered with by the fault tests: a COMMIT made
 * slow on demand, so a test can kill pgsource exactly while a destination transaction commits: a deferred constraint trigger on {@code "_pgsource"."positions"} (which every
 * batch writes) sleeps at COMMIT time for as long as {@link #arm} says. {@link #awaitCommitting} then finds
 * pgsource's session sleeping inside COMMIT in {@code pg_stat_activity}, and {@link #terminate} can end it there (the
 * commit is then lost). Left alone (disarmed) the trigger sleeps 0 s. {@link #storedPosition} reads the slot position
 * the destination committed.
 */
public final class DestinationSessions {
    private static final String SCHEMA = "\"_pgsource_fault\"";

    private final Connector destination;

    /** Opens a superuser connection to the destination database. */
    @FunctionalInterface
    public interface Connector {
        Connection open() throws SQLException;
    }

    /** A pgsource session seen sleeping in COMMIT. */
    public record Committing(int pid, String query) {
    }

    public DestinationSessions(Connector destination) {
        this.destination = destination;
    }

    /** Installs the trigger; pgsource must have created its positions table already (it does with its first page). */
    public void install() throws SQLException {
        try (Connection c = destination.open(); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS " + SCHEMA);
            s.execute("CREATE TABLE IF NOT EXISTS " + SCHEMA + ".control (commit_delay float8 NOT NULL)");
            s.execute("INSERT INTO " + SCHEMA + ".control SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM " + SCHEMA + ".control)");
            s.execute("CREATE OR REPLACE FUNCTION " + SCHEMA + ".slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    + "BEGIN PERFORM pg_sleep((SELECT max(commit_delay) FROM " + SCHEMA + ".control)); RETURN NULL; END $$");
            s.execute("DROP TRIGGER IF EXISTS pgsource_slow_commit ON \"_pgsource\".positions");
            s.execute("CREATE CONSTRAINT TRIGGER pgsource_slow_commit AFTER INSERT OR UPDATE ON \"_pgsource\".positions "
                    + "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION " + SCHEMA + ".slow_commit()");
        }
    }

    /** Whether pgsource's positions table exists at the destination yet. */
    public boolean positionsTableExists() throws SQLException {
        try (Connection c = destination.open(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT to_regclass('\"_pgsource\".positions') IS NOT NULL")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** From now on every destination COMMIT of a batch sleeps this long. */
    public void arm(Duration delay) throws SQLException {
        setDelay(delay.toMillis() / 1000.0);
    }

    /** Commits are fast again. */
    public void disarm() throws SQLException {
        setDelay(0);
    }

    private void setDelay(double seconds) throws SQLException {
        try (Connection c = destination.open(); PreparedStatement ps = c.prepareStatement("UPDATE " + SCHEMA + ".control SET commit_delay = ?")) {
            ps.setDouble(1, seconds);
            ps.executeUpdate();
        }
    }

    /**
     * Waits until a pgsource session of the destination database sleeps inside COMMIT (the trigger runs at commit).
     *
     * @return the session, or null when none was seen in time
     */
    public Committing awaitCommitting(Duration timeout) throws SQLException, InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        try (Connection c = destination.open(); PreparedStatement ps = c.prepareStatement(
                "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgsource' "
                        + "AND state = 'active' AND wait_event = 'PgSleep' AND query ILIKE 'commit%'")) {
            while (System.nanoTime() < end) {
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return new Committing(rs.getInt(1), rs.getString(2));
                    }
                }
                Thread.sleep(10);
            }
        }
        return null;
    }

    /** Waits until a destination session is gone (a COMMIT it was sleeping in completed); false when it was not in time. */
    public boolean awaitEnded(int pid, Duration timeout) throws SQLException, InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        try (Connection c = destination.open(); PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_stat_activity WHERE pid = ?")) {
            ps.setInt(1, pid);
            while (System.nanoTime() < end) {
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return true;
                    }
                }
                Thread.sleep(10);
            }
        }
        return false;
    }

    /** Ends a destination session (its transaction, still committing, rolls back); true when it was there to end. */
    public boolean terminate(int pid) throws SQLException {
        try (Connection c = destination.open(); PreparedStatement ps = c.prepareStatement("SELECT pg_terminate_backend(?)")) {
            ps.setInt(1, pid);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /** The slot position pgsource's destination holds, e.g. {@code 0/1A2B3C8} or {@code 0/1A2B3C8#3} (a partly applied transaction). */
    public String storedPosition(String slot) throws SQLException {
        try (Connection c = destination.open(); PreparedStatement ps = c.prepareStatement(
                "SELECT position FROM \"_pgsource\".positions WHERE stream = ?")) {
            ps.setString(1, "slot:" + slot);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        } catch (SQLException e) {
            if ("42P01".equals(e.getSQLState())) {
                return null; // no positions table yet
            }
            throw e;
        }
    }
}
