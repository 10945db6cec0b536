package io.pgsource.batch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.pgsource.change.TableId;
import java.io.IOException;
import java.util.HashSet;
import java.util.Set;
import org.apache.camel.Body;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code batchWakeups} bean: what the next batch-query run reads. The timer asks for every table; a notification
 * of {@code source.notify} for the table it names. Wake-ups between two runs add up, and the run takes them all at its
 * start ({@link #take()}): many notifications make one run, and one that arrives during a run makes the next.
 *
 * <p>The routes queue at most one run behind the one going (a queue of one that drops what does not fit): a dropped
 * wake-up is not lost, as its tables are kept here for the run already queued.
 */
public final class BatchWakeups {
    private static final Logger LOG = LoggerFactory.getLogger(BatchWakeups.class);
    private static final JsonFactory JSON = new JsonFactory();

    /**
     * What a run reads: every table, or those named (an empty set: nothing).
     *
     * @param tables the tables notifications named (also when the timer asks for every table)
     */
    public record Wake(boolean all, Set<TableId> tables) {
        public static final Wake ALL = new Wake(true, Set.of());

        /** Whether this run reads the table. */
        public boolean includes(TableId table) {
            return all || tables.contains(table);
        }
    }

    private boolean all;
    private Set<TableId> tables = new HashSet<>();
    private final Set<TableId> held = new HashSet<>();

    /** The timer: the next run reads every table (and catches what a missed notification did not say). */
    public synchronized void timer() {
        all = true;
    }

    /**
     * A notification: the next run reads the table named by the payload ({@code {"schema": "s", "table": "t"}}, as the
     * trigger sends it). Any other payload (a {@code NOTIFY} by hand) asks for every table.
     */
    public void notified(@Body String payload) {
        TableId table = table(payload);
        synchronized (this) {
            if (table == null) {
                all = true;
            } else {
                tables.add(table);
            }
        }
    }

    /**
     * An INCREMENTAL run woken by notifications read only up to a bound an open transaction held back: its tables are
     * read again by {@link #retryDue()}'s next call (every second), until a run is no longer held. A transaction that
     * wrote a selected table notifies when it commits; this covers those that did not (and the moment between a commit
     * and its session reporting it is idle).
     */
    public synchronized void heldBack(Set<TableId> tables) {
        held.addAll(tables);
    }

    /** Whether tables held back are due for another run: they are moved to the next run's. */
    public synchronized boolean retryDue() {
        if (held.isEmpty()) {
            return false;
        }
        tables.addAll(held);
        held.clear();
        return true;
    }

    /** What the run starting now reads; what arrives from now on is for the next run. */
    public synchronized Wake take() {
        Wake wake = new Wake(all, Set.copyOf(tables));
        all = false;
        tables = new HashSet<>();
        return wake;
    }

    /** The table a payload names, or null when it names none. */
    static TableId table(String payload) {
        if (payload == null || payload.isBlank()) {
            return null;
        }
        String schema = null;
        String name = null;
        try (JsonParser p = JSON.createParser(payload)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (value == JsonToken.VALUE_STRING && "schema".equals(field)) {
                    schema = p.getText();
                } else if (value == JsonToken.VALUE_STRING && "table".equals(field)) {
                    name = p.getText();
                } else {
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            LOG.debug("a notification that names no table wakes a run of every table: {}", payload);
            return null;
        }
        return schema == null || name == null ? null : new TableId(schema, name);
    }
}
