package io.pgsource.sink.jdbc;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * What a connection has already created or checked, by identity. Work done inside a transaction only counts once
 * that transaction commits: a rollback also undoes the DDL, so it forgets what was added since the last commit.
 */
final class CommitCache<K> {
    private final Set<K> committed = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<K> pending = Collections.newSetFromMap(new IdentityHashMap<>());

    boolean contains(K key) {
        return committed.contains(key) || pending.contains(key);
    }

    void add(K key) {
        pending.add(key);
    }

    void commit() {
        committed.addAll(pending);
        pending.clear();
    }

    void rollback() {
        pending.clear();
    }

    /** Forgets everything (a new connection may face a changed database). */
    void clear() {
        committed.clear();
        pending.clear();
    }
}
