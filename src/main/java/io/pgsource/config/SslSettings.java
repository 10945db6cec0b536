package io.pgsource.config;

import java.util.Properties;

/**
 * TLS settings handed to pgjdbc: {@code source.sslmode}, {@code source.sslrootcert}, {@code source.sslcert},
 * {@code source.sslkey} (and the same {@code destination.*} keys). File paths, no secrets.
 */
public record SslSettings(String sslmode, String sslrootcert, String sslcert, String sslkey) {
    public static final SslSettings NONE = new SslSettings(null, null, null, null);

    /** Puts the settings that are set into pgjdbc connection properties. */
    public void applyTo(Properties p) {
        putIfSet(p, "sslmode", sslmode);
        putIfSet(p, "sslrootcert", sslrootcert);
        putIfSet(p, "sslcert", sslcert);
        putIfSet(p, "sslkey", sslkey);
    }

    private static void putIfSet(Properties p, String key, String value) {
        if (value != null && !value.isEmpty()) {
            p.setProperty(key, value);
        }
    }
}
