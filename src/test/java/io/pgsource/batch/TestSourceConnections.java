package io.pgsource.batch;

import io.pgsource.config.SourceConnections;
import io.pgsource.testsupport.TestPostgres;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;

/** Source connections to a test database with the shared session settings; counts the ones left open. */
final class TestSourceConnections implements SourceConnections {
    private final String database;
    private final AtomicInteger open = new AtomicInteger();

    TestSourceConnections(String database) {
        this.database = database;
    }

    @Override
    public Connection open() throws SQLException {
        TestPostgres server = TestPostgres.server();
        Properties props = new Properties();
        props.setProperty("user", server.user());
        props.setProperty("password", server.password());
        props.setProperty("binaryTransfer", "false");
        Connection c = DriverManager.getConnection(server.jdbcUrl(database), props);
        try (Statement s = c.createStatement()) {
            s.execute("SET DateStyle = ISO; SET IntervalStyle = iso_8601; SET TimeZone = 'UTC'; SET extra_float_digits = 3;"
                    + " SET bytea_output = hex; SET lc_monetary = 'C'");
        }
        open.incrementAndGet();
        return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class}, (proxy, method, args) -> {
            if (method.getName().equals("close") && !c.isClosed()) {
                open.decrementAndGet();
            }
            try {
                return method.invoke(c, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    /** Connections opened and not closed yet. */
    int stillOpen() {
        return open.get();
    }
}
