#!/usr/bin/env bash
# Fault soak: pgsource streams LOG_BASED into PostgreSQL for N minutes (default 10) while a mixed workload writes to
# twelve tables and random faults hit it every 10-40 s: pgsource killed (SIGKILL) at random, inside a destination
# COMMIT or between the parts of a 20,000-row transaction; the source restarted fast or immediately (a crash); the
# walsender terminated; the network path to the source cut for 3-15 s. At the end every table must equal the source
# (EXCEPT ALL both ways). Prints the faults by kind with their recoveries, the writer's totals and the result;
# exits 0 when every table is equal.
#
#   bench/soak.sh [minutes]
#
# Environment: SOAK_SEED (repeat a run), SOAK_SCALE (seed rows of the biggest table, default 50000), SOAK_SKIP_BUILD=1,
# SOAK_MVN_OPTS (e.g. -o). Needs only a JDK and Maven: source and destination are embedded PostgreSQL 17 servers.
# The logs of every pgsource run go to target/soak/<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SOAK_SKIP_BUILD:-0}" != 1 ]; then
  mvn -q -B ${SOAK_MVN_OPTS:-} -DskipTests package
fi
mvn -q -B ${SOAK_MVN_OPTS:-} dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/soak-classpath.txt
exec java -Xmx512m -cp "target/test-classes:target/classes:$(cat target/soak-classpath.txt)" io.pgsource.bench.Soak "$@"
