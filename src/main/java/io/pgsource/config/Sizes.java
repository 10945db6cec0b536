package io.pgsource.config;

import java.util.Locale;

/** How a size reads wherever pgsource shows one (the log, the status page, discover), in units of 1024 as settings take them. */
public final class Sizes {
    private static final String[] UNITS = {"kB", "MB", "GB", "TB"};

    private Sizes() {
    }

    /** 12345678 → "11.8 MB"; below 1 kB "n bytes". */
    public static String human(long bytes) {
        double v = bytes;
        String unit = null;
        for (String u : UNITS) {
            if (v < 1024) {
                break;
            }
            v /= 1024;
            unit = u;
        }
        return unit == null ? bytes + " bytes" : String.format(Locale.ROOT, "%.1f %s", v, unit);
    }
}
