package io.pgsource.batch;

import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The point in time an INCREMENTAL run reads up to: the start of the oldest transaction of the source database that
 * may still commit, and never later than now(). A run reads only rows whose replication key is before it.
 *
 * <p>A transaction's rows carry its start time ({@code now()}, or a later clock reading) but become visible only at its
 * commit: a run that read past that start would store a bookmark beyond rows that commit later, and no later run would
 * read them. Snapshots ({@code pg_current_snapshot()}) cannot tell, because a transaction gets an xid only at its first
 * write; {@code pg_stat_activity} shows it from its first statement: {@code query_start} as that statement arrives,
 * {@code xact_start} once the transaction began, both equal to its {@code now()}.
 *
 * <p>Why it holds: pg_stat_activity is read in a statement of its own, before the pages' snapshots. A transaction whose
 * rows a page does not see had not committed when that snapshot was taken, so it was listed by the earlier read (a
 * backend clears {@code xact_start} only after its commit became visible) and its start bounds the horizon, or it began
 * after the read, later than the read's now(). What stays open is the moment between a statement's arrival and its
 * report to pg_stat_activity (microseconds), and sessions the role cannot see (no {@code pg_read_all_stats}, or
 * {@code track_activities} off), which are warned about once.
 *
 * <p>Prepared transactions ({@code pg_prepared_xacts}, read after pg_stat_activity: a transaction is listed there before
 * it leaves pg_stat_activity) do not show when they began. One that appeared since the previous look began after that
 * look's horizon; one that was already there at this process's first look began at an unknown time, and holds
 * everything back until it is committed or rolled back.
 *
 * <p>Only this database's sessions count, not pgsource's own, nor autovacuum workers and walsenders, which write no
 * user rows.
 */
