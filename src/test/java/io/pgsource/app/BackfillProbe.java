package io.pgsource.app;

import io.pgsource.testsupport.TableCompare;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the backfill tests read of a backfill in the public schema: its progress as the destination stores it, the rows
 * read at the source ({@code pg_stat_user_tables}), whether source and destination are equal, and the longest
 * transaction open on the source.
 */
final class BackfillProbe {
    private final TestPostgres pg;

    BackfillProbe(TestPostgres pg) {
        this.pg = pg;
    }

    boolean equal(String source, String target, List<String> tables) {
        try (Connection s = pg.connect(source); Connection d = pg.connect(target)) {
            return TableCompare.differences(s, "public", d, "public", tables).isEmpty();
        } catch (SQLException e) {
            return false; // the destination tables do not exist yet
        }
    }

    /** The last key of the table the destination stored as backfilled, 0 before the first chunk. */
    long lastKey(String target, String table) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"after\":\\[\"(\\d+)\"\\]").matcher(progress(target, table));
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** The backfill's progress the destination stores (empty before any). */
    String progress(String target, String table) {
        try {
            return String.join("", SourceFixture.query(pg, target, "SELECT position FROM _pgsource.positions WHERE stream = 'backfill:public."
                    + table + "'"));
        } catch (SQLException e) {
            return "";
        }
    }

    /** Rows read from the table at the source, by sequential and index scans (the counters flush about once a second). */
    long rowsRead(String source, String table) throws SQLException {
        return Long.parseLong(SourceFixture.query(pg, source, "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables"
                + " WHERE relname = '" + table + "'").get(0));
    }

    /**
     * Samples the longest transaction open on the source database ({@code now() - xact_start} in pg_stat_activity, every
     * 50 ms; autovacuum's own left out) on a thread of its own until closed.
     */
    final class LongestTransaction implements AutoCloseable {
        private final AtomicBoolean done = new AtomicBoolean();
        private final AtomicLong longestMillis = new AtomicLong();
        private volatile String longestWhat = "none";
        private final Thread thread;

        LongestTransaction(String source) {
            thread = new Thread(() -> {
                try (Connection c = pg.connect(source); var s = c.createStatement()) {
                    while (!done.get()) {
                        try (var rs = s.executeQuery("SELECT (extract(epoch FROM clock_timestamp() - xact_start) * 1000)::bigint,"
                                + " backend_type || ' ' || coalesce(application_name, '') || ' ' || coalesce(state, '') || ': ' || left(query, 80)"
                                + " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                                + " AND xact_start IS NOT NULL AND backend_type <> 'autovacuum worker' ORDER BY xact_start LIMIT 1")) {
                            if (rs.next() && rs.getLong(1) > longestMillis.get()) {
                                longestMillis.set(rs.getLong(1));
                                longestWhat = rs.getString(2);
                            }
                        }
                        Thread.sleep(50);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException("sampling pg_stat_activity failed", e);
                }
            }, "longest-transaction");
            thread.setDaemon(true);
            thread.start();
        }

        /** The longest seen so far, in milliseconds. */
        long millis() {
            return longestMillis.get();
        }

        /** The session that held it and its query. */
        String what() {
            return longestWhat;
        }

        @Override
        public void close() throws InterruptedException {
            done.set(true);
            thread.join();
        }
    }
}
