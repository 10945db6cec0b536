#!/usr/bin/env bash
# Measures log replication (LOG_BASED) next to the physical limit, in one run on one server:
#   pg_recvlogical draining pgoutput from a copy of the slot  vs  pgsource (destination=discard, sync.once) on the other copy,
# for N rows in 1,000-row transactions and N rows in one transaction; then the commit-to-destination latency while
# pgsource streams and a writer commits 100 transactions of 10 rows per second.
#
#   bench/cdc.sh                       (BENCH_ROWS=1000000, BENCH_LATENCY_SECONDS=60)
#
# Environment: BENCH_ROWS, BENCH_LATENCY_SECONDS, BENCH_JDBC_URL (a superuser pgjdbc URL with user/password parameters;
# default: an embedded PostgreSQL 17 with fsync on; a database pgsource_bench is dropped and created there),
# BENCH_JFR=1 (a JFR recording per pgsource run in target/bench), BENCH_SKIP_BUILD=1, BENCH_MVN_OPTS (e.g. -o).
# Needs pg_recvlogical on the PATH for the limit line (skipped otherwise) and /usr/bin/time for the peak RSS.
# pgsource runs as `java -Xmx256m -Ddestination.discard.assume_copied=true -jar target/pgsource.jar`: that flag makes
# the discard destination report every table as copied, so the run measures streaming only (no initial copy).
# Logs, latencies and recordings go to target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  mvn -q -B ${BENCH_MVN_OPTS:-} -DskipTests package
fi
exec java -cp "target/test-classes:target/classes:target/lib/*" io.pgsource.bench.CdcBench "$@"
