#!/bin/bash
# Start-up of the plain command: `java -jar <jar>` with sync.once (FULL_TABLE) into jsonl, whole process, as the
# Start-up table of src/main/docs/performance.md measures it. Runs the jars given (default target/pgsource.jar) alternately, N rounds, and prints the
# medians of the wall time, of the time to the first page read (its log line) and of the CPU time (/usr/bin/time: the
# launcher and its child together).
#
#   SOURCE_HOST=127.0.0.1 SOURCE_PORT=5432 SOURCE_DATABASE=shop SOURCE_USERNAME=postgres SOURCE_PASSWORD=... \
#   SOURCE_TABLES=public.items bench/startup.sh [rounds] [jar ...]
#
# The source table should be small (performance.md's: 100 rows). Each run writes into a new temporary directory. The first
# run of a jar after a build also writes its class-data-sharing archive (see performance.md): run once before measuring.
set -euo pipefail
rounds=${1:-5}
shift || true
jars=("$@")
[ ${#jars[@]} -eq 0 ] && jars=(target/pgsource.jar)
# absolute: each run starts in a temporary directory
for i in "${!jars[@]}"; do jars[$i]=$(realpath "${jars[$i]}"); done
: "${SOURCE_HOST:?set SOURCE_HOST (and SOURCE_PORT, SOURCE_DATABASE, SOURCE_USERNAME, SOURCE_PASSWORD) to a database with a small table}"
results=$(mktemp -d)
config=$(realpath application.properties)
trap 'rm -rf "$results"' EXIT
one() {
  local jar=$1 d
  d=$(mktemp -d)
  local start end first firsts
  start=$(date +%s.%N)
  (cd "$d" && SOURCE_REPLICATION_METHOD=FULL_TABLE SYNC_ONCE=true DESTINATION=jsonl DESTINATION_DIRECTORY="$d/output" \
      PGSOURCE_CONFIG="$config" /usr/bin/time -f "%U %S" -o "$d/time" java -jar "$jar" > "$d/log" 2>&1) \
      || { echo "run failed: $d/log" >&2; tail -5 "$d/log" >&2; exit 1; }
  end=$(date +%s.%N)
  first=$(grep -m1 " rows in " "$d/log" | cut -c1-12)
  firsts=$(date -u -d "$(date -u +%F) $first" +%s.%N)
  read -r user sys < "$d/time"
  echo "$(echo "$end - $start" | bc) $(echo "$firsts - $start" | bc) $(echo "$user + $sys" | bc)"
  rm -rf "$d"
}
for _ in $(seq "$rounds"); do
  for i in "${!jars[@]}"; do one "${jars[$i]}" >> "$results/$i"; done
done
median() { sort -n | awk '{a[NR]=$1} END{printf "%.2f", a[int((NR+1)/2)]}'; }
printf "%-40s %8s %10s %7s\n" jar wall_s first_row_s cpu_s
for i in "${!jars[@]}"; do
  printf "%-40s %8s %10s %7s\n" "${jars[$i]}" "$(cut -d' ' -f1 "$results/$i" | median)" "$(cut -d' ' -f2 "$results/$i" | median)" \
      "$(cut -d' ' -f3 "$results/$i" | median)"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
