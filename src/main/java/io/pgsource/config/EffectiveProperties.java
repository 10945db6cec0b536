package io.pgsource.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * The effective configuration: the application.properties bundled in the jar, then ./application.properties
 * (or the file named by {@code PGSOURCE_CONFIG}: a {@code .yaml} file is read as Mage's source configuration, see
 * {@link MageConfig}), then environment variables (key upper-cased, dots and dashes
 * as underscores: {@code source.host} ← {@code SOURCE_HOST}), then Java system properties; later wins.
 */
public final class EffectiveProperties {

    /**
     * The bundled defaults: the project's application.properties, inside the jar under the application's package
     * rather than at its root, where Camel Main's default {@code classpath:application.properties} would load pgsource's
     * settings (its configuration class, metrics) into any Camel application that uses the jar for the component.
     */
    public static final String BUNDLED = "io/pgsource/app/application.properties";

    private EffectiveProperties() {
    }

    public static Properties load(Map<String, String> env, Properties system) {
        Properties props = new Properties();
        try (InputStream in = EffectiveProperties.class.getResourceAsStream("/" + BUNDLED)) {
            if (in != null) {
                try (Reader r = new java.io.InputStreamReader(in, StandardCharsets.UTF_8)) {
                    props.load(r);
                }
            }
        } catch (IOException e) {
            throw new ConfigurationException("cannot read the bundled application.properties: " + e.getMessage(), e);
        }
        Path file = Path.of(env.getOrDefault("PGSOURCE_CONFIG", "application.properties"));
        if (Files.isRegularFile(file) && MageConfig.isYaml(file)) {
            props.putAll(MageConfig.read(file, env));
        } else if (Files.isRegularFile(file)) {
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                props.load(r);
            } catch (IOException e) {
                throw new ConfigurationException("cannot read " + file.toAbsolutePath() + ": " + e.getMessage(), e);
            }
        } else if (env.containsKey("PGSOURCE_CONFIG")) {
            throw new ConfigurationException("PGSOURCE_CONFIG=" + file + " does not exist");
        }
        for (String key : props.stringPropertyNames()) {
            String fromEnv = env.get(envName(key));
            if (fromEnv != null) {
                props.setProperty(key, fromEnv);
            }
        }
        // keys the files do not list (optional ones, route defaults): SOURCE_CREATE_SLOT -> source.create_slot
        for (Map.Entry<String, String> e : env.entrySet()) {
            String key = keyOf(e.getKey());
            if (key != null && !props.containsKey(key)) {
                props.setProperty(key, e.getValue());
            }
        }
        for (String key : system.stringPropertyNames()) {
            if (isOurs(key)) {
                props.setProperty(key, system.getProperty(key));
            }
        }
        return props;
    }

    /** {@code source.replication_slot} → {@code SOURCE_REPLICATION_SLOT}. */
    public static String envName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /** {@code SOURCE_CREATE_SLOT} → {@code source.create_slot}: our keys are prefix.rest, the rest in snake case. */
    static String keyOf(String envName) {
        for (String prefix : new String[] {"SOURCE_", "DESTINATION_", "SYNC_", "DEMO_"}) {
            if (envName.startsWith(prefix) && envName.length() > prefix.length()) {
                return prefix.substring(0, prefix.length() - 1).toLowerCase(Locale.ROOT) + "."
                        + envName.substring(prefix.length()).toLowerCase(Locale.ROOT);
            }
        }
        return null;
    }

    private static boolean isOurs(String key) {
        return key.startsWith("source.") || key.startsWith("destination") || key.startsWith("sync.") || key.startsWith("demo.")
                || key.startsWith("camel.");
    }
}
