package io.pgsource.batch;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.pgsource.change.TableId;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.Row;
import io.pgsource.config.Sizes;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Progress of the copies pgsource makes (the initial copy, the copies of single tables while streaming, the chunked
 * backfills): per table the rows copied, their size (the values as read: text form, or binary where the copy reads binary), the rate and, from {@code pg_class.reltuples}
 * read once at the table's start (for tables copied together: for all of them in one query when the copy is planned),
 * an estimate of the table's rows and an ETA. A line every
 * {@code source.copy_progress_interval} while a table is copied, a final line per table (with more than
 * {@value #SUMMARIZED_ABOVE} tables together only for a table whose copy took a while, then a last line for all), and
 * the gauges
 * {@code pgsource_copy_rows}, {@code pgsource_copy_rows_estimated}, {@code pgsource_copy_bytes},
 * {@code pgsource_copy_rows_per_second} and {@code pgsource_copy_eta_seconds} tagged with the table (the last copy's
 * values stay after it ends). When several tables are copied together (the initial copy), a total line every interval
 * too ("Copying 12 tables: ...", rows, size, rows/s and an ETA over all of them, the estimate being the sum of their
 * {@code reltuples}) and the same gauges without a table, named {@code pgsource_copy_total_*}. Tables copied at the
 * same time by several snapshot readers each keep their own counts and clock.
 *
 * <p>Fed once per page or chunk (counters only: no allocation per row). A table never analyzed has no estimate
 * ({@code reltuples} is -1 on PostgreSQL 14+, 0 on 13): its lines say "size unknown" and give its size on disk
 * ({@code pg_table_size}) instead of an ETA.
 */
public final class CopyProgress {
    private static final Logger LOG = LoggerFactory.getLogger(CopyProgress.class);
    /** The default {@code source.copy_progress_interval}. */
    public static final Duration DEFAULT_INTERVAL = io.pgsource.config.CopySettings.DEFAULT_PROGRESS_INTERVAL;

    /**
     * Copies of more tables than this together log the final line of a table only when its copy took a while (a second,
     * or the interval): thousands of small tables would make thousands of lines. The total's line counts the others,
     * every interval, and a last line sums them up.
     */
    static final int SUMMARIZED_ABOVE = 20;
    private static final long MIN_LINE_NANOS = 1_000_000_000L;

    /** No lines and no gauges: for copies made outside the application (tests, tools). */
    public static final CopyProgress NONE = new CopyProgress(Duration.ZERO, () -> null, line -> { });

    private final long intervalNanos;
    private final Supplier<MeterRegistry> registry;
    private final Consumer<String> lines;
    /** Every table copied so far; a table's entry (and its gauges) is reused by its next copy. */
    private final Map<String, Table> tables = new ConcurrentHashMap<>();
    private final AtomicInteger planned = new AtomicInteger();
    /** The estimate and size on disk of each table planned whose copy has not started yet, read with the plan. */
    private final Map<String, long[]> estimates = new ConcurrentHashMap<>();
    private final AtomicInteger done = new AtomicInteger();
    /** The current count's rows and bytes copied, since its plan. */
    private final AtomicLong totalRows = new AtomicLong();
    private final AtomicLong totalBytes = new AtomicLong();
    /** The estimated rows of the tables planned ({@code reltuples} summed, those never analyzed left out); -1: none read. */
    private volatile long totalEstimated = -1;
    /** Tables planned whose rows have no estimate (never analyzed), left out of {@link #totalEstimated}. */
    private volatile int totalUnknown;
    private volatile long totalStarted = System.nanoTime();
    private volatile long lastTotalLine;
    private boolean totalGauges;

    /**
     * @param interval how often a line is logged while a table is copied; zero: only the final line per table
     * @param registry where the gauges go, asked at each table's start; null: no gauges
     * @param lines    where the lines go (the log)
     */
    public CopyProgress(Duration interval, Supplier<MeterRegistry> registry, Consumer<String> lines) {
        this.intervalNanos = interval.toNanos();
        this.registry = registry;
        this.lines = lines;
    }

    /** Logs at INFO. */
    public CopyProgress(Duration interval, Supplier<MeterRegistry> registry) {
        this(interval, registry, LOG::info);
    }

    /** One table's copy: written by the thread that copies it, read by gauges and lines. */
    public static final class Table {
        private final String name;
        private final AtomicLong rows = new AtomicLong();
        private final AtomicLong bytes = new AtomicLong();
        /** -1: unknown. */
        private volatile long estimated = -1;
        private volatile long diskBytes = -1;
        private volatile boolean copying;
        private volatile long started;
        private volatile long finishedAt;
        private long lastLine;
        private CopyProgress owner;

        private Table(String name) {
            this.name = name;
        }

        /** Counts a page or chunk: the events holding a row (READ, INSERT), and their text size. */
        public void page(List<ChangeEvent> events) {
            long n = 0;
            long size = 0;
            for (int i = 0, e = events.size(); i < e; i++) {
                Row row = events.get(i).after();
                if (row != null) {
                    n++;
                    size += size(row);
                }
            }
            add(n, size);
        }

        /** Counts rows read. */
        public void rows(List<Row> read) {
            long size = 0;
            for (int i = 0, e = read.size(); i < e; i++) {
                size += size(read.get(i));
            }
            add(read.size(), size);
        }

        /**
         * The size of the row's values as read: their text form, or their binary form where the copy reads binary. A row
         * still the COPY line or tuple it was read as is measured by that, not split into values just to be counted
         * (its escapes and NULL marks, or length words, left out or counted as they come).
         */
        private static long size(Row row) {
            int n = row.size();
            if (row.copyBinary() != null) {
                return row.copyBinaryEnd() - row.copyBinaryStart() - 4L * n;
            }
            if (row.copyText() != null) {
                return Math.max(0, row.copyTextEnd() - (n - 1));
            }
            long size = 0;
            for (int c = 0; c < n; c++) {
                if (row.get(c) instanceof CharSequence s) {
                    size += s.length();
                } else if (row.get(c) instanceof byte[] b) {
                    size += b.length;
                }
            }
            return size;
        }

        private void add(long n, long size) {
            rows.addAndGet(n);
            bytes.addAndGet(size);
            CopyProgress p = owner;
            if (p == null) {
                return;
            }
            p.totalRows.addAndGet(n);
            p.totalBytes.addAndGet(size);
            long now = System.nanoTime();
            if (p.intervalNanos > 0 && now - lastLine >= p.intervalNanos) {
                lastLine = now;
                p.lines.accept(p.line(this, now, false));
                p.totalLine(now);
            }
        }

        /** Rows per second since the copy started (until it ended). */
        double rate() {
            long end = copying ? System.nanoTime() : finishedAt;
            double seconds = (end - started) / 1e9;
            return seconds <= 0 ? 0 : rows.get() / seconds;
        }

        /** Seconds left by the estimate at the current rate: NaN when unknown, 0 once copied. */
        double eta() {
            if (!copying) {
                return 0;
            }
            long est = estimated;
            double rate = rate();
            return est <= 0 || rate <= 0 ? Double.NaN : Math.max(0, (est - rows.get()) / rate);
        }

        /** The copy of this table ended: its final line. */
        public void finished() {
            if (!copying) {
                return;
            }
            long now = System.nanoTime();
            finishedAt = now;
            copying = false;
            CopyProgress p = owner;
            int done = p.done.incrementAndGet();
            int of = p.planned.get();
            String line = p.line(this, now, true);
            if (of <= SUMMARIZED_ABOVE || now - started >= Math.max(p.intervalNanos, MIN_LINE_NANOS)) {
                p.lines.accept(line);
            } else {
                LOG.debug(line); // one of many small tables: the total's lines count it
            }
            if (p.intervalNanos > 0) {
                p.totalLine(now);
            }
            if (of > SUMMARIZED_ABOVE && done == of) {
                p.lines.accept(p.summary(now));
            }
        }

        /** The copy of this table failed: it no longer counts as going on (its next attempt starts afresh). */
        public void abandoned() {
            if (copying) {
                finishedAt = System.nanoTime();
                copying = false;
                owner.forgetPlan(); // the copy stopped; its next attempt plans again
            }
        }

        public long rowsCopied() {
            return rows.get();
        }

        public long estimatedRows() {
            return estimated;
        }
    }

    /**
     * Tables about to be copied, for the total's "n of m tables"; once every table planned was copied, the next copy
     * (a table copied while streaming, a backfill) starts a new count.
     */
    public synchronized void plan(int count) {
        if (done.get() >= planned.get()) {
            done.set(0);
            planned.set(0);
            totalRows.set(0);
            totalBytes.set(0);
            totalEstimated = -1;
            totalUnknown = 0;
            totalStarted = System.nanoTime();
            lastTotalLine = totalStarted;
            estimates.clear();
        }
        planned.addAndGet(count);
    }

    /**
     * Tables about to be copied together, as {@link #plan(int)}, and their estimated rows for the total's ETA, read on
     * {@code c} (which must be free).
     */
    public void plan(Connection c, List<TableId> tables) throws SQLException {
        plan(tables.size());
        if (c == null || this == NONE || tables.isEmpty()) {
            return;
        }
        long sum = 0;
        int unknown = 0;
        // every table's estimate and size in one query (thousands of tables must not cost a round trip each); each
        // table's start takes its own from here instead of asking again
        String[] schemas = tables.stream().map(TableId::schema).toArray(String[]::new);
        String[] names = tables.stream().map(TableId::name).toArray(String[]::new);
        Map<String, long[]> found = new java.util.HashMap<>();
        // the size on disk only where there is no estimate (the lines say it then): pg_table_size looks at every file of
        // the table and its TOAST table, about 0.2 ms a table, a second for 5,000 analyzed tables that never show it
        try (PreparedStatement ps = c.prepareStatement("SELECT w.s, w.t, c.reltuples::bigint,"
                + " CASE WHEN c.reltuples > 0 THEN -1 ELSE pg_catalog.pg_table_size(c.oid) END"
                + " FROM ROWS FROM (pg_catalog.unnest(?::text[]), pg_catalog.unnest(?::text[])) AS w(s, t) JOIN pg_catalog.pg_namespace n ON n.nspname = w.s"
                + " JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.t")) {
            ps.setArray(1, c.createArrayOf("text", schemas));
            ps.setArray(2, c.createArrayOf("text", names));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    found.put(new TableId(rs.getString(1), rs.getString(2)).toString(), new long[] {rs.getLong(3), rs.getLong(4)});
                }
            }
        }
        for (TableId id : tables) {
            long[] e = found.get(id.toString());
            if (e == null || e[0] <= 0) {
                unknown++; // never analyzed: left out of the estimate, which the line then says
            } else {
                sum += e[0];
            }
            // -1 (PostgreSQL 14+) or 0 (13): never analyzed or vacuumed
            estimates.put(id.toString(), e == null ? new long[] {-1, -1} : new long[] {e[0] > 0 ? e[0] : -1, e[1]});
        }
        synchronized (this) {
            totalEstimated = Math.max(0, totalEstimated) + sum;
            totalUnknown += unknown;
        }
        totalGauges();
    }

    private synchronized void forgetPlan() {
        done.set(0);
        planned.set(0);
        estimates.clear();
    }

    /**
     * A table's copy starts: reads its estimate on {@code c} (which must be free: before the table's reader uses it)
     * and registers its gauges once.
     */
    public Table start(Connection c, TableId id) throws SQLException {
        Table t = tables.computeIfAbsent(id.toString(), Table::new);
        long estimated = -1;
        long disk = -1;
        long[] planned = estimates.remove(id.toString());
        if (planned != null) {
            estimated = planned[0];
            disk = planned[1];
        } else if (c != null && this != NONE) {
            try (PreparedStatement ps = c.prepareStatement("SELECT c.reltuples::bigint, pg_catalog.pg_table_size(c.oid)"
                    + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?")) {
                ps.setString(1, id.schema());
                ps.setString(2, id.name());
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        // -1 (PostgreSQL 14+) or 0 (13): never analyzed or vacuumed
                        estimated = rs.getLong(1) > 0 ? rs.getLong(1) : -1;
                        disk = rs.getLong(2);
                    }
                }
            }
        }
        synchronized (t) {
            t.owner = this;
            t.rows.set(0);
            t.bytes.set(0);
            t.estimated = estimated;
            t.diskBytes = disk;
            t.started = System.nanoTime();
            t.lastLine = t.started;
            t.copying = true;
        }
        gauges(t);
        return t;
    }

    /**
     * One table's copy as it stands (for the status page): the last copy of the table, going on or ended.
     *
     * @param estimatedRows {@code pg_class.reltuples} when the copy started; -1 when never analyzed
     * @param rowsPerSecond since the copy started (until it ended)
     * @param etaSeconds    by the estimate at that rate: NaN when unknown, 0 once copied
     * @param seconds       how long the copy has taken so far (or took)
     */
    public record TableState(String table, boolean copying, long rows, long estimatedRows, long bytes, double rowsPerSecond,
                             double etaSeconds, double seconds) {
    }

    /** Every table copied (or being copied) since the start, by name. */
    public java.util.SortedMap<String, TableState> states() {
        java.util.SortedMap<String, TableState> out = new java.util.TreeMap<>();
        long now = System.nanoTime();
        tables.forEach((name, t) -> {
            boolean copying = t.copying; // read first: its volatile write in start() follows the others
            if (t.owner == null) {
                return;
            }
            long end = copying ? now : t.finishedAt;
            out.put(name, new TableState(name, copying, t.rows.get(), t.estimated, t.bytes.get(), t.rate(), t.eta(),
                    Math.max(0, (end - t.started) / 1e9)));
        });
        return java.util.Collections.unmodifiableSortedMap(out);
    }

    /** Whether a copy of this table ({@code schema.table}) is going on, so other lines need not repeat it. */
    public boolean copying(String table) {
        Table t = tables.get(table);
        return t != null && t.copying;
    }

    private void gauges(Table t) {
        MeterRegistry r = registry.get();
        if (r == null) {
            return;
        }
        // registering an existing gauge again returns it; the Table is kept in the map, so the gauges' weak references hold
        Gauge.builder("pgsource.copy.rows", t, x -> x.rows.get()).tag("table", t.name)
                .description("Rows copied so far by the last copy of the table").register(r);
        Gauge.builder("pgsource.copy.rows.estimated", t, x -> x.estimated < 0 ? Double.NaN : x.estimated).tag("table", t.name)
                .description("The table's rows as pg_class.reltuples estimated them when its copy started (NaN: never analyzed)").register(r);
        Gauge.builder("pgsource.copy", t, x -> x.bytes.get()).baseUnit("bytes").tag("table", t.name)
                .description("Text size of the rows copied so far by the last copy of the table").register(r);
        Gauge.builder("pgsource.copy.rows.per.second", t, Table::rate).tag("table", t.name)
                .description("Rows per second of the last copy of the table, since it started (until it ended)").register(r);
        Gauge.builder("pgsource.copy.eta", t, Table::eta).baseUnit("seconds").tag("table", t.name)
                .description("Seconds the copy of the table still needs by its estimate at its rate (NaN: unknown, 0: copied)").register(r);
    }

    /** The total's gauges, once: rows, estimate, bytes, rate and ETA of the tables copied together. */
    private synchronized void totalGauges() {
        MeterRegistry r = registry.get();
        if (r == null || totalGauges) {
            return;
        }
        totalGauges = true;
        Gauge.builder("pgsource.copy.total.rows", this, x -> x.totalRows.get())
                .description("Rows copied so far by the copy of several tables under way (or the last one)").register(r);
        Gauge.builder("pgsource.copy.total.rows.estimated", this, x -> x.totalEstimated < 0 ? Double.NaN : x.totalEstimated)
                .description("The pg_class.reltuples of the tables of that copy, summed (tables never analyzed left out)").register(r);
        Gauge.builder("pgsource.copy.total", this, x -> x.totalBytes.get()).baseUnit("bytes")
                .description("Text size of the rows copied so far by that copy").register(r);
        Gauge.builder("pgsource.copy.total.rows.per.second", this, CopyProgress::totalRate)
                .description("Rows per second of that copy, all its tables together").register(r);
        Gauge.builder("pgsource.copy.total.eta", this, CopyProgress::totalEta).baseUnit("seconds")
                .description("Seconds that copy still needs by the summed estimate at its rate (NaN: unknown, 0: done)").register(r);
    }

    private boolean totalRunning() {
        return done.get() < planned.get();
    }

    private double totalRate() {
        double seconds = (System.nanoTime() - totalStarted) / 1e9;
        return seconds <= 0 ? 0 : totalRows.get() / seconds;
    }

    private double totalEta() {
        if (!totalRunning()) {
            return 0;
        }
        long est = totalEstimated;
        double rate = totalRate();
        return est <= 0 || rate <= 0 ? Double.NaN : Math.max(0, (est - totalRows.get()) / rate);
    }

    /** The total line, every interval while more than one table is planned. */
    private void totalLine(long now) {
        int of = planned.get();
        if (of < 2 || !totalRunning() || now - lastTotalLine < intervalNanos) {
            return;
        }
        synchronized (this) {
            if (now - lastTotalLine < intervalNanos) {
                return;
            }
            lastTotalLine = now;
        }
        long rows = totalRows.get();
        long est = totalEstimated;
        double rate = totalRate();
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "Copying %d tables: %,d", of, rows));
        if (est > 0) {
            s.append(String.format(Locale.ROOT, " of ~%,d rows (%d%%)", est, Math.min(100, rows * 100 / est)));
        } else {
            s.append(" rows");
        }
        s.append(String.format(Locale.ROOT, ", %s, %,.0f rows/s", Sizes.human(totalBytes.get()), rate));
        if (est > 0 && rate > 0) {
            s.append(rows > est ? ", ETA: past the estimate" : String.format(Locale.ROOT, ", ETA %.0f s", (est - rows) / rate));
        }
        if (totalUnknown > 0) {
            s.append(String.format(Locale.ROOT, " (%d table(s) never analyzed not in the estimate)", totalUnknown));
        }
        s.append(String.format(Locale.ROOT, "; %d of %d tables done", done.get(), of));
        lines.accept(s.toString());
    }

    /** The last line of a copy of many tables: all of them together. */
    private String summary(long now) {
        double seconds = Math.max(1e-3, (now - totalStarted) / 1e9);
        long rows = totalRows.get();
        return String.format(Locale.ROOT, "Copied %d tables: %,d rows, %s in %.1f s (%,.0f rows/s)", done.get(), rows,
                Sizes.human(totalBytes.get()), seconds, rows / seconds);
    }

    private String line(Table t, long now, boolean last) {
        double seconds = Math.max(1e-3, (now - t.started) / 1e9);
        long rows = t.rows.get();
        double rate = rows / seconds;
        StringBuilder s = new StringBuilder();
        if (last) {
            s.append(String.format(Locale.ROOT, "Copied %s: %,d rows, %s in %.1f s (%,.0f rows/s)", t.name, rows, Sizes.human(t.bytes.get()), seconds, rate));
        } else {
            s.append(String.format(Locale.ROOT, "Copying %s: %,d", t.name, rows));
            long est = t.estimated;
            if (est > 0) {
                s.append(String.format(Locale.ROOT, " of ~%,d rows (%d%%)", est, Math.min(100, rows * 100 / est)));
            } else {
                s.append(" rows of size unknown (never analyzed");
                if (t.diskBytes >= 0) {
                    s.append(", ").append(Sizes.human(t.diskBytes)).append(" on disk");
                }
                s.append(')');
            }
            s.append(String.format(Locale.ROOT, ", %s, %,.0f rows/s", Sizes.human(t.bytes.get()), rate));
            if (est > 0 && rate > 0) {
                s.append(rows > est ? ", ETA: past the estimate" : String.format(Locale.ROOT, ", ETA %.0f s", (est - rows) / rate));
            }
        }
        s.append(String.format(Locale.ROOT, "; total %d of %d tables", done.get(), Math.max(planned.get(), done.get())));
        return s.toString();
    }
}
