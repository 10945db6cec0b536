package io.pgsource.pgoutput;

import io.pgsource.catalog.Publications;
import io.pgsource.change.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks, on an ordinary connection, that the server, the role, the publications and the slot are ready for this
 * endpoint, and fails with the exact fix when not ({@link PrerequisiteException}). Creates the publications when
 * {@code createPublication=true}. The slot itself is created over the replication connection (see
 * {@link ReplicationSession}), because only there it exports a snapshot. What the publications publish comes from
 * {@link Publications}: a captured table is published when some of its rows are (a partitioned table through its root
 * or its partitions); what they leave out (partitions, UPDATE and DELETE, a keyless table's updates PostgreSQL then
 * rejects) is said once per table, never refused.
 *
 * <p>One per endpoint: it remembers what it said and which tables it left out of a publication it created.
 */
final class Prerequisites {
    private static final Logger LOG = LoggerFactory.getLogger(Prerequisites.class);

    /**
     * What the consumer needs to know after the checks.
     *
     * @param serverVersion   server_version_num
     * @param protocolVersion the pgoutput protocol version to use
     * @param slotExists      false when the slot is to be created (createSlot=true)
     * @param confirmedFlush  the slot's confirmed_flush_lsn, 0 when unknown
     * @param publications    the publications to stream ({@code publication_names}): the named ones that exist
     */
    record Outcome(int serverVersion, int protocolVersion, boolean slotExists, long confirmedFlush, List<String> publications) {
    }

    /** PostgreSQL 18: a slot streams past changes older than a named publication, which it skips for them. */
    private static final int SKIPS_MISSING_PUBLICATIONS = 180000;

    private final PgOutputConfiguration options;
    /** What was said at WARN, so a long-running consumer says each thing once. */
    private final Set<String> warned = ConcurrentHashMap.newKeySet();
    /** Captured tables without a key that a publication created here left out (no second publication was named). */
    private final Set<TableId> leftOut = ConcurrentHashMap.newKeySet();

    /** In a dry run ({@link SetupDryRun}): the statements run inside the transaction the dry run rolls back; else null. */
    private final List<String> dryRun;

    Prerequisites(PgOutputConfiguration options) {
        this(options, null);
    }

    Prerequisites(PgOutputConfiguration options, List<String> dryRun) {
        this.options = options;
        this.dryRun = dryRun;
    }

    /**
     * The publications an explicit check ({@link #checkForStart}) just checked or created, for the start of the consumer
     * that follows it: its own checks (at start, and at its first session's opening) take them instead of reading
     * every captured table's coverage twice more (about half a second each for 5,000 tables). Null: none.
     */
    private volatile Checked fresh;

    /** How long the publications of an explicit check stand in for the consumer's: the start that follows it at once. */
    private static final long FRESH_NANOS = 30_000_000_000L;

    private record Checked(List<String> publications, long at) {
    }

    /** The checks before this consumer first streams from the slot. */
    Outcome check(Connection c) throws SQLException {
        return check(c, null, null, false);
    }

    /**
     * The checks a caller runs before it starts the consumer (creating the publications when allowed): their publications
     * stand in for the consumer's own checks of them when it starts right after, until its first session opened, or
     * {@link #forgetChecked} (the consumer stopped).
     */
    Outcome checkForStart(Connection c) throws SQLException {
        fresh = null;
        Outcome outcome = check(c, null, null, false);
        if (dryRun == null) {
            fresh = new Checked(outcome.publications(), System.nanoTime());
        }
        return outcome;
    }

    /** The consumer stopped: its next start checks the publications again (unless a caller checks them first). */
    void forgetChecked() {
        fresh = null;
    }

    /**
     * The checks before a session starts.
     *
     * @param streamedUpTo null before this consumer first streamed from the slot; after that, the LSN it acknowledged
     *                     (0 when none yet). Then a missing slot or a captured table missing from the publications is no
     *                     longer a setup step to fix but lost changes ({@link SlotLostException}): the slot is not
     *                     created again, and the publications not recreated.
     * @param streamed     with streamedUpTo: the publications the consumer streamed
     */
    Outcome check(Connection c, Long streamedUpTo, List<String> streamed) throws SQLException {
        return check(c, streamedUpTo, streamed, true);
    }

