package io.pgsource.sink.jsonl;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.TableId;
import io.pgsource.config.DestinationSettings;
import io.pgsource.config.Settings;
import io.pgsource.sink.json.ChangeEnvelope;
import io.pgsource.change.TableSchema;
import io.pgsource.state.CopyNeededException;
import io.pgsource.state.FilePositionStore;
import io.pgsource.state.HeldColumns;
import io.pgsource.state.PositionStore;
import io.pgsource.sink.Destination;
import io.pgsource.sink.DestinationContext;
import io.pgsource.sink.StoredPosition;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.stream.Stream;
import java.util.Set;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code jsonl} destination: one file per table, {@code <schema>.<table>.jsonl} (see {@link FileNames}) in
 * {@code destination.directory}, one {@link ChangeEnvelope} per line, appended.
 *
 * <p><b>Delivery contract: at-least-once.</b> For each batch the lines are written, flushed and forced to disk
 * ({@link FileChannel#force}) for every touched file; only then does the {@link io.pgsource.sink.DestinationStep} save
 * the batch's position in {@value FilePositionStore#DEFAULT_FILE_NAME} in the same directory. A crash between the two
 * means the source resumes from the previous position and the last batch is written again: a replay repeats at most
 * the last batch. Every line carries its source position ({@code source.bookmark} or {@code source.lsn}), so consumers
 * can drop repeats. If writing a batch fails, the touched files are cut back to where the batch started (no partial
 * lines) and the error goes back to the route, so nothing is acknowledged.
 *
 * <p>Schema changes: lines already written cannot change, so when rows a file describes would no longer show what
 * the source shows under a column's name (a column renamed, added with a default the source gave its older rows, or
 * converted by a rewrite of the table), the batch is refused with a {@link CopyNeededException}: the table is copied
 * again (a truncate event, then a read event per row). Which source columns the file holds is kept with the positions
 * ({@link HeldColumns}). A column added without a value for older rows, or dropped, only changes the lines from then on.
 *
 * <p>Files stay open between batches; {@link #close()} closes them. Batches are written one at a time.
 */
public final class JsonLinesSink implements Destination, AutoCloseable {
    /** The value of {@code destination} that selects it. */
    public static final String NAME = "jsonl";
    private static final Logger LOG = LoggerFactory.getLogger(JsonLinesSink.class);
    private static final JsonFactory JSON = new JsonFactory();

    private Path directory;
    private FilePositionStore positions;
    private final Map<TableId, TableFile> files = new HashMap<>();
    /** Schemas whose columns are recorded as held ({@link HeldColumns}). */
    private final Set<TableSchema> followed = Collections.newSetFromMap(new IdentityHashMap<>());

    /** Made by the registry ({@link io.pgsource.sink.Destinations}); {@link #open} sets its directory. */
    public JsonLinesSink() {
    }

    public JsonLinesSink(DestinationSettings settings) {
        this(settings.outputDirectory());
    }

    public JsonLinesSink(Path directory) {
        init(directory);
    }


    private void init(Path directory) {
        this.directory = directory.toAbsolutePath();
        try {
            Files.createDirectories(this.directory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the output directory " + this.directory
                    + ": set destination.directory to a writable directory", e);
        }
        this.positions = new FilePositionStore(this.directory.resolve(FilePositionStore.DEFAULT_FILE_NAME));
    }

    @Override
    public String name() {
        return NAME;
    }

    /** The directory exists and is writable, or can be made (its nearest existing parent is writable). */
    @Override
    public String check(Settings settings) {
        Path dir = settings.destination().outputDirectory().toAbsolutePath().normalize();
        Path existing = dir;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !Files.isDirectory(existing) || !Files.isWritable(existing)) {
            throw new io.pgsource.config.ConfigurationException("destination.directory=" + dir + " cannot be written"
                    + (existing == null ? "" : " (" + existing + (Files.isDirectory(existing) ? " is not writable" : " is not a directory")
                    + ")") + ": choose another directory, or give this user write access");
        }
        return existing.equals(dir) ? "writes to " + dir : "creates " + dir + " at start";
    }

    @Override
    public void open(DestinationContext context) {
        init(context.settings().destination().outputDirectory());
    }

    /** Where the positions of what this destination made durable are kept. */
    @Override
    public PositionStore positions() {
        return positions;
    }

    @Override
    public String outputIdentity(DestinationSettings settings) {
        return settings.outputDirectory().toAbsolutePath().normalize().toString();
    }

    /** The directory holds the demo database's output only: another one's is moved aside. */
    @Override
    public void demo(DemoServer server, DestinationSettings settings, Properties overrides) throws Exception {
        server.claimDirectory(settings.outputDirectory());
    }

    /** The .jsonl files and where their positions are. */
    @Override
    public String output(DestinationSettings settings) {
        Path dir = settings.outputDirectory().toAbsolutePath().normalize();
        List<Path> files = new ArrayList<>();
        long bytes = 0;
        if (Files.isDirectory(dir)) {
            try (Stream<Path> list = Files.list(dir)) {
                list.filter(f -> f.getFileName().toString().endsWith(".jsonl")).sorted().forEach(files::add);
                for (Path f : files) {
                    bytes += Files.size(f);
                }
            } catch (IOException | UncheckedIOException e) {
                return "Output: " + dir + " (cannot be listed: " + e.getMessage() + ")";
            }
        }
        if (files.isEmpty()) {
            return "Output: no .jsonl file in " + dir + " yet";
        }
        List<String> names = files.stream().limit(8).map(f -> f.getFileName().toString()).toList();
        return String.format(Locale.ROOT, "Output: %d .jsonl file(s) in %s (%s%s; %.1f MB, one JSON line per change), positions in %s",
                files.size(), dir, String.join(", ", names), files.size() > names.size() ? ", ..." : "",
                bytes / 1e6, dir.resolve(FilePositionStore.DEFAULT_FILE_NAME));
    }

    public Path directory() {
        return directory;
    }

    @Override
    public synchronized void write(Exchange exchange, ChangeBatch batch, StoredPosition position) throws IOException {
        Integer part = exchange.getIn().getHeader(ChangeHeaders.TX_PART, Integer.class);
        Map<TableSchema, HeldColumns> held = follow(batch);
        write(batch, ChangeEnvelope.Part.of(batch, part));
        if (followed.size() > 10_000) {
            followed.clear(); // bounded, in case a source makes a new schema per batch: they are followed again
        }
        held.forEach((schema, columns) -> {
            positions.save(HeldColumns.stream(schema.id()), columns.serialize());
            followed.add(schema);
        });
    }

    /**
     * The new record of held columns for each schema of the batch not followed yet, in order.
     *
     * @throws CopyNeededException when the lines written cannot follow a schema without a copy of the table
     */
    private Map<TableSchema, HeldColumns> follow(ChangeBatch batch) {
        Map<TableSchema, HeldColumns> out = new LinkedHashMap<>();
        Map<TableId, HeldColumns> latest = new HashMap<>();
        for (ChangeEvent e : batch) {
            TableSchema schema = e.table();
            if (schema.sourceColumns() == null || followed.contains(schema) || out.containsKey(schema)) {
                continue;
            }
            HeldColumns held = latest.containsKey(schema.id()) ? latest.get(schema.id()) : held(schema.id());
            HeldColumns.Plan plan = HeldColumns.plan(schema, held, null, false);
            if (plan.copyNeeded()) {
                throw new CopyNeededException(schema.id(), plan.copyReason());
            }
            if (plan.next() != null) {
                out.put(schema, plan.next());
                latest.put(schema.id(), plan.next());
            }
        }
        return out;
    }

    /** What the file of the table holds, as recorded; null when nothing is. */
    private HeldColumns held(TableId table) {
        String stored = positions.load(HeldColumns.stream(table)).orElse(null);
        if (stored == null) {
            return null;
        }
        try {
            return HeldColumns.parse(stored);
        } catch (IllegalArgumentException e) {
            LOG.warn("the record of the source columns {} holds is unreadable ({}); deciding without it", FileNames.of(table),
                    e.getMessage());
            return null;
        }
    }

    /** Why the file of the source table needs a copy of it before it takes rows of this shape; null when it needs none. */
    @Override
    public synchronized String copyReason(TableSchema shape) {
        if (shape.sourceColumns() == null || followed.contains(shape)) {
            return null;
        }
        return HeldColumns.plan(shape, held(shape.id()), null, false).copyReason();
    }

    /** Writes a batch durably (lines forced to disk); the caller saves the position afterwards. */
    private void write(ChangeBatch batch, ChangeEnvelope.Part part) throws IOException {
        Map<TableId, Long> touched = new LinkedHashMap<>();
        try {
            for (ChangeEvent e : batch) {
                TableFile f = file(e.tableId());
                touched.computeIfAbsent(e.tableId(), id -> f.size());
                ChangeEnvelope.write(f.json, e, batch.position(), part);
                f.json.writeRaw('\n');
            }
            for (TableId id : touched.keySet()) {
                TableFile f = files.get(id);
                f.json.flush();
                f.channel.force(false);
            }
        } catch (IOException | RuntimeException e) {
            cutBack(touched);
            throw e;
        }
    }

    /** Drops what this batch wrote: buffered bytes are discarded with the handle, written ones cut off. */
    private void cutBack(Map<TableId, Long> touched) {
        for (Map.Entry<TableId, Long> t : touched.entrySet()) {
            TableFile f = files.remove(t.getKey());
            try {
                f.channel.close();
                try (FileChannel ch = FileChannel.open(f.path, StandardOpenOption.WRITE)) {
                    ch.truncate(t.getValue());
                    ch.force(false);
                }
            } catch (IOException | RuntimeException e) {
                LOG.error("cannot cut {} back to {} bytes after a failed batch; it may end with a partial batch",
                        f.path, t.getValue(), e);
            }
        }
    }

    private TableFile file(TableId table) throws IOException {
        TableFile f = files.get(table);
        if (f == null) {
            Path path = directory.resolve(FileNames.of(table));
            cutPartialLine(path);
            FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND);
            if (channel.size() == 0) {
                forceDirectory(); // make the new file's directory entry durable
            }
            JsonGenerator json = JSON.createGenerator(new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16));
            json.setRootValueSeparator(null);
            f = new TableFile(path, channel, json);
            files.put(table, f);
        }
        return f;
    }

    /**
     * Cuts off a last line without its line end, before anything is appended: a process killed while a batch was
     * being written can leave one (the buffer reaches the file in pieces). That batch's position was not saved (it is
     * saved only after the whole batch is on disk), so it is written again whole; without the cut its first line
     * would be glued to the partial one and unreadable.
     */
    private static void cutPartialLine(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            cutPartialLine(path, channel);
        }
    }

    private static void cutPartialLine(Path path, FileChannel channel) throws IOException {
        long size = channel.size();
        long end = size;
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        while (end > 0) {
            int n = (int) Math.min(buf.capacity(), end);
            buf.clear().limit(n);
            long from = end - n;
            while (buf.hasRemaining()) {
                if (channel.read(buf, from + buf.position()) < 0) {
                    throw new IOException("cannot read the end of " + path);
                }
            }
            for (int i = n - 1; i >= 0; i--) {
                if (buf.get(i) == '\n') {
                    truncate(path, channel, size, from + i + 1);
                    return;
                }
            }
            end = from;
        }
        truncate(path, channel, size, 0);
    }

    private static void truncate(Path path, FileChannel channel, long size, long to) throws IOException {
        if (to < size) {
            LOG.warn("{} ends with a partial line ({} bytes) from a write that a crash interrupted; cutting it off before that batch "
                    + "is written again", path, size - to);
            channel.truncate(to);
            channel.force(false);
        }
    }

    private void forceDirectory() {
        try (FileChannel ch = FileChannel.open(directory, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some platforms cannot open a directory; nothing more to do there
        }
    }

    /** Closes the files (a later batch opens them again). */
    @Override
    public synchronized void close() {
        for (TableFile f : files.values()) {
            try {
                f.json.close();
            } catch (IOException e) {
                LOG.warn("cannot close {}", f.path, e);
            }
        }
        files.clear();
    }

    private record TableFile(Path path, FileChannel channel, JsonGenerator json) {
        long size() {
            try {
                return channel.size();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
