package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Which open transactions hold INCREMENTAL's bound back, looked at on a real PostgreSQL with transactions held open on
 * other connections (no sleeps: a transaction's start is read back from the server and compared exactly).
 */
class TransactionHorizonTest {
    private static final String PASSWORD = "Horizon-Secret-7";
    private static TestPostgres pg;
    private static String database;
    private static String otherDatabase;

    private final Logger logger = (Logger) LoggerFactory.getLogger(TransactionHorizon.class);
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();

    @BeforeAll
    static void databases() throws SQLException {
        pg = TestPostgres.server();
        database = pg.createDatabase("horizon");
        otherDatabase = pg.createDatabase("horizon_other");
        try (Connection c = pg.connect(database); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE t (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())");
        }
    }

    @BeforeEach
    void captureLog() {
        log.start();
        logger.addAppender(log);
    }

    @AfterEach
    void stopCapture() {
        logger.detachAppender(log);
    }

    /** A superuser session with its own application_name. */
    private static Connection session(String db, String applicationName) throws SQLException {
        return connect(db, pg.user(), pg.password(), applicationName);
    }

    private static Connection connect(String db, String user, String password, String applicationName) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("ApplicationName", applicationName);
        return DriverManager.getConnection(pg.jdbcUrl(db), p);
    }

    /** Begins a transaction on {@code c} and returns its now(). */
    private static Instant begin(Connection c) throws SQLException {
        c.setAutoCommit(false);
        return now(c);
    }

    private static Instant now(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT now()")) {
            rs.next();
            return rs.getObject(1, OffsetDateTime.class).toInstant();
        }
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private List<String> warnings() {
        return log.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
    }

    @Test
    void withNoOtherTransactionTheBoundIsNow() throws SQLException {
        TransactionHorizon horizon = new TransactionHorizon();
        try (Connection c = session(database, "pgsource")) {
            Instant before = now(c);
            Instant bound = horizon.look(c).before();
            Instant after = now(c);

            assertThat(bound).isAfterOrEqualTo(before).isBeforeOrEqualTo(after);
        }
    }

    @Test
    void aTransactionThatHasNotWrittenYetHoldsTheBoundAtItsStartUntilItEnds() throws SQLException {
        TransactionHorizon horizon = new TransactionHorizon();
        try (Connection c = session(database, "pgsource"); Connection writer = session(database, "late writer")) {
            // no write yet, so no xid: pg_current_snapshot() would not list it
            Instant began = begin(writer);
            assertThat(horizon.look(c).before()).isEqualTo(began);

            execute(writer, "INSERT INTO t (id) VALUES (1)");
            assertThat(horizon.look(c).before()).isEqualTo(began);

            writer.commit();
            assertThat(horizon.look(c).before()).isAfter(began);
        }
    }

    @Test
    void aLongTransactionIsNamedOnceWithItsPidAgeAndApplicationName() throws SQLException {
        TransactionHorizon horizon = new TransactionHorizon(Duration.ZERO);
        try (Connection c = session(database, "pgsource"); Connection writer = session(database, "nightly batch")) {
            begin(writer);
            int pid = pid(writer);
            for (int run = 0; run < 3; run++) {
                horizon.look(c);
            }
            assertThat(warnings()).singleElement().satisfies(w -> assertThat(w)
                    .contains("PID " + pid).contains("application_name 'nightly batch'").contains("has been open for")
                    .contains("wait until it commits or rolls back"));

            writer.commit();
            begin(writer);
            horizon.look(c);
            assertThat(warnings()).as("a new transaction is a new one to name").hasSize(2);
            writer.rollback();
        }
    }

    @Test
    void aShortTransactionIsNotWarnedAbout() throws SQLException {
        TransactionHorizon horizon = new TransactionHorizon();
        try (Connection c = session(database, "pgsource"); Connection writer = session(database, "web request")) {
            Instant began = begin(writer);
            assertThat(horizon.look(c).before()).isEqualTo(began);
            assertThat(warnings()).isEmpty();
            writer.rollback();
        }
    }

    @Test
    void transactionsOfOtherDatabasesDoNotCount() throws SQLException {
        TransactionHorizon horizon = new TransactionHorizon();
        try (Connection c = session(database, "pgsource"); Connection elsewhere = session(otherDatabase, "elsewhere")) {
            Instant began = begin(elsewhere);
            assertThat(horizon.look(c).before()).isAfter(began);
            elsewhere.rollback();
        }
    }

    private static int pid(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static void assumePreparedTransactions() throws SQLException {
        try (Connection c = pg.connect(database); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('max_prepared_transactions')::int")) {
            rs.next();
            assumeThat(rs.getInt(1)).as("max_prepared_transactions on the test server (the embedded one sets it)").isPositive();
        }
    }

    /** Inserts a row and prepares the transaction: it stays pending after the session moved on. */
    private static void prepare(Connection c, int id, String gid) throws SQLException {
        execute(c, "BEGIN");
        execute(c, "INSERT INTO t (id) VALUES (" + id + ")");
        execute(c, "PREPARE TRANSACTION '" + gid + "'");
    }

    @Test
    void aPreparedTransactionAlreadyThereAtTheFirstLookHoldsEverythingBackUntilItEnds() throws SQLException {
        assumePreparedTransactions();
        TransactionHorizon horizon = new TransactionHorizon();
        try (Connection c = session(database, "pgsource"); Connection writer = session(database, "xa")) {
            prepare(writer, 10, "pgsource-test-early");
            try {
                assertThat(horizon.look(c)).isEqualTo(TransactionHorizon.Horizon.NOTHING);
                assertThat(horizon.look(c).minus(Duration.ZERO)).isEqualTo("-infinity");
                assertThat(warnings()).singleElement().satisfies(w -> assertThat(w).contains("reads nothing new")
                        .contains("COMMIT PREPARED 'pgsource-test-early'; or ROLLBACK PREPARED 'pgsource-test-early';"));
            } finally {
                // the warning's statement
                execute(writer, "ROLLBACK PREPARED 'pgsource-test-early';");
            }
            Instant ended = now(writer);
            assertThat(horizon.look(c).before()).isAfter(ended);
        }
    }

    @Test
    void aPreparedTransactionThatAppearedSinceThePreviousLookBeganAfterIt() throws SQLException {
        assumePreparedTransactions();
        TransactionHorizon horizon = new TransactionHorizon();
        try (Connection c = session(database, "pgsource"); Connection writer = session(database, "xa")) {
            Instant previous = horizon.look(c).before();
            prepare(writer, 11, "pgsource-test-later");
            try {
                assertThat(horizon.look(c).before()).isEqualTo(previous);
                assertThat(horizon.look(c).before()).as("and keeps that bound while it is pending").isEqualTo(previous);
            } finally {
                execute(writer, "COMMIT PREPARED 'pgsource-test-later'");
            }
            assertThat(horizon.look(c).before()).isAfter(previous);
            assertThat(warnings()).isEmpty();
        }
    }

    @Test
    void aRoleWithoutPgReadAllStatsIsToldOnceWhatToGrantAndSeesOtherRolesOnceGranted() throws SQLException {
        String role = database + "_reader";
        try (Connection admin = pg.connect(database)) {
            execute(admin, "CREATE ROLE " + role + " LOGIN PASSWORD '" + PASSWORD + "'");
        }
        TransactionHorizon horizon = new TransactionHorizon();
        try (Connection c = connect(database, role, PASSWORD, "pgsource"); Connection writer = session(database, "admin job")) {
            Instant began = begin(writer);
            assertThat(horizon.look(c).before()).as("another role's transaction is hidden").isAfter(began);
            horizon.look(c);
            assertThat(warnings()).singleElement().satisfies(w -> assertThat(w).contains("cannot see when other roles' transactions began")
                    .contains("sync.incremental_lag"));

            // the statement the warning gives works, and then the bound waits for the other role's transaction
            Matcher grant = Pattern.compile("GRANT pg_read_all_stats TO \"" + role + "\";").matcher(warnings().get(0));
            assertThat(grant.find()).isTrue();
            try (Connection admin = pg.connect(database)) {
                execute(admin, grant.group());
            }
            assertThat(horizon.look(c).before()).isEqualTo(began);
            writer.rollback();
        }
    }

    @Test
    void trackActivitiesOffIsSaidOnce() throws SQLException {
        TransactionHorizon horizon = new TransactionHorizon();
        try (Connection c = session(database, "pgsource")) {
            execute(c, "SET track_activities = off");
            horizon.look(c);
            horizon.look(c);
            assertThat(warnings()).singleElement().satisfies(w -> assertThat(w).contains("track_activities is off")
                    .contains("ALTER SYSTEM SET track_activities = on"));
        }
    }

    @Test
    void durationsReadAsHoursMinutesAndSeconds() {
        assertThat(TransactionHorizon.format(Duration.ofSeconds(12, 900_000_000))).isEqualTo("12 s");
        assertThat(TransactionHorizon.format(Duration.ofSeconds(250))).isEqualTo("4 min 10 s");
        assertThat(TransactionHorizon.format(Duration.ofSeconds(7503))).isEqualTo("2 h 5 min 3 s");
    }
}
