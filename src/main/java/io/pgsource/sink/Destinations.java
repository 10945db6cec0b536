package io.pgsource.sink;

import io.pgsource.config.ConfigurationException;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;

/**
 * The registered destinations: every {@link Destination} listed in a {@code META-INF/services/io.pgsource.sink.Destination}
 * file on the class path (the application's own, or a jar that adds one). No list of names is kept anywhere else.
 */
public final class Destinations {
    private Destinations() {
    }

    /** The names of the registered destinations, sorted. */
    public static List<String> names() {
        return load().stream().map(Destination::name).sorted().toList();
    }

    /**
     * A new instance of the destination of that name (not opened).
     *
     * @throws ConfigurationException naming the registered destinations when none has that name
     */
    public static Destination create(String name) {
        String wanted = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
        List<Destination> all = load();
        for (Destination d : all) {
            if (d.name().equals(wanted)) {
                return d;
            }
        }
        throw new ConfigurationException("destination=" + name + " is not a registered destination: set destination to one of "
                + String.join(", ", all.stream().map(Destination::name).sorted().toList()));
    }

    /**
     * The context class loader (where an application server or a plugin adds destinations) when it sees this very
     * {@link Destination}; else this jar's own: Camel JBang loads the jar (--dep) in a class loader of its own below the
     * thread's, which would find no destination at all.
     */
    private static List<Destination> load() {
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        ClassLoader loader = sees(context) ? context : Destinations.class.getClassLoader();
        return ServiceLoader.load(Destination.class, loader).stream().map(ServiceLoader.Provider::get).toList();
    }

    private static boolean sees(ClassLoader loader) {
        try {
            return loader != null && Class.forName(Destination.class.getName(), false, loader) == Destination.class;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
