package io.pgsource.sink.reject;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.sql.SQLException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which destination failures stop the sync (a person must fix them), which are retried, which may be dead-lettered. */
class DestinationErrorsTest {

    @ParameterizedTest(name = "{0}: rejects the change {1}, permanent {2}")
    @CsvSource({
        "22001, true, true",   // value too long
        "22003, true, true",   // numeric out of range
        "23502, true, true",   // NOT NULL
        "23505, true, true",   // unique
        "23514, true, true",   // CHECK
        "P0001, true, true",   // a trigger raised an error
        "42703, false, true",  // undefined column: a setup problem, not one change's
        "42501, false, true",  // insufficient privilege
        "0A000, false, true",  // feature not supported
        "08006, false, false", // connection failure
        "40001, false, false", // serialization failure
        "40P01, false, false", // deadlock
        "53100, false, false", // disk full
        "57P01, false, false", // admin shutdown
        "57014, false, false", // query canceled (statement timeout)
    })
    void classifiesBySqlState(String state, boolean rejects, boolean permanent) {
        // wrapped the way the sink and Camel wrap it
        Exception failure = new IllegalStateException("route failed", new SQLException("outer", state, new SQLException("db", state)));
        assertThat(DestinationErrors.rejectsChange(failure)).isEqualTo(rejects);
        assertThat(DestinationErrors.permanent(failure)).isEqualTo(permanent);
    }

    @ParameterizedTest
    @CsvSource({"true", "false"})
    void failuresWithoutSqlStateAreRetriedUnlessMarkedPermanent(boolean marked) {
        Exception failure = marked ? new Marked() : new IllegalStateException(new IOException("No space left on device"));
        assertThat(DestinationErrors.permanent(failure)).isEqualTo(marked);
        assertThat(DestinationErrors.rejectsChange(failure)).isFalse();
    }

    private static final class Marked extends RuntimeException implements io.pgsource.config.PermanentFailure {
    }
}
