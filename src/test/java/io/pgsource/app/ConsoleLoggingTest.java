package io.pgsource.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The logging set up in code is the one logback.xml describes, and steps aside for a configuration of one's own. */
class ConsoleLoggingTest {

    @Test
    void sameLevelsAppenderAndPatternAsLogbackXml() throws Exception {
        LoggerContext xml = new LoggerContext();
        JoranConfigurator joran = new JoranConfigurator();
        joran.setContext(xml);
        joran.doConfigure(ConsoleLoggingTest.class.getResource(ConsoleLogging.XML));
        LoggerContext code = new LoggerContext();
        ConsoleLogging.apply(code);

        assertThat(levels(code)).isEqualTo(levels(xml)).containsEntry("org.apache.camel.component.properties", "INFO");
        assertThat(pattern(code)).isEqualTo(pattern(xml));
    }

    @Test
    void masksPasswords() {
        LoggerContext code = new LoggerContext();
        ConsoleLogging.apply(code);
        PatternLayoutEncoder encoder = encoder(code);
        Logger logger = code.getLogger("io.pgsource.Test");
        String line = new String(encoder.encode(new LoggingEvent("x", logger, Level.INFO,
                "jdbc:postgresql://h/db?user=u&password=s3cret&ssl=true, password: \"other\"", null, null)), StandardCharsets.UTF_8);
        assertThat(line).doesNotContain("s3cret").doesNotContain("other").contains("password=xxxxxx&ssl=true");
    }

    @Test
    void stepsAsideForTheTestsOrAFileNamedByTheUser() {
        // the test classpath holds logback-test.xml: logback reads it, as before
        ConsoleLogging logging = new ConsoleLogging();
        LoggerContext context = new LoggerContext();
        logging.setContext(context);
        assertThat(logging.configure(context)).isEqualTo(Configurator.ExecutionStatus.INVOKE_NEXT_IF_ANY);
        assertThat(context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).iteratorForAppenders().hasNext()).isFalse();
    }

    @Test
    void theJarShipsNoLoggingConfigurationThatLogbackWouldFindByItself() {
        // a Camel application using only the pgoutput: component keeps its own logging
        ClassLoader loader = ConsoleLoggingTest.class.getClassLoader();
        assertThat(ConsoleLoggingTest.class.getResource(ConsoleLogging.XML)).isNotNull();
        assertThat(loader.getResource("logback.xml")).isNull();
        assertThat(loader.getResource("META-INF/services/" + Configurator.class.getName())).isNull();
    }

    private static Map<String, String> levels(LoggerContext context) {
        Map<String, String> levels = new TreeMap<>();
        for (Logger l : context.getLoggerList()) {
            if (l.getLevel() != null) {
                levels.put(l.getName(), l.getLevel().toString());
            }
        }
        return levels;
    }

    private static String pattern(LoggerContext context) {
        return encoder(context).getPattern();
    }

    private static PatternLayoutEncoder encoder(LoggerContext context) {
        var appender = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("STDOUT");
        assertThat(appender).isInstanceOf(ConsoleAppender.class);
        return (PatternLayoutEncoder) ((ConsoleAppender<ILoggingEvent>) appender).getEncoder();
    }
}
