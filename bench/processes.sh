#!/usr/bin/env bash
# Two hub processes on one PostgreSQL database behind nginx, against one
# process behind the same nginx, in one run: permitted lookups per second
# and latency at 64 clients, errors, and one gapless audit log afterwards
# (`crossroads audit verify` recomputes the whole tree from the stored
# entries).
#
#   bench/processes.sh                     # 64 clients, 20 s per measurement
#   CONCURRENCY=32 DURATION=30 bench/processes.sh
#   SKIP_BUILD=1 bench/processes.sh        # use the release binaries as built
#   POSTGRES=postgres://postgres@127.0.0.1:5432 bench/processes.sh
#
# Both processes share the database, the data directory (the hub's keys)
# and the public URL (nginx's), as behind any load balancer. The provider
# is one `crossroads agency-sim`. Needs nginx and a PostgreSQL server where
# the user may create a database (dropped at the end).
set -euo pipefail

CONCURRENCY=${CONCURRENCY:-64}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
PERSONS=${PERSONS:-200}
POSTGRES=${POSTGRES:-postgres://postgres@127.0.0.1:5432}
PROVIDER=BE-0200000001

cd "$(dirname "$0")/.."
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
    echo "nginx is missing: apt-get install -y nginx" >&2
    exit 1
fi
command -v psql >/dev/null || { echo "psql is missing" >&2; exit 1; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building (release)"
    cargo build --release --quiet -p hub -p loadgen --bin crossroads --bin loadgen
fi
BIN=$(pwd)/target/release
LOADGEN=$BIN/loadgen
HUB_BIN=${HUB_BIN:-$BIN/crossroads}

WORK=$(mktemp -d)
DB=crossroads_bench_$$
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$POSTGRES/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/common.sh
source bench/common.sh

psql "$POSTGRES/postgres" -qc "CREATE DATABASE $DB" >/dev/null
HUB1_PORT=$("$LOADGEN" free-port)
HUB2_PORT=$("$LOADGEN" free-port)
ONE_PORT=$("$LOADGEN" free-port)
TWO_PORT=$("$LOADGEN" free-port)
PUBLIC=http://127.0.0.1:$TWO_PORT

export CROSSROADS_DATA_DIR=$WORK/data
export CROSSROADS_DATABASE_URL=$POSTGRES/$DB
export CROSSROADS_PUBLIC_URL=$PUBLIC
export CROSSROADS_TRUST_ANCHORS_FILE=$WORK/ca.pem
export CROSSROADS_ALLOW_INSECURE_PROVIDERS=true
"$LOADGEN" prepare --dir "$WORK"
"$HUB_BIN" migrate >/dev/null 2>&1
OPERATOR=$("$HUB_BIN" operator token --name bench 2>/dev/null | tail -n1)

echo "== starting two hubs, nginx in front of one and of both, and the simulator"
for port in "$HUB1_PORT" "$HUB2_PORT"; do
    "$HUB_BIN" serve --listen "127.0.0.1:$port" --no-migrate >"$WORK/hub-$port.out" 2>"$WORK/hub-$port.log" &
    PIDS+=("$!")
    wait_line "$WORK/hub-$port.out" "crossroads listening on " >/dev/null
done

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    upstream one { server 127.0.0.1:$HUB1_PORT; keepalive 64; }
    upstream two { server 127.0.0.1:$HUB1_PORT; server 127.0.0.1:$HUB2_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$ONE_PORT;
        location / { proxy_pass http://one; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server {
        listen 127.0.0.1:$TWO_PORT;
        location / { proxy_pass http://two; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>"$WORK/nginx/logs/stderr" &
PIDS+=("$!")
sleep 0.5

SIM_PORT=$("$LOADGEN" free-port)
LOADGEN_OPERATOR_TOKEN=$OPERATOR "$LOADGEN" setup --dir "$WORK" --hub "$PUBLIC" \
    --endpoint "http://127.0.0.1:$SIM_PORT" --persons "$PERSONS" --consents 0
"$BIN/crossroads" agency-sim --id "$PROVIDER" --hub "$PUBLIC" --records "$WORK/records.json" \
    --listen "127.0.0.1:$SIM_PORT" >"$WORK/sim.out" 2>"$WORK/sim.log" &
PIDS+=("$!")
wait_line "$WORK/sim.out" "agency-sim $PROVIDER listening on " >/dev/null

run() {
    "$LOADGEN" run --dir "$WORK" --mode hub --concurrency "$CONCURRENCY" --duration "$DURATION" \
        --warmup "$WARMUP" "$@"
}

echo "== $CONCURRENCY clients, ${DURATION} s each"
ONE_LINE=$(run --url "http://127.0.0.1:$ONE_PORT" --issuer "$PUBLIC" --label one-process)
echo "$ONE_LINE"
TWO_LINE=$(run --url "$PUBLIC" --label two-processes)
echo "$TWO_LINE"

echo "== the audit log, from the database"
VERIFIED=$("$HUB_BIN" audit verify 2>&1 | tail -n1)
echo "$VERIFIED"

rps() { echo "$1" | sed -n 's/.* rps=\([0-9.]*\).*/\1/p'; }
errors() { echo "$1" | sed -n 's/.* errors=\([0-9]*\).*/\1/p'; }
echo "== results"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "$ONE_LINE"
echo "$TWO_LINE"
awk -v a="$(rps "$TWO_LINE")" -v b="$(rps "$ONE_LINE")" \
    'BEGIN { if (b > 0) printf "two processes / one: %.2f (goal >= 0.9)\n", a / b }'
echo "errors: $(errors "$ONE_LINE") and $(errors "$TWO_LINE") (goal 0)"
echo "log: $VERIFIED"
case "$VERIFIED" in verified:*) exit 0 ;; *) exit 1 ;; esac
