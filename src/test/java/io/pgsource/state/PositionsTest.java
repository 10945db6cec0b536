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
        // the text pgjdbc's LogSequenceNumber gives, high bits and all
        for (long lsn : new long[] {0, 0xABCDEF, 0x8000_0000L, 0xFFFF_FFFFL, 0x1_0000_0000L, 0x7FFF_FFFF_8000_0000L, -1L}) {
            assertThat(Positions.lsn(lsn)).as(Long.toHexString(lsn))
                    .isEqualTo(org.postgresql.replication.LogSequenceNumber.valueOf(lsn).asString());
        }
        for (String bad : new String[] {"", "16B3748", "0/", "/1", "0/G", "123456789/0", "0/1/2"}) {
            assertThatThrownBy(() -> Positions.parseLsn(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    private static final TableSchema T = TestChanges.table("s", "t", List.of(), TestChanges.col("v", "integer"));

    /**
     * A part of transaction 7 (commit record at {@code record}, end at {@code end}) holding changes {@code from} to
     * {@code to - 1} of it; the last part when {@code to} is the transaction's size.
     */
    private static ChangeBatch part(long record, long end, int from, int to, boolean last) {
        Position.Log tx = new Position.Log(record, 7, null);
        List<ChangeEvent> events = new ArrayList<>();
        for (int i = from; i < to; i++) {
            events.add(new ChangeEvent(Op.INSERT, T, null, TestChanges.row(T, i), Set.of(), tx));
        }
        return new ChangeBatch(events, last ? new Position.Log(end, 7, null) : tx, last);
    }

    @Test
    void earlierPartsAreStoredWithTheChangesAppliedAndSkippedExactlyWhateverThePartSize() {
        Position.Log record = at(0x500);
        assertThat(Positions.value(record, false, 8L)).isEqualTo("0/500#8");
        assertThat(Positions.value(at(0x530), true, 10L)).isEqualTo("0/530");
        assertThat(Positions.value(record, false, null)).as("unknown place: the commit record LSN").isEqualTo("0/500");
        assertThat(Positions.parseLsn("0/500#8")).isEqualTo(0x500L);
        // 10 changes, 8 applied in parts of 4 before a restart; now cut in parts of 3: 0-2, 3-5 skipped, 6-8 from 8 on
        assertThat(Positions.alreadyApplied(part(0x500, 0x530, 0, 3, false), 0L, "0/500#8")).isTrue();
        assertThat(Positions.alreadyApplied(part(0x500, 0x530, 3, 6, false), 3L, "0/500#8")).isTrue();
        ChangeBatch straddling = part(0x500, 0x530, 6, 9, false);
        assertThat(Positions.alreadyApplied(straddling, 6L, "0/500#8")).isFalse();
        assertThat(Positions.appliedChanges(straddling, 6L, "0/500#8")).isEqualTo(2);
        ChangeBatch lastPart = part(0x500, 0x530, 9, 10, true);
        assertThat(Positions.alreadyApplied(lastPart, 9L, "0/500#8")).isFalse();
        assertThat(Positions.appliedChanges(lastPart, 9L, "0/500#8")).isZero();
        // now whole: its first 8 changes are skipped, the last 2 applied
        assertThat(Positions.appliedChanges(part(0x500, 0x530, 0, 10, true), 0L, "0/500#8")).isEqualTo(8);
        // the place unknown: applied again
        assertThat(Positions.appliedChanges(straddling, null, "0/500#8")).isZero();
        // the previous transaction ended exactly where this one's commit record starts: not applied
        assertThat(Positions.appliedChanges(part(0x500, 0x530, 0, 3, false), 0L, "0/500")).isZero();
        // the last part carries the end LSN, above the earlier parts' commit record LSN
        assertThat(Positions.alreadyApplied(lastPart, 9L, "0/530")).isTrue();
        // another transaction applied in part: an earlier one is applied, a later one not
        assertThat(Positions.alreadyApplied(part(0x500, 0x530, 0, 3, false), 0L, "0/600#2")).isTrue();
        assertThat(Positions.alreadyApplied(lastPart, 9L, "0/600#2")).isTrue();
        assertThat(Positions.appliedChanges(part(0x700, 0x730, 0, 3, false), 0L, "0/600#2")).isZero();
    }

    @Test
    void aWholeTransactionOrLastPartIsSkippedAtOrBelowTheStoredLsn() {
        ChangeBatch whole = part(0x1F0, 0x200, 0, 2, true);
        assertThat(Positions.alreadyApplied(whole, 0L, null)).isFalse();
        assertThat(Positions.alreadyApplied(whole, 0L, "0/1FF")).isFalse();
        assertThat(Positions.alreadyApplied(whole, 0L, "0/200")).isTrue();
        assertThat(Positions.alreadyApplied(whole, 0L, "0/201")).isTrue();
        assertThat(Positions.alreadyApplied(whole, 0L, "1/0")).isTrue();
        assertThat(Positions.alreadyApplied(new ChangeBatch(List.of(), at(0x200), true), null, "0/200")).as("an empty one too").isTrue();
    }

    @Test
    void anEarlierPartIsSkippedOnlyBelowTheStoredLsn() {
        // stored = this transaction's commit record LSN, no count: the previous transaction ended there
        assertThat(Positions.alreadyApplied(part(0x200, 0x230, 0, 2, false), 0L, "0/200")).isFalse();
        assertThat(Positions.alreadyApplied(part(0x200, 0x230, 0, 2, false), 0L, "0/1FF")).isFalse();
        // stored above: the whole transaction (or a later one) was applied
        assertThat(Positions.alreadyApplied(part(0x200, 0x230, 0, 2, false), 0L, "0/230")).isTrue();
    }

    @Test
    void unsignedComparisonAndUnreadableStoredValues() {
        assertThat(Positions.alreadyApplied(part(0x10, 0x8000_0000_0000_0000L, 0, 1, true), 0L, "7FFFFFFF/FFFFFFFF")).isFalse();
        assertThat(Positions.alreadyApplied(part(0x8, 0x10, 0, 1, true), 0L, "FFFFFFFF/0")).isTrue();
        assertThat(Positions.alreadyApplied(part(0x8, 0x10, 0, 1, true), 0L, "{\"not\":\"an lsn\"}")).isFalse();
        assertThat(Positions.appliedChanges(part(0x8, 0x10, 0, 1, false), 0L, "0/8#x")).isZero();
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
        // 1 was applied in part (its first change) before a restart, in parts cut smaller: the rest of it goes on
        assertThat(Positions.withoutApplied(batch, "0/100#1")).extracting(e -> ((Position.Log) e.position()).txId())
                .containsExactly(1L, 2L, 2L, 3L, 3L);
        // the batch's own transaction is never left out here: alreadyApplied decides on it as a whole
        assertThat(Positions.withoutApplied(batch, "0/380")).extracting(e -> ((Position.Log) e.position()).txId()).containsExactly(3L, 3L);
    }

    @Test
    void changesACopyHoldsAreLeftOutByTableAndCommitLsn() {
        TableSchema other = TestChanges.table("s", "u", List.of(), TestChanges.col("v", "integer"));
        ChangeEvent before = new ChangeEvent(Op.INSERT, T, null, TestChanges.row(T, 1), Set.of(), at(0x400));
        ChangeEvent atCopy = new ChangeEvent(Op.INSERT, T, null, TestChanges.row(T, 2), Set.of(), at(0x500));
        ChangeEvent otherTable = new ChangeEvent(Op.INSERT, other, null, TestChanges.row(other, 3), Set.of(), at(0x400));
        ChangeBatch batch = new ChangeBatch(List.of(before, otherTable, atCopy), at(0x530), true);
        // copied at 0/500: a commit record starting there ends after it, so that transaction is not in the copy
        assertThat(Positions.withoutCopied(batch, java.util.Map.of(T.id(), 0x500L))).containsExactly(otherTable, atCopy);
        assertThat(Positions.withoutCopied(batch, java.util.Map.of(T.id(), 0x501L))).containsExactly(otherTable);
        assertThat(Positions.withoutCopied(batch, java.util.Map.of())).isSameAs(batch);
        assertThat(Positions.withoutCopied(batch, null)).isSameAs(batch);
        assertThat(Positions.copiedAt("s1", T.id())).isEqualTo("slot:s1:s.t");
    }
}
