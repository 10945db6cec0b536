#!/usr/bin/env bash
# CDC throughput into each destination, next to pg_recvlogical, in one run on one machine (issue 9's note):
# N rows (default 1,000,000) inserted in 1,000-row transactions on one source table; the same WAL (a copy of the
# logical slot each) then read by pg_recvlogical into /dev/null, and streamed by pgsource as the user runs it
# (java -jar target/pgsource.jar, environment variables, sync.once) into postgres, mysql, kafka and endpoint (NATS
# JetStream). Each pgsource time is the whole process, JVM start included; each destination's row count is checked.
# Prints one table: path, seconds, rows/s, ratio (pg_recvlogical's seconds / the path's). A service that is not there
# gives "skipped (no X on host:port)".
#
#   bench/cdc-destinations.sh [rows]
#
# Builds first (needs a JDK 17+ and Maven). Source: an embedded PostgreSQL (wal_level=logical), or BENCH_JDBC_URL (a
# superuser pgjdbc URL; databases pgsource_bench and pgsource_bench_dst are dropped and created there; postgres goes to
# the second). Destinations: BENCH_MYSQL (host:port, default 127.0.0.1:3306; BENCH_MYSQL_USER root,
# BENCH_MYSQL_PASSWORD empty; database pgsource_bench dropped and created), BENCH_KAFKA (bootstrap servers; default the
# tests' single-node KRaft broker in a child JVM, from kafka_2.13 on the test classpath), BENCH_NATS (host:port of a
# server with JetStream, default 127.0.0.1:4222; a file stream of its own, deleted after). BENCH_PATHS (default
# postgres,mysql,kafka,nats), BENCH_JAVA_OPTS (the pgsource JVM's options), BENCH_SKIP_BUILD=1, BENCH_MVN_OPTS (e.g. -o).
# Logs go to target/bench/ (pgsource-cdc-*.log).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  mvn -q -B ${BENCH_MVN_OPTS:-} -DskipTests package
fi
# the tests' Kafka broker (kafka_2.13), the NATS client and the MariaDB driver are on the test classpath
mvn -q -B ${BENCH_MVN_OPTS:-} test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-test.classpath
exec java -Xmx512m -cp "target/test-classes:target/classes:$(cat target/bench-test.classpath)" io.pgsource.bench.CdcDestinations "$@"
