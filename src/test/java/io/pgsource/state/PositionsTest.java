package io.pgsource.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.change.TableSchema;
import io.pgsource.sink.TestChanges;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PositionsTest {

    private static Position.Log at(long lsn) {
        return new Position.Log(lsn, 1, null);
    }

    @Test
    void lsnTextRoundTrips() {
        assertThat(Positions.lsn(0x16B3748L)).isEqualTo("0/16B3748");
        assertThat(Positions.parseLsn("0/16B3748")).isEqualTo(0x16B3748L);
        assertThat(Positions.parseLsn("FFFFFFFF/FFFFFFFF")).isEqualTo(-1L);
        assertThat(Positions.parseLsn(Positions.lsn(0x1_0000_0002L))).isEqualTo(0x1_0000_0002L);
        for (String bad : new String[] {"", "16B3748", "0/", "/1", "0/G", "123456789/0", "0/1/2"}) {
            assertThatThrownBy(() -> Positions.parseLsn(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void earlierPartsAreStoredWithTheirIndexAndSkippedUpToIt() {
        Position.Log part = at(0x500);
        assertThat(Positions.value(part, false, 1)).isEqualTo("0/500#1");
        assertThat(Positions.value(part, true, 2)).isEqualTo("0/500");
        assertThat(Positions.parseLsn("0/500#1")).isEqualTo(0x500L);
        assertThat(Positions.alreadyApplied(part, false, 0, "0/500#1")).isTrue();
        assertThat(Positions.alreadyApplied(part, false, 1, "0/500#1")).isTrue();
        assertThat(Positions.alreadyApplied(part, false, 2, "0/500#1")).isFalse();
        // the previous transaction ended exactly where this one's commit record starts: not applied
        assertThat(Positions.alreadyApplied(part, false, 0, "0/500")).isFalse();
        // the last part carries the end LSN, above the earlier parts' stored commit record LSN
        assertThat(Positions.alreadyApplied(at(0x530), true, 2, "0/500#1")).isFalse();
        assertThat(Positions.alreadyApplied(at(0x530), true, 2, "0/530")).isTrue();
    }

    @Test
    void aWholeTransactionOrLastPartIsSkippedAtOrBelowTheStoredLsn() {
        assertThat(Positions.alreadyApplied(at(0x200), true, null)).isFalse();
        assertThat(Positions.alreadyApplied(at(0x200), true, "0/1FF")).isFalse();
        assertThat(Positions.alreadyApplied(at(0x200), true, "0/200")).isTrue();
        assertThat(Positions.alreadyApplied(at(0x200), true, "0/201")).isTrue();
        assertThat(Positions.alreadyApplied(at(0x200), true, "1/0")).isTrue();
    }

    @Test
    void anEarlierPartIsSkippedOnlyBelowTheStoredLsn() {
        // stored = this transaction's commit record LSN: some parts were applied, not known which: apply again
        assertThat(Positions.alreadyApplied(at(0x200), false, "0/200")).isFalse();
        assertThat(Positions.alreadyApplied(at(0x200), false, "0/1FF")).isFalse();
        // stored above: the whole transaction (or a later one) was applied
        assertThat(Positions.alreadyApplied(at(0x200), false, "0/230")).isTrue();
    }

    @Test
    void unsignedComparisonAndUnreadableStoredValues() {
        assertThat(Positions.alreadyApplied(at(0x8000_0000_0000_0000L), true, "7FFFFFFF/FFFFFFFF")).isFalse();
        assertThat(Positions.alreadyApplied(at(0x10), true, "FFFFFFFF/0")).isTrue();
        assertThat(Positions.alreadyApplied(at(0x10), true, "{\"not\":\"an lsn\"}")).isFalse();
    }

    @Test
    void combinedTransactionsAlreadyAppliedAreLeftOutAndTheOthersKept() {
        TableSchema t = TestChanges.table("s", "t", List.of("id"), TestChanges.col("id", "integer"));
        // transactions 1, 2, 3 with commit records at 0/100, 0/200, 0/300; 3's end LSN 0/380 is the batch's position
        List<ChangeEvent> events = new ArrayList<>();
        for (int tx = 1; tx <= 3; tx++) {
            Position.Log record = new Position.Log(0x100L * tx, tx, null);
            for (int i = 0; i < 2; i++) {
                events.add(new ChangeEvent(Op.INSERT, t, null, TestChanges.row(t, tx * 10 + i), Set.of(), record));
            }
        }
        ChangeBatch batch = new ChangeBatch(events, new Position.Log(0x380, 3, null), true);

        assertThat(Positions.withoutApplied(batch, null)).isSameAs(batch);
        assertThat(Positions.withoutApplied(batch, "0/100")).as("1's commit record starts at the stored LSN: not applied").isSameAs(batch);
        // a copy taken at 0/250 (or transaction 2 ending there) holds 1 and 2
        ChangeBatch rest = Positions.withoutApplied(batch, "0/250");
        assertThat(rest).extracting(e -> ((Position.Log) e.position()).txId()).containsExactly(3L, 3L);
        assertThat(rest.position()).isEqualTo(batch.position());
        assertThat(rest.last()).isTrue();
        assertThat(Positions.withoutApplied(batch, "0/180")).extracting(e -> ((Position.Log) e.position()).txId())
                .containsExactly(2L, 2L, 3L, 3L);
        // the batch's own transaction is never left out here: alreadyApplied decides on it as a whole
        assertThat(Positions.withoutApplied(batch, "0/380")).extracting(e -> ((Position.Log) e.position()).txId()).containsExactly(3L, 3L);
    }
}
