package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgsource.pgoutput.PrerequisiteException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The run's outcome decides alone whether a failure ends the run, when sync.once is done, and the exit code. */
class RunOutcomeTest {
    private final AtomicInteger stops = new AtomicInteger();

    private RunOutcome outcome(boolean once) {
        return new RunOutcome(once, true, Duration.ofSeconds(60), stops::incrementAndGet);
    }

    @Test
    void theFirstEndCountsAndStopsTheCaptureOnce() {
        RunOutcome outcome = outcome(false);
        outcome.fail(new PrerequisiteException("replication slot \"s\" is invalidated"));
        outcome.fail(new IllegalStateException("later"));
        outcome.finished();
        outcome.stopRequested("SIGTERM");

        assertThat(stops).hasValue(1);
        assertThat(outcome.error()).isEqualTo("replication slot \"s\" is invalidated");
        assertThat(outcome.stoppedBy()).isNull();
        assertThat(outcome.exitCode()).isEqualTo(2);
    }

    @Test
    void aNewSlotsCopyThatFailedEndsOnlyAOneOffSyncOrWhatNoRetryFixes() {
        RunOutcome streaming = outcome(false);
        streaming.copyFailed(new SQLException("connection refused", "08001"));
        assertThat(streaming.ended()).as("the consumer copies again later").isFalse();
        streaming.copyFailed(new SQLException("value too long for type character varying(3)", "22001"));
        assertThat(streaming.ended()).isTrue();
        assertThat(streaming.exitCode()).isEqualTo(1);

        RunOutcome once = outcome(true);
        once.copyFailed(new SQLException("connection refused", "08001"));
        assertThat(once.ended()).isTrue();
        assertThat(once.exitCode()).isEqualTo(1);
    }

    @Test
    void aStartThatFailedEndsTheRunUnlessItIsTriedAgain() {
        RunOutcome outcome = outcome(false);
        outcome.startFailed(new SQLException("connection refused", "08001"), true);
        assertThat(outcome.ended()).as("the leader of sync.ha tries again").isFalse();
        outcome.startFailed(new SQLException("connection refused", "08001"), false);
        assertThat(outcome.ended()).isTrue();
        assertThat(stops).hasValue(1);
    }

    @Test
    void syncOnceFinishesWhenCaughtUpAndOnlyWithSyncOnce() throws Exception {
        RunOutcome streaming = outcome(false);
        streaming.finishWhenCaughtUp(() -> true);
        assertThat(streaming.ended()).as("without sync.once the stream goes on").isFalse();

        RunOutcome once = outcome(true);
        AtomicInteger checks = new AtomicInteger();
        once.finishWhenCaughtUp(() -> checks.incrementAndGet() >= 2);
        assertThat(checks).hasValue(2);
        assertThat(once.ended()).isTrue();
        assertThat(once.error()).isNull();
        assertThat(once.exitCode()).isZero();
    }

    @Test
    void theExitCodeIsTheRuntimesOnlyWhenTheRunSawNoEnd() {
        assertThat(outcome(false).exitCode(130)).isEqualTo(130);
        RunOutcome once = outcome(true);
        assertThat(once.stoppedUnfinished()).isTrue();
        assertThat(once.exitCode(0)).as("a sync.once run that did not finish").isEqualTo(1);
        RunOutcome signalled = outcome(true);
        signalled.stopRequested("SIGINT");
        assertThat(signalled.stoppedUnfinished()).isFalse();
        assertThat(signalled.exitCode(0)).isEqualTo(1);
        RunOutcome stopped = outcome(false);
        stopped.stopRequested("SIGINT");
        assertThat(stopped.exitCode(143)).isZero();
        assertThat(stopped.stoppedBy()).isEqualTo("SIGINT");
    }
}
