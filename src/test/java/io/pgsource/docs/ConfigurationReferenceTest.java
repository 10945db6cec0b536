package io.pgsource.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commented application.properties is the one description of the settings: the reference in
 * src/main/docs/configuration.md and the README's key table are generated from it, and a key the code reads (a string
 * literal in src/main/java, a {{placeholder}} in the routes) must be in it, as each key in it must be read somewhere.
 * {@code mvn test -Dtest=ConfigurationReferenceTest -Dpgsource.docs.write=true} rewrites the generated parts.
 */
class ConfigurationReferenceTest {

    static final String BEGIN = "<!-- generated from application.properties by ConfigurationReferenceTest";
    static final String END = "<!-- end of generated keys -->";
    private static final boolean WRITE = Boolean.getBoolean("pgsource.docs.write");
    /** Names the scan below finds that are not settings. */
    private static final Map<String, String> NOT_SETTINGS = Map.of(
            "demo.properties", "a file of the kept demo database",
            "demo.sql", "the demo database's script",
            "source.txt", "output/_pgsource-demo-source.txt, a file name",
            "sync.repeat_count", "set by PgSourceMain for the batch route's timer from sync.once, not by a user",
            "destination.kafka.client", "the prefix of destination.kafka.client.<setting>, described in application.properties");

    private static final Path PROPERTIES = Path.of("application.properties");

    @Test
    void theConfigurationReferenceIsGeneratedFromApplicationProperties() {
        assertGenerated(Path.of("src/main/docs/configuration.md"));
    }

    @Test
    void theReadmesKeyTableIsGeneratedFromApplicationProperties() {
        assertGenerated(Path.of("README.md"));
    }

    @Test
    void everyKeyTheCodeReadsIsInApplicationPropertiesAndEveryKeyThereIsRead() throws IOException {
        Set<String> documented = new TreeSet<>(Reference.parse(read(PROPERTIES)).keys());
        documented.removeIf(k -> k.startsWith("camel."));
        StringBuilder code = new StringBuilder();
        Set<String> read = new TreeSet<>();
        for (Path root : List.of(Path.of("src/main/java"), Path.of("routes"), Path.of("src/main/resources"))) {
            try (Stream<Path> files = Files.walk(root)) {
                for (Path f : files.filter(p -> p.toString().matches(".*\\.(java|yaml|xml)")).toList()) {
                    String text = read(f);
                    code.append(text).append('\n');
                    read.addAll(keysIn(text));
                }
            }
        }
        read.removeAll(NOT_SETTINGS.keySet());
        assertThat(read).as("keys the code reads that application.properties does not describe: add each there with its"
                + " default and a comment (the docs are generated from it)").isSubsetOf(documented);
        String all = code.toString();
        List<String> unread = documented.stream()
                .filter(k -> !all.contains(k) && !all.contains("\"." + k.substring(k.lastIndexOf('.') + 1) + "\""))
                .toList();
        assertThat(unread).as("keys of application.properties that nothing reads any more").isEmpty();
    }

    @Test
    void aCommentDescribesTheKeysBelowItAndAMovedKeyIsSeen(@TempDir Path dir) throws IOException {
        Path docs = dir.resolve("docs");
        Files.createDirectories(docs);
        Files.writeString(docs.resolve("other.md"), "# Other\n\n## Far away\n");
        String properties = String.join("\n",
                "# header, not a key's", "", "# --- source ---", "# the host; see src/main/docs/other.md#far-away",
                "# and <more>", "source.host=", "", "source.port=5432", "", "# both", "sync.a=1", "sync.b=2", "",
                "# a note without a key, about source.port", "");
        Reference ref = Reference.parse(properties);
        assertThat(ref.keys()).containsExactly("source.host", "source.port", "sync.a", "sync.b");
        Path doc = docs.resolve("configuration.md");
        assertThat(ref.table(ref.keys(), docs, docs)).isEqualTo(String.join("\n",
                "| key | default | meaning |", "|---|---|---|",
                "| `source.host` | (empty) | the host; see [Far away](other.md#far-away) and &lt;more> |",
                "| `source.port` | `5432` | |",
                "| `sync.a`, `sync.b` | `1`, `2` | both |", ""));
        Files.writeString(doc, "# Keys\n\n" + BEGIN + " -->\nstale\n" + END + "\n");
        assertThat(ref.regenerate(read(doc), doc.getParent(), docs)).contains("| `sync.a`, `sync.b` |")
                .doesNotContain("stale").contains("a note without a key, about `source.port`");
        assertThat(keysIn("x = \"source.host=\" + y; throw new E(\"sync.new_key is wrong\"); {{?source.other:1}}"))
                .containsExactly("source.host", "source.other", "sync.new_key");
    }

