package io.pgsource.types;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.testsupport.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;

class SessionSettingsTest {

    /** A JVM in another zone makes pgjdbc send that zone at startup; apply must still make the output UTC. */
    @Test
    void textOutputIsFixedWhateverTheJvmZone() throws Exception {
        TestPostgres pg = TestPostgres.server();
        TimeZone saved = TimeZone.getDefault();
        TimeZone.setDefault(TimeZone.getTimeZone("Asia/Kolkata"));
        Properties p = SessionSettings.jdbcProperties();
        p.setProperty("user", pg.user());
        p.setProperty("password", pg.password());
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), p)) {
            TimeZone.setDefault(saved);
            // the startup options hold for everything but the zone, which pgjdbc's own TimeZone parameter overrides
            assertThat(SessionSettings.differences(c).keySet()).isSubsetOf("TimeZone");
            SessionSettings.apply(c);
            assertThat(SessionSettings.differences(c)).isEmpty();
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT '2024-01-01 12:00:00.5+05:30'::timestamptz, "
                         + "'1 year -2 months 3 days -04:05:06.789'::interval, '-1234567.891'::money, '\\x00ff'::bytea, "
                         + "0.1::float8, 0.1::float4, 1e-310::float8, '0044-03-15 BC'::date, true, '1.50'::numeric")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("2024-01-01 06:30:00.5+00");
                assertThat(rs.getString(2)).isEqualTo("P10M3DT-4H-5M-6.789S");
                assertThat(rs.getString(3)).isEqualTo("-$1,234,567.89");
                assertThat(rs.getString(4)).isEqualTo("\\x00ff");
                assertThat(rs.getString(5)).isEqualTo("0.1");
                assertThat(rs.getString(6)).isEqualTo("0.1");
                assertThat(rs.getString(7)).isEqualTo("1e-310");
                assertThat(rs.getString(8)).isEqualTo("0044-03-15 BC");
                assertThat(rs.getString(9)).isEqualTo("t");
                assertThat(rs.getString(10)).isEqualTo("1.50");
            }
        } finally {
            TimeZone.setDefault(saved);
        }
    }

    @Test
    void applyCommitsWhenAutocommitIsOff() throws Exception {
        TestPostgres pg = TestPostgres.server();
        try (Connection c = pg.connect("postgres")) {
            c.setAutoCommit(false);
            SessionSettings.apply(c);
            c.rollback();
            assertThat(SessionSettings.differences(c)).isEmpty();
        }
    }

    @Test
    void differencesNameWhatIsOff() throws Exception {
        TestPostgres pg = TestPostgres.server();
        try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
            SessionSettings.apply(c);
            s.execute("SET IntervalStyle = postgres");
            assertThat(SessionSettings.differences(c)).containsOnlyKeys("IntervalStyle");
        }
    }
}
