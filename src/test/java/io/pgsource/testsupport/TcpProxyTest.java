package io.pgsource.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class TcpProxyTest {
    private final TestPostgres pg = TestPostgres.server();

    @Test
    void cutBreaksOpenConnectionsAndRefusesNewOnesUntilRestored() throws Exception {
        String db = pg.createDatabase("proxy");
        try (TcpProxy proxy = TcpProxy.start(pg.host(), pg.port())) {
            try (Connection c = connect(proxy, db)) {
                assertThat(one(c)).isEqualTo(1);
                proxy.cut();
                assertThat(failsWithin(c, 5_000)).as("the open connection broke").isTrue();
            }
            assertThatThrownBy(() -> connect(proxy, db)).isInstanceOf(SQLException.class);
            proxy.restore();
            try (Connection c = connect(proxy, db)) {
                assertThat(one(c)).isEqualTo(1);
            }
            assertThat(proxy.accepted()).isEqualTo(2);
        }
    }

    private Connection connect(TcpProxy proxy, String db) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", pg.user());
        p.setProperty("password", pg.password());
        p.setProperty("connectTimeout", "5");
        return DriverManager.getConnection("jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + db, p);
    }

    /** The first query after a cut can still be on its way when the socket closes: poll until one fails. */
    private static boolean failsWithin(Connection c, long millis) throws InterruptedException {
        long end = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < end) {
            try {
                one(c);
            } catch (SQLException expected) {
                return true;
            }
            Thread.sleep(100);
        }
        return false;
    }

    private static int one(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