    /** @param opening the check of a session's opening: the publications of an explicit check are taken, not kept */
    private Outcome check(Connection c, Long streamedUpTo, List<String> streamed, boolean opening) throws SQLException {
        requireLogicalWal(string(c, "SHOW wal_level"));
        int version = Integer.parseInt(string(c, "SHOW server_version_num"));
        requireReplicationRole(c);
        int protocol = protocolVersion(version, options.getProtocolVersion());
        SlotState slot = slot(c, streamedUpTo);
        List<String> publications;
        if (streamedUpTo == null) {
            Checked checked = fresh;
            if (opening) {
                fresh = null;
            }
            publications = checked != null && System.nanoTime() - checked.at() < FRESH_NANOS ? checked.publications()
                    : checkPublications(c, version, slot != null);
        } else {
            requireStillPublished(c, streamed, streamedUpTo);
            publications = streamed;
        }
        return new Outcome(version, protocol, slot != null, slot == null ? 0 : slot.confirmedFlush, publications);
    }

    /** The newest pgoutput protocol the server speaks. */
    static int newestProtocol(int serverVersion) {
        if (serverVersion >= 160000) {
            return 4;
        } else if (serverVersion >= 150000) {
            return 3;
        } else if (serverVersion >= 140000) {
            return 2;
        }
        return 1;
    }

    static int protocolVersion(int serverVersion, int requested) {
        int newest = newestProtocol(serverVersion);
        if (requested == 0) {
            return newest;
        }
        if (requested > newest) {
            throw new PrerequisiteException("pgoutput protocolVersion=" + requested + " needs a newer PostgreSQL: this server ("
                    + serverVersion + ") supports up to " + newest + ". Remove the option to use the newest it supports.");
        }
        return requested;
    }

    static void requireLogicalWal(String walLevel) {
        if (!"logical".equals(walLevel)) {
            throw new PrerequisiteException("PostgreSQL runs with wal_level = " + walLevel + "; logical replication needs"
                    + " wal_level = logical, which takes a server restart. Self-managed: set wal_level = logical in"
                    + " postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL, then check with"
                    + " SHOW wal_level. AWS RDS/Aurora: set rds.logical_replication = 1 in the DB parameter group and reboot."
                    + " Azure Database for PostgreSQL: set the server parameter wal_level = logical in the portal and restart.");
        }
    }