final class TransactionHorizon {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionHorizon.class);

    /** A transaction holding the horizon back longer than this gets a warning. */
    static final Duration LONG_OPEN = Duration.ofMinutes(1);

    private static final String SESSIONS = """
            SELECT pg_catalog.now(), pg_catalog.current_setting('track_activities')::boolean, CURRENT_USER,
                   pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE'),
                   (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity h
                     WHERE h.datname = pg_catalog.current_database() AND h.pid <> pg_catalog.pg_backend_pid()
                       AND NOT COALESCE(pg_catalog.pg_has_role(h.usesysid, 'USAGE'), false)),
                   o.pid, o.began, o.application_name, o.usename
              FROM (SELECT 1) AS one LEFT JOIN LATERAL (
                   SELECT a.pid, COALESCE(a.xact_start, a.query_start) AS began, a.application_name, a.usename
                     FROM pg_catalog.pg_stat_activity a
                    WHERE a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid()
                      AND (a.xact_start IS NOT NULL OR a.state = 'active')
                      AND a.backend_type NOT IN ('autovacuum worker', 'walsender')
                    ORDER BY 2 LIMIT 1) AS o ON true""";

    private static final String PREPARED = """
            SELECT p.transaction::text::bigint, p.gid, p.prepared, p.owner FROM pg_catalog.pg_prepared_xacts p
             WHERE p.database = pg_catalog.current_database()""";

    private final Duration longOpen;
    /** The prepared transactions of the last look, by xid: the earliest they can have begun, null when unknown. */
    private Map<Long, Instant> preparedFloors = new HashMap<>();
    /** The last look's horizon from now() and the sessions (prepared transactions left out); null before the first. */
    private Instant previousLive;
    /** The transactions of the last look already named in a warning. */
    private final Set<String> warned = new HashSet<>();
    /** What this process said once: {@code track_activities}, {@code pg_read_all_stats}. */
    private final Set<String> said = new HashSet<>();

    TransactionHorizon() {
        this(LONG_OPEN);
    }

    /** @param longOpen how long a transaction holds the horizon back before it is named in a warning */
    TransactionHorizon(Duration longOpen) {
        this.longOpen = longOpen;
    }

    /**
     * The horizon now: rows whose replication key is before it are committed for good. Empty when nothing new may be
     * read (a prepared transaction of unknown start).
     *
     * @param c a source connection; each statement here must be its own transaction or come first in it
     */
    synchronized Horizon look(Connection c) throws SQLException {
        Instant now;
        Instant live;
        String holder = null;
        Set<String> open = new HashSet<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(SESSIONS)) {
            rs.next();
            now = instant(rs, 1);
            warnBlind(rs.getBoolean(2), rs.getString(3), rs.getBoolean(4), rs.getLong(5));
            live = now;
            Instant began = instant(rs, 7);
            if (began != null && began.isBefore(now)) {
                live = began;
                String key = rs.getInt(6) + "@" + began;
                open.add(key);
                holder = "the transaction of PID " + rs.getInt(6);
                Duration age = Duration.between(began, now);
                if (age.compareTo(longOpen) >= 0 && warned.add(key)) {
                    LOG.warn("INCREMENTAL reads only rows older than {}, when the transaction of PID {} (application_name '{}',"
                            + " user {}) began: it has been open for {}. Newer rows wait until it commits or rolls back",
                            began, rs.getInt(6), rs.getString(8), rs.getString(9), format(age));
                }
            }
        }
        Instant horizon = live;
        boolean blocked = false;
        Map<Long, Instant> floors = new HashMap<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(PREPARED)) {
            while (rs.next()) {
                long xid = rs.getLong(1);
                String gid = rs.getString(2);
                Instant prepared = instant(rs, 3);
                Instant floor = preparedFloors.containsKey(xid) ? preparedFloors.get(xid) : previousLive;
                floors.put(xid, floor);
                String key = "prepared " + xid;
                open.add(key);
                if (floor == null) {
                    blocked = true;
                    if (warned.add(key)) {
                        LOG.warn("INCREMENTAL reads nothing new while prepared transaction {} (owner {}, prepared at {}) is"
                                + " pending: it was prepared before pgsource first looked, so when it began is unknown. It ends"
                                + " with COMMIT PREPARED {}; or ROLLBACK PREPARED {};", literal(gid), rs.getString(4), prepared,
                                literal(gid), literal(gid));
                    }
                    continue;
                }
                if (floor.isBefore(horizon)) {
                    horizon = floor;
                    holder = "prepared transaction " + literal(gid);
                    Duration age = Duration.between(prepared, now);
                    if (age.compareTo(longOpen) >= 0 && warned.add(key)) {
                        LOG.warn("INCREMENTAL reads only rows older than {}: prepared transaction {} (owner {}) has been"
                                + " pending for {}. Newer rows wait until COMMIT PREPARED {}; or ROLLBACK PREPARED {}; ends it",
                                floor, literal(gid), rs.getString(4), format(age), literal(gid), literal(gid));
                    }
                }
            }
        }
        preparedFloors = floors;
        previousLive = live;
        warned.retainAll(open);
        if (blocked) {
            LOG.debug("INCREMENTAL reads nothing new in this run: a prepared transaction of unknown start is pending");
            return Horizon.NOTHING;
        }
        LOG.debug("INCREMENTAL reads rows before {}{}", horizon, holder == null ? " (now)" : ", when " + holder + " began");
        return new Horizon(horizon, holder != null);
    }

    /** Says once when pg_stat_activity hides when some transactions began, so the horizon cannot wait for them. */
    private void warnBlind(boolean tracked, String role, boolean readsAllStats, long hidden) {
        if (!tracked && said.add("track_activities")) {
            LOG.warn("track_activities is off on the source, so pg_stat_activity does not show when transactions began and"
                    + " INCREMENTAL may skip rows of a transaction that commits after a run read newer rows. Turn it on (as a"
                    + " superuser: ALTER SYSTEM SET track_activities = on; SELECT pg_reload_conf();), or set"
                    + " sync.incremental_lag to at least your longest transaction");
        }
        if (!readsAllStats && hidden > 0 && said.add("pg_read_all_stats")) {
            String quoted = TableId.quoteIdent(role);
            LOG.warn("The source role {} cannot see when other roles' transactions began (pg_stat_activity shows that only to"
                    + " members of pg_read_all_stats), so INCREMENTAL may skip rows of such a transaction that commits after a"
                    + " run read newer rows. Run (as a superuser) GRANT pg_read_all_stats TO {}; or set sync.incremental_lag to"
                    + " at least your longest transaction", quoted, quoted);
        }
    }

    /** A string literal, as a prepared transaction's gid is written in SQL. */
    private static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    /** {@code 2 h 5 min 3 s}, {@code 4 min 10 s}, {@code 12 s} */
    static String format(Duration d) {
        long s = d.truncatedTo(ChronoUnit.SECONDS).toSeconds();
        if (s >= 3600) {
            return s / 3600 + " h " + s % 3600 / 60 + " min " + s % 60 + " s";
        }
        return s >= 60 ? s / 60 + " min " + s % 60 + " s" : s + " s";
    }

    /**
     * Rows whose replication key is before {@code before} are committed for good; null: nothing new may be read.
     *
     * @param held whether a transaction still open (or prepared) holds it before now(): newer rows wait for it
     */
    record Horizon(Instant before, boolean held) {
        static final Horizon NOTHING = new Horizon(null, true);

        /** The bound less {@code lag}, as PostgreSQL {@code timestamptz} text ({@code -infinity} for nothing). */
        String minus(Duration lag) {
            return before == null ? "-infinity" : before.minus(lag).toString();
        }
    }
}
