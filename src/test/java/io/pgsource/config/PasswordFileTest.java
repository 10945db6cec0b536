package io.pgsource.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Passwords from {@code source.password_file} / {@code destination.password_file}: a mounted secret, never in a log. */
class PasswordFileTest {
    @TempDir
    Path dir;

    private static Settings load(Map<String, String> env) {
        Properties p = EffectiveProperties.load(env, new Properties());
        return new SettingsLoader(p::getProperty).load();
    }

    @Test
    void theFilesContentLessItsTrailingLineBreakIsThePassword() throws Exception {
        Path source = Files.writeString(dir.resolve("source-pw"), "s3cret with spaces \n");
        Path destination = Files.writeString(dir.resolve("dest-pw"), "d3st\r\n");
        Settings s = load(Map.of("SOURCE_PASSWORD_FILE", source.toString(), "DESTINATION_PASSWORD_FILE", destination.toString()));
        assertThat(s.source().password()).isEqualTo("s3cret with spaces ");
        assertThat(s.destination().password()).isEqualTo("d3st");
        assertThat(s.source().toString()).doesNotContain("s3cret").contains("password=<secret>");
        assertThat(s.destination().toString()).doesNotContain("d3st").contains("password=<secret>");
    }

    @Test
    void onlyOneLineBreakIsTakenOff() throws Exception {
        Path file = Files.writeString(dir.resolve("pw"), "abc\n\n");
        assertThat(load(Map.of("SOURCE_PASSWORD_FILE", file.toString())).source().password()).isEqualTo("abc\n");
    }

    @Test
    void settingBothThePasswordAndItsFileIsAnError() throws Exception {
        Path file = Files.writeString(dir.resolve("pw"), "from-file");
        Map<String, String> env = new HashMap<>(Map.of("SOURCE_PASSWORD", "plain-secret", "SOURCE_PASSWORD_FILE", file.toString()));
        assertThatThrownBy(() -> load(env)).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("source.password and source.password_file").hasMessageNotContaining("plain-secret")
                .hasMessageNotContaining("from-file");
    }

    @Test
    void anUnreadableOrEmptyFileSaysWhichKeyAndWhy() throws Exception {
        Path missing = dir.resolve("nope");
        assertThatThrownBy(() -> load(Map.of("DESTINATION_PASSWORD_FILE", missing.toString()))).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("destination.password_file=" + missing).hasMessageContaining("cannot be read (NoSuchFileException)");
        assertThatThrownBy(() -> load(Map.of("SOURCE_PASSWORD_FILE", dir.toString()))).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("source.password_file=" + dir).hasMessageContaining("cannot be read");
        Path empty = Files.writeString(dir.resolve("empty"), "\n");
        assertThatThrownBy(() -> load(Map.of("SOURCE_PASSWORD_FILE", empty.toString()))).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("source.password_file=" + empty + " is empty");
    }

    @Test
    void systemPropertiesNameTheFileToo() throws Exception {
        Path file = Files.writeString(dir.resolve("pw"), "from-property\n");
        Properties system = new Properties();
        system.setProperty("source.password_file", file.toString());
        Properties p = EffectiveProperties.load(Map.of(), system);
        assertThat(new SettingsLoader(p::getProperty).load().source().password()).isEqualTo("from-property");
    }
}
