package io.pgsource.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * camel.jbang.dependencies in application.properties names jars pom.xml also names (optional there, so not passed on
 * to a library user): each must be the version the build uses, or camel run would mix versions the tests never saw.
 */
class JBangDependenciesTest {

    @Test
    void everyVersionedJBangDependencyIsTheVersionOfPomXml() throws IOException {
        Properties app = new Properties();
        try (var in = Files.newBufferedReader(Path.of("application.properties"))) {
            app.load(in);
        }
        Map<String, String> pom = pomVersions(Files.readString(Path.of("pom.xml")));
        List<String> wrong = new ArrayList<>();
        for (String dep : app.getProperty("camel.jbang.dependencies").split(",")) {
            String[] gav = dep.strip().split(":");
            if (gav[0].equals("camel")) {
                continue; // a Camel component: the version of the Camel running it
            }
            String built = pom.get(gav[0] + ":" + gav[1]);
            if (!gav[2].equals(built)) {
                wrong.add(dep.strip() + " (pom.xml: " + built + ")");
            }
        }
        assertThat(wrong).as("camel.jbang.dependencies entries whose version is not pom.xml's").isEmpty();
    }

    /** group:artifact to version of the pom's dependencies, its properties (and the default profile's) resolved. */
    static Map<String, String> pomVersions(String pom) {
        Map<String, String> properties = new HashMap<>();
        Matcher props = Pattern.compile("<properties>(.*?)</properties>", Pattern.DOTALL).matcher(pom);
        if (props.find()) {
            Matcher p = Pattern.compile("<([\\w.-]+)>([^<]*)</\\1>").matcher(props.group(1));
            while (p.find()) {
                properties.put(p.group(1), p.group(2));
            }
        }
        Map<String, String> versions = new HashMap<>();
        Matcher dep = Pattern.compile("<dependency>\\s*<groupId>([^<]+)</groupId>\\s*<artifactId>([^<]+)</artifactId>\\s*"
                + "<version>([^<]+)</version>").matcher(pom);
        while (dep.find()) {
            versions.putIfAbsent(resolve(dep.group(1), properties) + ":" + resolve(dep.group(2), properties),
                    resolve(dep.group(3), properties));
        }
        return versions;
    }

    private static String resolve(String value, Map<String, String> properties) {
        String v = value;
        for (int i = 0; i < 5 && v.contains("${"); i++) {
            Matcher m = Pattern.compile("\\$\\{([^}]+)}").matcher(v);
            StringBuilder out = new StringBuilder();
            while (m.find()) {
                m.appendReplacement(out, Matcher.quoteReplacement(properties.getOrDefault(m.group(1), m.group())));
            }
            m.appendTail(out);
            v = out.toString();
        }
        return v;
    }
}
