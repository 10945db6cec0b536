#!/usr/bin/env bash
# pgsource next to the physical limits, in one run on one machine (see src/main/docs/performance.md):
#   1 FULL_TABLE -> discard vs psql COPY TO STDOUT > /dev/null     2 FULL_TABLE -> postgres vs psql COPY | psql COPY
#   3 LOG_BASED -> discard vs pg_recvlogical                        4 LOG_BASED -> postgres vs pg_recvlogical
#   5 commit-to-destination-commit latency at 1,000 rows/s           6 peak RSS of every run
#   7 LOG_BASED -> kafka vs pg_recvlogical (only when asked: BENCH_ITEMS=3,7; the broker is BENCH_KAFKA, else the tests'
#     single-node KRaft broker in a child JVM, from kafka_2.13 on the test classpath)
#
#   bench/run.sh [rows]          (default 1000000; 5000000 works too: peak RSS under 300 MB, the embedded server's data in /tmp grew to about 4 GB)
#
# pgsource runs as the README starts it, `java -jar target/pgsource.jar` (its launcher and the JVM that launcher starts,
# JVM start included), after one warm-up run that writes the launcher's class-data-sharing archive. The result is one
# markdown table: per path the limit's seconds, pgsource's whole-process seconds and ratio, its in-process seconds and
# ratio, its CPU seconds next to the server's, and the peak RSS of its process tree.
#
# Builds first (needs a JDK 17+ and Maven). Starts an embedded PostgreSQL 18, or uses BENCH_JDBC_URL (a superuser
# pgjdbc URL, e.g. jdbc:postgresql://localhost:5432/postgres?user=postgres&password=...; databases pgsource_bench and
# pgsource_bench_dst are dropped and created there). psql and pg_recvlogical come from the PATH or
# /usr/lib/postgresql/*/bin; without psql the COPY limits use pgjdbc's CopyManager, without pg_recvlogical the CDC
# items have no limit. Other settings: BENCH_ITEMS=1,2,3,4,5  BENCH_CDC_WORKLOADS=many,one  BENCH_LATENCY_SECONDS=60
# BENCH_JAVA_OPTS (the pgsource JVM's options, e.g. -Xmx256m; any option makes the launcher step aside)
# BENCH_JFR=1 (a JFR recording per pgsource run; it is a JVM option too)  BENCH_SKIP_BUILD=1
# BENCH_MVN_OPTS (e.g. -o). JAVA_TOOL_OPTIONS=-Djava.io.tmpdir=/dev/shm puts the embedded server's data on tmpfs (the
# README's run; pgsource's JVM does not see the option).
# Logs and recordings go to target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  mvn -q -B ${BENCH_MVN_OPTS:-} -DskipTests package
fi
cp="target/test-classes:target/classes:target/lib/*"
if [[ ",${BENCH_ITEMS:-}," == *,7,* ]] && [ -z "${BENCH_KAFKA:-}" ]; then
  # the tests' Kafka broker needs kafka_2.13 (test scope) and the test classes
  mvn -q -B ${BENCH_MVN_OPTS:-} test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-test.classpath
  cp="$cp:$(cat target/bench-test.classpath)"
fi
exec java -Xmx512m -cp "$cp" io.pgsource.bench.Bench "$@"
