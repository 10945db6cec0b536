package io.pgsource.state;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Positions in one small JSON file ({@code {"stream": "position", ...}}), for event destinations that write
 * files. Every {@link #save} rewrites the file crash-safely: a temp file is written and fsynced, then atomically
 * moved over the old one, and the directory is fsynced; a crash leaves either the old or the new file.
 */
public final class FilePositionStore implements PositionStore {
    /** The file name used next to the jsonl output. */
    public static final String DEFAULT_FILE_NAME = "_pgsource-positions.json";

    private static final JsonFactory JSON = new JsonFactory();

    private final Path file;
    private final Map<String, String> positions = new TreeMap<>();

    /** Opens (and reads, if it exists) the position file; creates its directory if needed. */
    public FilePositionStore(Path file) {
        this.file = file.toAbsolutePath();
        try {
            Files.createDirectories(this.file.getParent());
            if (Files.exists(this.file)) {
                read();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the position file " + this.file, e);
        }
    }

    public Path file() {
        return file;
    }

    @Override
    public synchronized Optional<String> load(String stream) {
        return Optional.ofNullable(positions.get(stream));
    }

    @Override
    public synchronized void save(String stream, String position) {
        String old = positions.put(stream, position);
        try {
            write();
        } catch (IOException e) {
            if (old == null) {
                positions.remove(stream);
            } else {
                positions.put(stream, old);
            }
            throw new UncheckedIOException("cannot write the position file " + file, e);
        }
    }

    /** Stores them all with one write of the file. */
    @Override
    public synchronized void saveAll(Map<String, String> all) {
        Map<String, String> before = new TreeMap<>(positions);
        positions.putAll(all);
        try {
            write();
        } catch (IOException e) {
            positions.clear();
            positions.putAll(before);
            throw new UncheckedIOException("cannot write the position file " + file, e);
        }
    }

    /** Reads the file again: the instance that led before this one may have written it. */
    @Override
    public synchronized void refresh() {
        try {
            positions.clear();
            if (Files.exists(file)) {
                read();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the position file " + file, e);
        }
    }

    private void read() throws IOException {
        try (JsonParser p = JSON.createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String stream = p.currentName();
                p.nextToken();
                positions.put(stream, p.getValueAsString());
            }
        }
    }

    private void write() throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            OutputStream out = Channels.newOutputStream(ch);
            try (JsonGenerator g = JSON.createGenerator(out)) {
                g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
                g.writeStartObject();
                for (Map.Entry<String, String> e : positions.entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
                g.writeRaw('\n');
            }
            ch.force(true);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        forceDirectory(file.getParent());
    }

    /** Makes the rename durable; some platforms cannot open a directory, and then there is nothing more to do. */
    static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // not supported on this platform (e.g. Windows)
        }
    }
}