    private static void assertGenerated(Path doc) {
        Reference ref = Reference.parse(read(PROPERTIES));
        String now = read(doc);
        String generated = ref.regenerate(now, doc.toAbsolutePath().getParent(), Path.of("src/main/docs").toAbsolutePath());
        if (WRITE && !generated.equals(now)) {
            try {
                Files.writeString(doc, generated);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return;
        }
        assertThat(now).as(doc + " differs from what application.properties generates: run mvn test"
                + " -Dtest=ConfigurationReferenceTest -Dpgsource.docs.write=true and commit the result").isEqualTo(generated);
    }

    /** Our setting names in a source file: in string literals and in {{placeholders}}. */
    static Set<String> keysIn(String text) {
        Set<String> keys = new TreeSet<>();
        Pattern key = Pattern.compile("(?<![\\w.])(?:source|destination|sync|demo)(?:\\.[a-z0-9_]+)+");
        Matcher literal = Pattern.compile("\"((?:[^\"\\\\\\n]|\\\\.)*)\"|\\{\\{\\??([^}:]+)").matcher(text);
        while (literal.find()) {
            String s = literal.group(1) != null ? literal.group(1) : literal.group(2);
            Matcher m = key.matcher(s);
            while (m.find()) {
                keys.add(m.group());
            }
        }
        return keys;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** application.properties read as sections of paragraphs: a comment, then the keys it describes. */
    record Reference(List<Section> sections) {
        record Entry(List<String> keys, List<String> defaults, String comment) {
        }

        record Section(String title, List<Entry> entries, List<String> notes) {
        }

        static Reference parse(String properties) {
            List<Section> sections = new ArrayList<>();
            List<String> paragraph = new ArrayList<>();
            for (String line : (properties + "\n\n").split("\n", -1)) {
                Matcher title = Pattern.compile("^# --- (.*) ---$").matcher(line);
                if (title.matches()) {
                    sections.add(new Section(title.group(1), new ArrayList<>(), new ArrayList<>()));
                } else if (!line.isBlank()) {
                    paragraph.add(line);
                    continue;
                }
                if (!paragraph.isEmpty() && !sections.isEmpty()) {
                    Section section = sections.get(sections.size() - 1);
                    List<String> comment = new ArrayList<>();
                    List<String> keys = new ArrayList<>();
                    List<String> defaults = new ArrayList<>();
                    for (String l : paragraph) {
                        if (l.startsWith("#")) {
                            comment.add(l.replaceFirst("^#\\s?", "").strip());
                        } else {
                            int eq = l.indexOf('=');
                            keys.add(l.substring(0, eq).strip());
                            defaults.add(l.substring(eq + 1).strip());
                        }
                    }
                    String text = String.join(" ", comment);
                    if (keys.isEmpty()) {
                        section.notes().add(text);
                    } else {
                        section.entries().add(new Entry(keys, defaults, text));
                    }
                }
                paragraph.clear();
            }
            return new Reference(sections);
        }

        List<String> keys() {
            return sections.stream().flatMap(s -> s.entries().stream()).flatMap(e -> e.keys().stream()).toList();
        }

        /** The doc with its generated part (between the markers) made anew; the begin marker may name the keys. */
        String regenerate(String doc, Path docDir, Path docsDir) {
            int begin = doc.indexOf(BEGIN);
            int end = doc.indexOf(END);
            if (begin < 0 || end < begin) {
                throw new AssertionError("no generated part (" + BEGIN + " ... " + END + ") in the doc");
            }
            int afterMarker = doc.indexOf("-->", begin) + 3;
            Matcher named = Pattern.compile("keys: ([^>]*?) *-->").matcher(doc.substring(begin, afterMarker));
            String body = named.find()
                    ? table(List.of(named.group(1).split(" +")), docDir, docsDir)
                    : sections.stream().map(s -> "### " + s.title() + "\n\n" + table(s.entries().stream()
                            .flatMap(e -> e.keys().stream()).toList(), docDir, docsDir)
                            + s.notes().stream().map(n -> "\n" + markdown(n, docDir, docsDir) + "\n").collect(Collectors.joining())
                            + "\n").collect(Collectors.joining());
            return doc.substring(0, afterMarker) + "\n" + body + doc.substring(end);
        }

        /** A table of the entries holding these keys, in the given order (entries of several keys kept whole). */
        String table(List<String> keys, Path docDir, Path docsDir) {
            Map<Entry, Boolean> rows = new LinkedHashMap<>();
            for (String key : keys) {
                Entry entry = sections.stream().flatMap(s -> s.entries().stream()).filter(e -> e.keys().contains(key))
                        .findFirst().orElseThrow(() -> new AssertionError(key + " is not in application.properties"));
                rows.put(entry, true);
            }
            StringBuilder out = new StringBuilder("| key | default | meaning |\n|---|---|---|\n");
            for (Entry e : rows.keySet()) {
                boolean same = e.defaults().stream().distinct().count() == 1;
                String defaults = (same ? e.defaults().subList(0, 1) : e.defaults()).stream()
                        .map(d -> d.isEmpty() ? "(empty)" : "`" + d + "`").collect(Collectors.joining(", "));
                out.append("| ").append(e.keys().stream().map(k -> "`" + k + "`").collect(Collectors.joining(", ")))
                        .append(" | ").append(defaults).append(" | ").append(markdown(e.comment(), docDir, docsDir))
                        .append(e.comment().isEmpty() ? "|" : " |").append('\n');
            }
            return out.toString();
        }

        /** A comment as Markdown: keys in backticks, src/main/docs/x.md#anchor as a link named by its heading. */
        private String markdown(String comment, Path docDir, Path docsDir) {
            String text = comment.replace("<", "&lt;").replace("|", "\\|");
            Matcher link = Pattern.compile("src/main/docs/([\\w.-]+\\.md)(#[\\w-]+)?").matcher(text);
            StringBuilder out = new StringBuilder();
            while (link.find()) {
                Path target = docsDir.resolve(link.group(1));
                String anchor = link.group(2) == null ? "" : link.group(2);
                String name = anchor.isEmpty() ? link.group(1) : DocsLinksTest.headings(target).entrySet().stream()
                        .filter(h -> h.getValue().equals(anchor.substring(1))).map(Map.Entry::getKey).findFirst()
                        .orElseThrow(() -> new AssertionError("application.properties links to " + link.group() + ", a heading that"
                                + " does not exist"));
                String href = docDir.relativize(target).toString().replace('\\', '/') + anchor;
                link.appendReplacement(out, Matcher.quoteReplacement("[" + name + "](" + href + ")"));
            }
            link.appendTail(out);
            Set<String> known = Set.copyOf(keys());
            Matcher key = Pattern.compile("(?<![\\w.`\\[(/])(?:source|destination|sync|demo|camel)(?:\\.[\\w-]+)+(?![\\w`])")
                    .matcher(out.toString());
            StringBuilder done = new StringBuilder();
            while (key.find()) {
                key.appendReplacement(done, Matcher.quoteReplacement(known.contains(key.group()) ? "`" + key.group() + "`" : key.group()));
            }
            key.appendTail(done);
            return done.toString();
        }
    }
}
