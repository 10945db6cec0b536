package io.pgsource.config;

/** Keeps secrets out of text that may reach a log line or an exception message. */
public final class Secrets {
    private Secrets() {
    }

    /** The text with every occurrence of the secret replaced by {@code ****}. */
    public static String scrub(String text, String secret) {
        if (text == null || secret == null || secret.length() < 1) {
            return text;
        }
        return text.replace(secret, "****");
    }
}
