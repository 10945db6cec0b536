package io.pgsource.app;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * pgsource's logging, set up in code: what {@code io/pgsource/app/logback.xml} in the jar says, without parsing XML at
 * every start (logback's XML configuration cost about 0.2 s of a 1.5 s {@code sync.once} run). Installed by the
 * application's main ({@link #install()}), never through {@code META-INF/services} and never from a {@code logback.xml}
 * at the jar's root: a Camel application that only uses the {@code pgoutput:} component keeps its own logging. It steps
 * aside when a configuration of the user's is named ({@code -Dlogback.configurationFile=...}) or the classpath holds a
 * {@code logback.xml} or {@code logback-test.xml} (the tests'), and when the logging backend is not logback.
 * {@code io/pgsource/app/logback.xml} stays the starting point for a configuration of one's own;
 * {@code ConsoleLoggingTest} keeps the two equal.
 */
public final class ConsoleLogging extends ContextAwareBase implements Configurator {
    /** The bundled XML twin of this configuration (not at the jar's root, where logback would find it by itself). */
    static final String XML = "/io/pgsource/app/logback.xml";

    /** The console line; masks {@code password=...} and {@code password: ...} in every line and stack trace. */
    static final String PATTERN = "%d{HH:mm:ss.SSS} %-5level [%thread] %logger{30} - "
            + "%replace(%msg%n%xEx){'(?i)(password[\"]?\\s*[=:]\\s*)(RAW\\([^)]*\\)|[^&\\s,;]+)', '$1xxxxxx'}%nopex";

    /** The levels of logback.xml, by logger name (the root's under "ROOT"). */
    static final Map<String, Level> LEVELS = levels();

    private static Map<String, Level> levels() {
        Map<String, Level> levels = new LinkedHashMap<>();
        levels.put("org.apache.camel", Level.WARN);
        // Camel's property resolver prints every resolved value at DEBUG, passwords included: INFO even when
        // org.apache.camel is turned up to DEBUG
        levels.put("org.apache.camel.component.properties", Level.INFO);
        levels.put("org.apache.camel.impl.engine.AbstractCamelContext", Level.INFO);
        levels.put("org.apache.camel.main.MainSupport", Level.INFO);
        // sync.ha: leadership taken and lost, the consumer started and stopped on the leader
        levels.put("org.apache.camel.component.master", Level.INFO);
        levels.put("org.apache.camel.component.file.cluster", Level.INFO);
        // destination=kafka: the Kafka clients print their whole configuration, and every step of a producer's start, at INFO
        levels.put("org.apache.kafka", Level.WARN);
        levels.put("io.pgsource", Level.INFO);
        levels.put("org.testcontainers", Level.INFO);
        levels.put("com.github.dockerjava", Level.WARN);
        levels.put(org.slf4j.Logger.ROOT_LOGGER_NAME, Level.INFO);
        return Map.copyOf(levels);
    }

    /**
     * Sets pgsource's console logging up for the application (its mains call this first), replacing logback's default
     * configuration; does nothing where the user configured logging or logback is not the backend.
     */
    public static void install() {
        if (org.slf4j.LoggerFactory.getILoggerFactory() instanceof LoggerContext context && !userConfigured()) {
            context.reset();
            apply(context);
        }
    }

    /** A logback configuration of the user's (or the tests'): named by the system property, or on the classpath. */
    static boolean userConfigured() {
        ClassLoader loader = ConsoleLogging.class.getClassLoader();
        return System.getProperty("logback.configurationFile") != null || loader.getResource("logback-test.xml") != null
                || loader.getResource("logback.xml") != null;
    }

    /** As a logback {@link Configurator} (for a user who lists it in META-INF/services): the same rule. */
    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (userConfigured()) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        apply(context);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /** Sets the context up as logback.xml does. */
    static void apply(LoggerContext context) {
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(PATTERN);
        encoder.start();
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(context);
        console.setName("STDOUT");
        console.setEncoder(encoder);
        console.start();
        LEVELS.forEach((name, level) -> context.getLogger(name).setLevel(level));
        context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(console);
    }
}
