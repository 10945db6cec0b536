#!/usr/bin/env bash
# The initial copy of LOG_BASED with 1, 2 and 4 snapshot readers (source.snapshot_workers), in one run on one machine
# (see src/main/docs/replication-methods.md, "Parallel readers"): java -jar target/pgsource.jar with sync.once creates its slot and copies a generated
# table inside the slot's exported snapshot into discard and into postgres, next to psql COPY TO STDOUT > /dev/null and
# psql COPY | psql COPY FROM STDIN. Prints the copy's seconds, the whole process's, and the ratios to the limit and to
# the first worker count.
#
#   bench/snapshot-workers.sh [rows]          (default 1000000)
#
# Builds first (needs a JDK 17+ and Maven). Starts an embedded PostgreSQL, or uses BENCH_JDBC_URL (a superuser pgjdbc
# URL; databases pgsource_bench and pgsource_bench_dst are dropped and created there). Other settings:
# BENCH_WORKERS=1,2,4  BENCH_DESTINATIONS=discard,postgres  BENCH_JAVA_OPTS (the pgsource JVM's options)
# BENCH_SKIP_BUILD=1  BENCH_MVN_OPTS (e.g. -o). Logs go to target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  mvn -q -B ${BENCH_MVN_OPTS:-} -DskipTests package
fi
exec java -Xmx512m -cp "target/test-classes:target/classes:target/lib/*" io.pgsource.bench.SnapshotWorkersBench "$@"
