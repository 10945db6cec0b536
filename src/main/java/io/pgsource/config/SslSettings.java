package io.pgsource.config;

/** {@code source.sslmode}, {@code source.sslrootcert}, {@code source.sslcert}, {@code source.sslkey}, handed to pgjdbc. */
public record SslSettings(String sslmode, String sslrootcert, String sslcert, String sslkey) {
    public static final SslSettings NONE = new SslSettings(null, null, null, null);
}
