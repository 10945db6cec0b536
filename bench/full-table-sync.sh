#!/usr/bin/env bash
# Measures a FULL_TABLE sync of N generated rows into the postgres destination, next to the physical limit on
# the same server in the same run: psql "COPY (SELECT * FROM t) TO STDOUT" > /dev/null.
#
#   bench/full-table-sync.sh [rows]        (default 1000000)
#
# Needs: a built jar (mvn -q -DskipTests package), psql on the PATH, and a PostgreSQL superuser URL in
# BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres). Creates and drops databases
# bench_src and bench_dst there. Prints rows/s, MB/s and the peak RSS of the pgsource JVM.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
PG=${BENCH_PG:-postgresql://postgres@127.0.0.1:5432/postgres}
JAR=target/pgsource.jar
[ -f "$JAR" ] || { echo "build first: mvn -q -DskipTests package" >&2; exit 2; }
base=${PG%/*}
host=$(psql "$PG" -Atc "select coalesce(inet_server_addr()::text, 'localhost')" | sed 's|/.*||')
port=$(psql "$PG" -Atc "show port")
user=$(psql "$PG" -Atc "select current_user")

psql "$PG" -qc "DROP DATABASE IF EXISTS bench_src" -c "DROP DATABASE IF EXISTS bench_dst" -c "CREATE DATABASE bench_src" -c "CREATE DATABASE bench_dst"
psql "$base/bench_src" -q <<SQL
CREATE TABLE public.orders (
  id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, amount numeric(12,2) NOT NULL,
  note text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, attrs jsonb, paid boolean NOT NULL);
INSERT INTO public.orders
SELECT g, (g * 7) % 100000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 100.0,
       repeat(md5(g::text), 4)::varchar(100), now() - g * interval '1 second', now(), jsonb_build_object('k', g % 10, 'tag', 'x'), g % 2 = 0
FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE public.orders;
SQL
bytes=$(psql "$base/bench_src" -Atc "select pg_total_relation_size('public.orders')")

echo "== limit: psql COPY (SELECT * FROM orders) TO STDOUT > /dev/null"
t0=$(date +%s.%N)
psql "$base/bench_src" -qc "COPY (SELECT * FROM public.orders) TO STDOUT" > /dev/null
t1=$(date +%s.%N)
copy_s=$(echo "$t1 - $t0" | bc -l)

echo "== limit: psql COPY TO STDOUT | psql COPY FROM STDIN (into an empty copy with the same primary key)"
psql "$base/bench_dst" -qc "CREATE TABLE public.orders_pipe (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
    amount numeric(12,2) NOT NULL, note text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, attrs jsonb, paid boolean NOT NULL)"
t0=$(date +%s.%N)
psql "$base/bench_src" -qc "COPY public.orders TO STDOUT" | psql "$base/bench_dst" -qc "COPY public.orders_pipe FROM STDIN"
t1=$(date +%s.%N)
pipe_s=$(echo "$t1 - $t0" | bc -l)

echo "== pgsource: FULL_TABLE into the postgres destination (sync.once)"
t0=$(date +%s.%N)
SOURCE_HOST=$host SOURCE_PORT=$port SOURCE_DATABASE=bench_src SOURCE_USERNAME=$user SOURCE_SCHEMA=public \
DESTINATION=postgres DESTINATION_URL="jdbc:postgresql://$host:$port/bench_dst" DESTINATION_USERNAME=$user SYNC_ONCE=true \
  /usr/bin/time -f "%M" -o /tmp/pgsource-bench-rss java ${BENCH_JAVA_OPTS:--Xmx256m} -jar "$JAR" > /tmp/pgsource-bench.log 2>&1 \
  || { tail -20 /tmp/pgsource-bench.log; exit 1; }
t1=$(date +%s.%N)
sync_s=$(echo "$t1 - $t0" | bc -l)
rss_kb=$(tail -1 /tmp/pgsource-bench-rss)
copied=$(psql "$base/bench_dst" -Atc "select count(*) from public.orders")
[ "$copied" = "$ROWS" ] || { echo "destination has $copied rows, expected $ROWS" >&2; exit 1; }

printf '\n%-48s %10s %10s %9s %8s\n' "run ($ROWS rows, table $((bytes / 1048576)) MB)" "seconds" "rows/s" "MB/s" "ratio"
printf '%-48s %10.2f %10.0f %9.1f %8s\n' "psql COPY TO STDOUT > /dev/null" "$copy_s" "$(echo "$ROWS / $copy_s" | bc -l)" "$(echo "$bytes / 1048576 / $copy_s" | bc -l)" "1.00"
printf '%-48s %10.2f %10.0f %9.1f %8s\n' "psql COPY TO STDOUT | psql COPY FROM STDIN" "$pipe_s" "$(echo "$ROWS / $pipe_s" | bc -l)" "$(echo "$bytes / 1048576 / $pipe_s" | bc -l)" "-"
printf '%-48s %10.2f %10.0f %9.1f %8.2f\n' "pgsource FULL_TABLE -> postgres (JVM start incl.)" "$sync_s" "$(echo "$ROWS / $sync_s" | bc -l)" "$(echo "$bytes / 1048576 / $sync_s" | bc -l)" "$(echo "$copy_s / $sync_s" | bc -l)"
echo "ratio to the COPY pipe: $(echo "$pipe_s / $sync_s" | bc -l | cut -c1-4)"
echo "peak RSS of the pgsource JVM: $((rss_kb / 1024)) MB (${BENCH_JAVA_OPTS:--Xmx256m})"
psql "$PG" -qc "DROP DATABASE bench_src" -c "DROP DATABASE bench_dst"