    private void requireReplicationRole(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_user, r.rolreplication OR r.rolsuper OR EXISTS (SELECT 1 FROM pg_roles g"
                     + " WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, 'MEMBER'))"
                     + " FROM pg_roles r WHERE r.rolname = current_user")) {
            if (rs.next() && !rs.getBoolean(2)) {
                String role = rs.getString(1);
                throw new PrerequisiteException("role " + TableId.quoteIdent(role) + " may not start logical replication: run "
                        + "ALTER ROLE " + TableId.quoteIdent(role) + " WITH REPLICATION; as a superuser (on RDS: GRANT rds_replication TO "
                        + TableId.quoteIdent(role) + ";)");
            }
        }
    }

    private record SlotState(long confirmedFlush) {
    }

    private SlotState slot(Connection c, Long streamedUpTo) throws SQLException {
        String slot = options.getSlot();
        ReplicationSlots.State state = ReplicationSlots.state(c, slot);
        if (!state.exists()) {
            if (streamedUpTo != null) {
                throw dropped(slot, streamedUpTo);
            }
            if (!options.isCreateSlot()) {
                throw new PrerequisiteException("replication slot " + TableId.quoteIdent(slot) + " does not exist: create it with "
                        + ReplicationSlots.createSqlForUsers(slot, c.getMetaData().getDatabaseMajorVersion()) + " or set createSlot=true");
            }
            ReplicationSlots.requireFree(c, slot);
            return null;
        }
        String type = state.type();
        String plugin = state.plugin();
        String database = state.database();
        String current = state.currentDatabase();
        if (!"logical".equals(type) || !"pgoutput".equals(plugin)) {
            throw new PrerequisiteException("replication slot " + TableId.quoteIdent(slot) + " is a " + type + " slot"
                    + (plugin == null ? "" : " of plugin " + plugin) + ", not a logical slot of plugin pgoutput: pick"
                    + " another slot name, or drop it (" + ReplicationSlots.dropSql(slot) + ") if nothing else uses it");
        }
        if (!current.equals(database)) {
            throw new PrerequisiteException("replication slot " + TableId.quoteIdent(slot) + " belongs to database "
                    + TableId.quoteIdent(database) + ", not " + TableId.quoteIdent(current)
                    + ": a logical slot reads one database; pick another slot name for this one");
        }
        if (state.invalidated()) {
            throw invalidated(slot, state.invalidationReason());
        }
        return new SlotState(state.confirmedFlush() == null ? 0 : state.confirmedFlush());
    }

    /** The slot is gone after this consumer streamed from it: what was committed after its last acknowledgement is lost. */
    static SlotLostException dropped(String slot, long acknowledged) {
        return new SlotLostException(SlotLostException.Reason.DROPPED, "replication slot " + TableId.quoteIdent(slot)
                + " no longer exists: it was dropped while this consumer was streaming from it (everything up to LSN "
                + PgOutputEndpoint.lsn(acknowledged) + " was applied and acknowledged). The changes committed after that were"
                + " kept only by the slot: they cannot be streamed any more and may be missing downstream. Create a new slot and"
                + " copy the tables again before streaming (createSlot=true with a snapshotHandler does both)");
    }

    /** The server removed WAL the slot still needed (max_slot_wal_keep_size, or another invalidation cause). */
    static SlotLostException invalidated(String slot, String cause) {
        String drop = ReplicationSlots.dropSql(slot);
        return new SlotLostException(SlotLostException.Reason.INVALIDATED, "replication slot " + TableId.quoteIdent(slot)
                + " is invalidated (" + (cause != null ? cause : "wal_status = lost") + "): the server removed WAL it still"
                + " needed (usually because it fell further behind than max_slot_wal_keep_size allows), so changes were lost."
                + " Drop it (" + drop + "), create it again (or set createSlot=true), and copy the data again (initial"
                + " snapshot) before streaming");
    }

    /**
     * Checks the publications (creating what is missing when {@code createPublication=true}) and returns the ones to
     * stream: the named ones that exist.
     */
    private List<String> checkPublications(Connection c, int serverVersion, boolean slotExists) throws SQLException {
        List<String> names = options.publications();
        List<TableId> wanted = tables(options.getPublicationTables());
        requireTables(c, wanted);
        Publications pubs = Publications.read(c, names, wanted.isEmpty() ? null : wanted);
        Map<String, String> create = plan(c, pubs, wanted, serverVersion, slotExists);
        if (!create.isEmpty()) {
            if (!options.isCreatePublication()) {
                List<String> missing = List.copyOf(create.keySet());
                List<String> unnamed = missing.stream().filter(n -> !names.contains(n)).toList();
                throw new PrerequisiteException("publication" + (missing.size() > 1 ? "s " : " ") + String.join(", ", quoted(missing))
                        + (missing.size() > 1 ? " do" : " does") + " not exist: create " + (create.size() > 1 ? "them" : "it")
                        + " with " + String.join("; ", create.values()) + ";" + (unnamed.isEmpty() ? ""
                        : " and add " + String.join(", ", quoted(unnamed)) + " (for the tables without a key or replica identity) to the"
                        + " publication option (" + Publications.list(concat(names, unnamed)) + ");")
                        + " or set createPublication=true");
            }
            for (String sql : create.values()) {
                try (Statement s = c.createStatement()) {
                    s.execute(sql);
                } catch (SQLException e) {
                    if ("42501".equals(e.getSQLState())) {
                        throw cannotCreatePublication(c, String.join("; ", create.values()), e);
                    }
                    throw e;
                }
                if (dryRun != null) {
                    dryRun.add(sql);
                } else {
                    LOG.info("{}: {}", sql.startsWith("CREATE") ? "Created publication" : "Added the selected tables it lacked to a"
                            + " publication pgsource manages (source.create_publication); they are copied before streaming", brief(sql));
                }
            }
            pubs = Publications.read(c, names, wanted.isEmpty() ? null : wanted);
        }
        for (TableId t : wanted) {
            Publications.Coverage table = pubs.coverage(t);
            if (!table.published() && !leftOut.contains(t)) {
                throw new PrerequisiteException(notPublished(pubs, table) + ": " + addFix(pubs, table));
            }
        }
        warnAboutCoverage(pubs);
        for (String missing : pubs.missing()) {
            if (!options.isCreatePublication() && warned.add("missing publication:" + missing)) {
                LOG.warn("Publication {} does not exist: it is not streamed (the tables to capture are published by the others)."
                        + " Check its name, or take it out of the publication option", TableId.quoteIdent(missing));
            }
        }
        List<String> streamed = pubs.existing().stream().map(Publications.Publication::name).toList();
        if (streamed.isEmpty()) {
            throw new PrerequisiteException("none of the publications " + String.join(", ", quoted(names)) + " exists, and none was"
                    + " created: every table of publicationTables lacks a primary key or replica identity. Name a second publication"
                    + " for them (see above), or give them a key");
        }
        return streamed;
    }

    /**
     * The CREATE PUBLICATION statements, by publication, for what the named publications do not cover yet: the first
     * publication (when missing) for the tables with a usable replica identity, the second (when missing) for the tables
     * without, publishing only inserts and truncates, so PostgreSQL keeps accepting the application's UPDATE and DELETE
     * on them. Without a second name such tables are left out of what is created, with a warning; when nothing exists
     * yet, the suggestion (no createPublication) names one ({@link Publications#keylessCompanion}).
     */
    private Map<String, String> plan(Connection c, Publications pubs, List<TableId> wanted, int serverVersion, boolean slotExists)
            throws SQLException {
        List<String> names = options.publications();
        String first = names.get(0);
        String second = names.size() > 1 ? names.get(1)
                : options.isCreatePublication() || pubs.publication(first) != null ? null : Publications.keylessCompanion(first);
        Map<String, String> sql = new LinkedHashMap<>();
        if (wanted.isEmpty()) {
            if (pubs.publication(first) == null) {
                List<TableId> keyless = Publications.keylessTables(c);
                if (!keyless.isEmpty()) {
                    throw new PrerequisiteException("publication " + TableId.quoteIdent(first) + " does not exist, and one FOR ALL TABLES"
                            + " would make PostgreSQL reject UPDATE and DELETE on " + String.join(", ", keyless.stream().limit(10)
                            .map(TableId::quoted).toList()) + (keyless.size() > 10 ? ", ..." : "") + ", which have no primary key or"
                            + " replica identity. Name the tables to capture in publicationTables (those without a key then go into an"
                            + " insert-only publication), or give them a primary key (or ALTER TABLE ... REPLICA IDENTITY FULL;)");
                }
                sql.put(first, Publications.create(first, List.of(), true, false, serverVersion));
            }
            return sql;
        }
        List<Publications.Coverage> keyed = new ArrayList<>();
        List<Publications.Coverage> keyless = new ArrayList<>();
        for (TableId t : wanted) {
            Publications.Coverage table = pubs.coverage(t);
            if (!table.published()) {
                (table.isKeyless() ? keyless : keyed).add(table);
            }
        }
        if (!keyed.isEmpty() && pubs.publication(first) == null) {
            sql.put(first, Publications.create(first, keyed.stream().map(Publications.Coverage::id).toList(),
                    keyed.stream().anyMatch(Publications.Coverage::partitioned), false, serverVersion));
        } else if (!keyed.isEmpty() && options.isCreatePublication() && !pubs.publication(first).allTables()) {
            // pgsource manages its publications: a table selected since is added (and copied before streaming)
            sql.put(first, Publications.addTables(first, keyed.stream().map(Publications.Coverage::id).toList()));
        }
        if (!keyless.isEmpty() && second != null && pubs.publication(second) == null) {
            if (pubs.publication(first) != null && slotExists && serverVersion < SKIPS_MISSING_PUBLICATIONS) {
                throw companionTooLate(second, keyless);
            }
            sql.put(second, Publications.create(second, keyless.stream().map(Publications.Coverage::id).toList(),
                    keyless.stream().anyMatch(Publications.Coverage::partitioned), true, serverVersion));
        } else if (keyless.isEmpty() && second != null && pubs.publication(second) == null && sql.containsKey(first)
                && options.isCreatePublication()) {
            // created with the first one, before the slot, though empty: a keyless table selected later is added to it, and
            // a slot can stream it only if it existed before the changes the slot still has to send
            sql.put(second, Publications.createEmpty(second, true, serverVersion));
        } else if (!keyless.isEmpty() && second != null && options.isCreatePublication() && !pubs.publication(second).allTables()
                && !pubs.publication(second).updatesOrDeletes()) {
            // into the insert-only one: PostgreSQL keeps accepting the application's UPDATE and DELETE on the table
            sql.put(second, Publications.addTables(second, keyless.stream().map(Publications.Coverage::id).toList()));
        } else if (!keyless.isEmpty() && second == null && options.isCreatePublication()) {
            for (Publications.Coverage t : keyless) {
                if (leftOut.add(t.id())) {
                    LOG.warn("{} has no primary key or replica identity: it is left out of publication {}, as PostgreSQL would reject"
                            + " UPDATE and DELETE on it while published with them, and its changes are not streamed. Name a second"
                            + " publication (publication={}): it is created for such tables, publishing only inserts and truncates."
                            + " Or give it a primary key (or ALTER TABLE {} REPLICA IDENTITY FULL;)", t.id().quoted(),
                            TableId.quoteIdent(first), Publications.list(List.of(first, Publications.keylessCompanion(first))),
                            t.id().quoted());
                }
            }
        }
        return sql;
    }

    /**
     * The insert-only publication for tables without a key is missing while the slot holds changes from before: before
     * PostgreSQL 18 the slot cannot decode them through a publication created after them ("publication ... does not
     * exist").
     */
    private PrerequisiteException companionTooLate(String second, List<Publications.Coverage> keyless) {
        String tables = String.join(", ", keyless.stream().map(t -> t.id().quoted()).toList());
        return new PrerequisiteException(tables + " (no primary key or replica identity) would go into publication "
                + TableId.quoteIdent(second) + ", which does not exist; but replication slot " + TableId.quoteIdent(options.getSlot())
                + " still has changes from before to send, and PostgreSQL before 18 cannot decode them through a publication"
                + " created after them. Give " + (keyless.size() > 1 ? "them" : "it") + " a primary key (or ALTER TABLE ... REPLICA"
                + " IDENTITY FULL;), or take " + (keyless.size() > 1 ? "them" : "it") + " out of publicationTables, or create the"
                + " publication and then start over from a new slot (sync.resnapshot=true)");
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /** "publication p does not include table t" (or publications p, q). */
    private static String notPublished(Publications pubs, Publications.Coverage table) {
        List<String> existing = quoted(pubs.existing().stream().map(Publications.Publication::name).toList());
        return (existing.size() > 1 ? "publications " : "publication ") + String.join(", ", existing) + (existing.size() > 1 ? " do" : " does")
                + " not include table " + table.id().quoted();
    }

    /** The SQL that publishes the table in one of the named publications, as PostgreSQL accepts it for them. */
    private static String addFix(Publications pubs, Publications.Coverage table) {
        String target = pubs.extensible(table.isKeyless());
        if (target == null) {
            return "no publication named can take it (FOR ALL TABLES publishes every table but unlogged ones); take it out of"
                    + " publicationTables";
        }
        String add = "run " + Publications.addTables(target, List.of(table.id()));
        if (table.isKeyless() && pubs.publication(target).updatesOrDeletes()) {
            return "it has no primary key or replica identity, and PostgreSQL rejects UPDATE and DELETE on such a table while a"
                    + " publication that publishes them includes it: give it a primary key (or " + keylessFix(table) + "), then "
                    + add + " Or publish it in an insert-only publication (CREATE PUBLICATION name FOR TABLE " + table.id().quoted()
                    + " WITH (publish = 'insert, truncate');) named in the publication option too; or take it out of publicationTables";
        }
        return add + " (or take it out of publicationTables)";
    }

    /**
     * Says once per table what the publications leave out of a captured table: partitions, actions (UPDATE and DELETE
     * of an insert-only publication), and that PostgreSQL rejects UPDATE and DELETE on a keyless table published with
     * them.
     */
    private void warnAboutCoverage(Publications pubs) {
        for (Publications.Coverage table : pubs.coverages()) {
            if (!table.published()) {
                continue;
            }
            String t = table.id().quoted();
            List<TableId> partitions = table.unpublishedPartitions();
            if (!partitions.isEmpty() && warned.add("partitions:" + table.id() + ":" + partitions)) {
                String target = pubs.extensible(table.isKeyless());
                LOG.warn("Publication(s) {} publish only some partitions of {}: the rows of {} are neither copied nor streamed{}",
                        quoted(table.publishedBy()), t, partitions.stream().map(TableId::quoted).toList(),
                        target == null ? "" : ". To publish them all: " + Publications.addTables(target, List.of(table.id())));
            }
            List<String> rejecting = pubs.rejectingUpdates(table);
            if (table.isKeyless() && !rejecting.isEmpty() && warned.add("keyless:" + table.id())) {
                LOG.warn("{} has no primary key or replica identity, and publication(s) {} publish its updates and deletes: PostgreSQL"
                        + " rejects UPDATE and DELETE on it while it is published, so only inserts and truncates can change it, and those"
                        + " are streamed. To allow updates and deletes, give it a primary key, or run: {}", t, quoted(rejecting),
                        keylessFix(table));
            }
            List<String> actions = pubs.unpublishedActions(table);
            if (!actions.isEmpty() && warned.add("actions:" + table.id() + ":" + actions)) {
                LOG.warn("Publication(s) {} do not publish {} of {}: those changes are not streamed, so the destination keeps rows as"
                        + " they were before them{}", quoted(table.publishedBy()),
                        String.join(", ", actions.stream().map(a -> a.toUpperCase(Locale.ROOT)).toList()), t, table.isKeyless()
                                ? ". It has no primary key or replica identity: once it has one (" + keylessFix(table) + "), publish it in a"
                                + " publication that publishes them, then copy it again (sync.resnapshot=true)" : "");
            }
        }
    }

    /** {@code ALTER TABLE ... REPLICA IDENTITY FULL;} for the leaves of a table that lack a replica identity. */
    private static String keylessFix(Publications.Coverage table) {
        List<String> fix = table.keyless().stream().map(oid -> table.leaves().get(oid)).sorted().limit(10)
                .map(leaf -> "ALTER TABLE " + leaf.quoted() + " REPLICA IDENTITY FULL;").toList();
        return String.join(" ", fix) + (table.keyless().size() > 10 ? " ..." : "");
    }

    private static List<String> quoted(List<String> names) {
        return names.stream().map(TableId::quoteIdent).toList();
    }

    /**
     * After this consumer streamed from the publications: the ones it streams must still exist and publish some rows of
     * every captured table; otherwise changes are lost ({@link SlotLostException}). Also says once what they leave out.
     *
     * @param streamed     the publications the consumer streams
     * @param acknowledged what it acknowledged so far
     */
    void requireStillPublished(Connection c, List<String> streamed, long acknowledged) throws SQLException {
        List<TableId> wanted = tables(options.getPublicationTables());
        Publications pubs = Publications.read(c, streamed, wanted.isEmpty() ? null : wanted);
        if (!pubs.missing().isEmpty()) {
            throw new SlotLostException(SlotLostException.Reason.UNPUBLISHED, "publication " + TableId.quoteIdent(pubs.missing().get(0))
                    + " no longer exists: it was dropped while this consumer was streaming it (applied and acknowledged up to LSN "
                    + PgOutputEndpoint.lsn(acknowledged) + "). PostgreSQL cannot decode the changes made since through it, so they may"
                    + " be missing downstream. Create the publication again, then a new slot, and copy the tables again before streaming");
        }
        List<Publications.Coverage> unpublished = new ArrayList<>();
        for (TableId t : wanted) {
            Publications.Coverage table = pubs.coverage(t);
            if (table == null) {
                if (warned.add("missing:" + t)) {
                    LOG.warn("pgoutput:{}: captured table {} no longer exists under that name (dropped, or renamed: a renamed table's"
                            + " changes arrive under its new name)", options.getSlot(), t.quoted());
                }
            } else if (!table.published() && !leftOut.contains(t)) {
                unpublished.add(table);
            }
        }
        if (!unpublished.isEmpty()) {
            throw unpublished(pubs, unpublished, acknowledged);
        }
        warnAboutCoverage(pubs);
    }

    /** Captured tables are no longer published after this consumer streamed them. */
    private static SlotLostException unpublished(Publications pubs, List<Publications.Coverage> tables, long acknowledged) {
        List<String> names = tables.stream().map(t -> t.id().quoted()).toList();
        String list = String.join(", ", names);
        boolean one = names.size() == 1;
        List<String> fixes = new ArrayList<>();
        List<String> targets = new ArrayList<>();
        for (Publications.Coverage t : tables) {
            String target = pubs.extensible(t.isKeyless());
            if (target != null) {
                fixes.add(Publications.addTables(target, List.of(t.id())));
                if (!targets.contains(target)) {
                    targets.add(target);
                }
            }
        }
        // the publications it belongs in (an insert-only one pgsource created empty beside never held a table with a key)
        List<String> pubNames = quoted(fixes.size() == tables.size() ? targets
                : pubs.existing().stream().map(Publications.Publication::name).toList());
        return new SlotLostException(SlotLostException.Reason.UNPUBLISHED, (one ? "table " : "tables ") + list + (one ? " was" : " were")
                + " taken out of publication" + (pubNames.size() > 1 ? "s " : " ") + String.join(", ", pubNames) + " while this consumer"
                + " was streaming " + (one ? "it" : "them") + " (applied and acknowledged up to LSN " + PgOutputEndpoint.lsn(acknowledged)
                + "). PostgreSQL sends no changes of unpublished tables and never sends the ones made meanwhile later, so changes to "
                + (one ? "it" : "them") + " may be missing downstream. Either add " + (one ? "it" : "them") + " back"
                + (fixes.isEmpty() ? "" : " (" + String.join(" ", fixes) + ")") + " and copy the tables again from a new slot, or stop"
                + " capturing " + (one ? "it" : "them") + " (take " + (one ? "it" : "them") + " out of publicationTables)",
                tables.stream().map(Publications.Coverage::id).toList());
    }

    /**
     * CREATE PUBLICATION needs CREATE on the database, and ownership of every listed table (FOR ALL TABLES: superuser).
     * Says which is missing, and the alternative: an administrator creates the publication once.
     */
    private static PrerequisiteException cannotCreatePublication(Connection c, String create, SQLException e) throws SQLException {
        String role;
        String database;
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT current_user, current_database()")) {
            rs.next();
            role = TableId.quoteIdent(rs.getString(1));
            database = TableId.quoteIdent(rs.getString(2));
        }
        String reason = String.valueOf(e.getMessage());
        String fix = reason.contains("for database") ? " Give the role the CREATE privilege on the database: GRANT CREATE ON DATABASE "
                + database + " TO " + role + ";"
                : reason.contains("must be owner") ? " A table may be published only by its owner: make " + role
                + " the owner of the tables (ALTER TABLE ... OWNER TO " + role + ";)."
                : reason.contains("superuser") ? " FOR ALL TABLES needs a superuser: list the tables instead (publicationTables)."
                : "";
        return new PrerequisiteException("role " + role + " may not create the publication (" + reason.strip() + ")." + fix
                + " Or have an administrator (a superuser, or the tables' owner) run " + create
                + "; once: with the publication in place the role needs only REPLICATION and SELECT on the tables.");
    }

    /** {@code a.b, "x,y"."z", c} → tables; a name without schema is in public; surrounding double quotes are dropped. */
    static List<TableId> tables(String list) {
        List<TableId> tables = new ArrayList<>();
        if (list == null || list.isBlank()) {
            return tables;
        }
        // quote-aware: a quoted name may hold commas, dots and doubled quotes
        for (String name : TableId.splitList(list)) {
            try {
                tables.add(TableId.parse(name));
            } catch (IllegalArgumentException noSchema) {
                tables.add(TableId.parse("public." + name));
            }
        }
        return tables;
    }

    /** A statement for the log: one naming thousands of tables is cut after its first ones. */
    static String brief(String sql) {
        if (sql.length() <= 2000) {
            return sql;
        }
        int cut = sql.lastIndexOf(", ", 1000);
        return sql.substring(0, cut > 0 ? cut : 1000) + ", ... (" + String.format(java.util.Locale.ROOT, "%,d", sql.length())
                + " characters in all)";
    }

    /** Every name is a table of this database: one query for all of them (thousands are no thousand round trips). */
    private static void requireTables(Connection c, List<TableId> tables) throws SQLException {
        if (tables.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT w.s, w.t FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS w(s, t, i)"
                + " WHERE NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = w.s AND c.relname = w.t AND c.relkind IN ('r', 'p')) ORDER BY w.i LIMIT 1")) {
            ps.setArray(1, c.createArrayOf("text", tables.stream().map(TableId::schema).toArray()));
            ps.setArray(2, c.createArrayOf("text", tables.stream().map(TableId::name).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    throw new PrerequisiteException("publicationTables names " + new TableId(rs.getString(1), rs.getString(2)).quoted()
                            + ", which is not a table of this database");
                }
            }
        }
    }

    private static String string(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
