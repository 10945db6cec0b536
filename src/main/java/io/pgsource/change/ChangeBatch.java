package io.pgsource.change;

import java.util.AbstractList;
import java.util.List;
import java.util.RandomAccess;

/**
 * What an exchange carries: the changes of one source transaction (or one chunk of a huge one, or several whole
 * small ones when the pgoutput: consumer combines them), or one page of a batch query, in source order. It is a {@code List<ChangeEvent>}, so {@code split} works on it.
 *
 * @see ChangeHeaders for the position headers that travel with it
 */
public final class ChangeBatch extends AbstractList<ChangeEvent> implements RandomAccess {
    private final List<ChangeEvent> events;
    private final Position position;
    private final boolean last;
    private final List<TableSchema> tables;

    /**
     * @param events   the changes in source order
     * @param position what to store at the destination once this batch is committed there
     * @param last     true for the last page of a batch-query stream or the last chunk of a transaction
     */
    public ChangeBatch(List<ChangeEvent> events, Position position, boolean last) {
        this(events, position, last, List.of());
    }

    /**
     * @param tables tables this batch speaks for even without events: a table destination creates them (an empty
     *               table's only page has no rows, yet its copy must exist)
     */
    public ChangeBatch(List<ChangeEvent> events, Position position, boolean last, List<TableSchema> tables) {
        this.events = List.copyOf(events);
        this.position = position;
        this.last = last;
        this.tables = List.copyOf(tables);
    }

    /** Tables the batch speaks for beyond those its events name (see the constructor). */
    public List<TableSchema> tables() {
        return tables;
    }

    public Position position() {
        return position;
    }

    public boolean last() {
        return last;
    }

    @Override
    public ChangeEvent get(int index) {
        return events.get(index);
    }

    @Override
    public int size() {
        return events.size();
    }
}
