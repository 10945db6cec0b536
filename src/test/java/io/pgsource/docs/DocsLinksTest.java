package io.pgsource.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every relative link of the README and of the Markdown files under src/main/docs/ reaches a file of the repository,
 * and a link to a heading ({@code file.md#anchor} or {@code #anchor}) reaches a heading there, as GitHub makes its
 * anchors. The docs were split out of one README: a link left pointing at a section that moved is caught here.
 */
class DocsLinksTest {

    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");
    private static final Pattern HEADING = Pattern.compile("^#{1,6} (.*)$");

    @Test
    void everyRelativeLinkOfTheDocsResolves() throws IOException {
        List<Path> docs = new ArrayList<>();
        docs.add(Path.of("README.md"));
        try (Stream<Path> files = Files.list(Path.of("src/main/docs"))) {
            files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        assertThat(docs).hasSizeGreaterThan(5);
        List<String> broken = new ArrayList<>();
        for (Path doc : docs) {
            broken.addAll(brokenLinks(doc));
        }
        assertThat(broken).as("links that reach no file or heading").isEmpty();
    }

    @Test
    void aLinkToAMissingFileOrHeadingIsReported(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("other.md"), "# Other\n\n## A section, with `code`\n");
        Path doc = dir.resolve("doc.md");
        Files.writeString(doc, String.join("\n",
                "# Doc", "## Here", "[ok](other.md#a-section-with-code) [ok](#here) [ok](https://camel.apache.org)",
                "[gone](missing.md) [bad](other.md#nowhere) [bad](#elsewhere)",
                "```", "[in code](not-checked.md)", "```", "and `[inline](not-checked.md)`"));
        assertThat(brokenLinks(doc)).containsExactly(
                doc + ": missing.md", doc + ": other.md#nowhere", doc + ": #elsewhere");
    }

    /** The links of one Markdown file that reach nothing, as "file: target". */
    static List<String> brokenLinks(Path doc) {
        List<String> broken = new ArrayList<>();
        for (String line : prose(doc)) {
            Matcher m = LINK.matcher(line.replaceAll("`[^`]*`", ""));
            while (m.find()) {
                String target = m.group(1);
                if (target.matches("^[a-z]+:.*")) {
                    continue; // https:, mailto:
                }
                int hash = target.indexOf('#');
                String file = hash < 0 ? target : target.substring(0, hash);
                Path resolved = file.isEmpty() ? doc : doc.toAbsolutePath().getParent().resolve(file).normalize();
                boolean ok = Files.exists(resolved);
                if (ok && hash >= 0 && resolved.toString().endsWith(".md")) {
                    ok = anchors(resolved).contains(target.substring(hash + 1));
                }
                if (!ok) {
                    broken.add(doc + ": " + target);
                }
            }
        }
        return broken;
    }

    /** The lines outside fenced code blocks. */
    private static List<String> prose(Path doc) {
        List<String> lines = new ArrayList<>();
        boolean code = false;
        try {
            for (String line : Files.readAllLines(doc)) {
                if (line.startsWith("```")) {
                    code = !code;
                } else if (!code) {
                    lines.add(line);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return lines;
    }

    /** GitHub's anchors of a file's headings: lower case, punctuation dropped, spaces as hyphens. */
    static Set<String> anchors(Path doc) {
        return new HashSet<>(headings(doc).values());
    }

    /** Each heading of a file with its anchor, in order. */
    static Map<String, String> headings(Path doc) {
        Map<String, String> headings = new LinkedHashMap<>();
        for (String line : prose(doc)) {
            Matcher m = HEADING.matcher(line);
            if (m.matches()) {
                String text = m.group(1).strip();
                headings.putIfAbsent(text, text.toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N}_\\- ]", "").replace(' ', '-'));
            }
        }
        return headings;
    }
}
