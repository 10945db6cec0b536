#!/usr/bin/env bash
# pgsource next to the physical limits, in one run on one machine (see README, "Performance"):
#   1 FULL_TABLE -> discard vs psql COPY TO STDOUT > /dev/null     2 FULL_TABLE -> postgres vs psql COPY | psql COPY
#   3 LOG_BASED -> discard vs pg_recvlogical                        4 LOG_BASED -> postgres vs pg_recvlogical
#   5 commit-to-destination-commit latency at 1,000 rows/s           6 peak RSS of every run, each with -Xmx256m
#
#   bench/run.sh [rows]          (default 1000000)
#
# Builds first (needs a JDK 17+ and Maven). Starts an embedded PostgreSQL 17, or uses BENCH_JDBC_URL (a superuser
# pgjdbc URL, e.g. jdbc:postgresql://localhost:5432/postgres?user=postgres&password=...; databases pgsource_bench and
# pgsource_bench_dst are dropped and created there). psql and pg_recvlogical come from the PATH or
# /usr/lib/postgresql/*/bin; without psql the COPY limits use pgjdbc's CopyManager, without pg_recvlogical the CDC
# items have no limit. Other settings: BENCH_ITEMS=1,2,3,4,5  BENCH_CDC_WORKLOADS=many,one  BENCH_LATENCY_SECONDS=60
# BENCH_JAVA_OPTS (the pgsource JVM's options)  BENCH_JFR=1 (a JFR recording per pgsource run)  BENCH_SKIP_BUILD=1
# BENCH_MVN_OPTS (e.g. -o).
# Logs and recordings go to target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  mvn -q -B ${BENCH_MVN_OPTS:-} -DskipTests package
fi
exec java -Xmx512m -cp "target/test-classes:target/classes:target/lib/*" io.pgsource.bench.Bench "$@"
