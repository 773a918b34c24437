#!/usr/bin/env bash
# Permitted lookups per second and latency through the hub, against the same
# agency simulator behind a plain nginx reverse proxy, in one run on one
# machine.
#
#   bench/lookups.sh                       # 64 clients, 20 s per measurement
#   STEADY_SHARE=0.5 bench/lookups.sh      # the steady load, as a share of the hub's maximum
#   CONCURRENCY=32 DURATION=30 bench/lookups.sh
#   PROFILE=1 bench/lookups.sh             # also `perf record` the hub under load
#   SKIP_BUILD=1 bench/lookups.sh          # use the release binaries as built
#   CONSENTS=0 bench/lookups.sh            # no lookup under a consent
#   HUB_BIN=path/to/crossroads bench/lookups.sh   # measure another hub build
#   DATA_DIR=path bench/lookups.sh         # on an existing data directory, e.g. one
#                                          # `crossroads populate` filled (once: the
#                                          # set-up adds its agencies to it)
#
# By default half of the persons are looked up under a consent (`max_per`,
# for a purpose whose authorization requires it): each such lookup reserves
# a use of the consent before the provider is called.
#
# The hub runs on SQLite (a file in a fresh data directory) with the audit
# log durable (the default): every lookup is in the log, fsynced, before it
# is answered. Needs nginx (Debian: apt-get install nginx); perf for PROFILE.
set -euo pipefail

CONCURRENCY=${CONCURRENCY:-64}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
PERSONS=${PERSONS:-200}
CONSENTS=${CONSENTS:-$((PERSONS / 2))}
PROVIDER=BE-0200000001

cd "$(dirname "$0")/.."
NGINX=$(command -v nginx || true)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
if [ -z "$NGINX" ]; then
    echo "nginx is missing: apt-get install -y nginx" >&2
    exit 1
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building (release)"
    cargo build --release --quiet -p hub -p loadgen --bin crossroads --bin loadgen
fi
BIN=$(pwd)/target/release
LOADGEN=$BIN/loadgen
HUB_BIN=${HUB_BIN:-$BIN/crossroads}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/common.sh
source bench/common.sh

DATA=${DATA_DIR:-$WORK/data}
export CROSSROADS_DATA_DIR=$DATA
export CROSSROADS_TRUST_ANCHORS_FILE=$WORK/ca.pem
export CROSSROADS_ALLOW_INSECURE_PROVIDERS=true
# The set-up activates and signs in a citizen per consent from one address,
# faster than the per-address limits allow.
export CROSSROADS_RATE_LIMIT_SIGN_IN_PER_MINUTE=100000
export CROSSROADS_RATE_LIMIT_CONSENT_REQUESTS_PER_MINUTE=100000
"$LOADGEN" prepare --dir "$WORK"
"$HUB_BIN" migrate >/dev/null 2>&1
OPERATOR=$("$HUB_BIN" operator token --name bench 2>/dev/null | tail -n1)

echo "== starting the hub and the simulator"
"$HUB_BIN" serve --listen 127.0.0.1:0 >"$WORK/hub.out" 2>"$WORK/hub.log" &
HUB_PID=$!
PIDS+=("$HUB_PID")
HUB=$(wait_line "$WORK/hub.out" "crossroads listening on ")

SIM_PORT=$("$LOADGEN" free-port)
LOADGEN_OPERATOR_TOKEN=$OPERATOR "$LOADGEN" setup --dir "$WORK" --hub "$HUB" \
    --endpoint "http://127.0.0.1:$SIM_PORT" --persons "$PERSONS" --consents "$CONSENTS"
"$BIN/crossroads" agency-sim --id "$PROVIDER" --hub "$HUB" --records "$WORK/records.json" \
    --listen "127.0.0.1:$SIM_PORT" >"$WORK/sim.out" 2>"$WORK/sim.log" &
PIDS+=("$!")
SIM=$(wait_line "$WORK/sim.out" "agency-sim $PROVIDER listening on ")

NGINX_PORT=$("$LOADGEN" free-port)
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
    upstream simulator {
        server 127.0.0.1:$SIM_PORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://simulator;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>"$WORK/nginx/logs/stderr" &
PIDS+=("$!")
sleep 0.5

# CPU seconds (user + system) used so far by the processes $@ and their
# threads.
cpu() {
    local ticks=0 pid
    for pid in "$@"; do
        ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz }'
}
# Microseconds of CPU per answered request, from `cpu` before and after
# a result line.
per_request() {
    local ok
    ok=$(echo "$3" | sed -n 's/.* ok=\([0-9]*\).*/\1/p')
    awk -v a="$1" -v b="$2" -v n="$ok" -v w="$WARMUP" -v d="$DURATION" \
        'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1e6 / (n * (w + d) / d) }'
}

run() {
    "$LOADGEN" run --dir "$WORK" --concurrency "$CONCURRENCY" --duration "$DURATION" \
        --warmup "$WARMUP" "$@"
}

NGINX_MASTER=$(cat "$WORK/nginx/nginx.pid")
NGINX_PIDS="$NGINX_MASTER $(pgrep -P "$NGINX_MASTER" | tr '\n' ' ')"
echo "== $CONCURRENCY clients, ${DURATION} s each"
BEFORE=$(cpu "$HUB_PID")
HUB_LINE=$(run --mode hub --url "$HUB" --label hub)
HUB_CPU=$(per_request "$BEFORE" "$(cpu "$HUB_PID")" "$HUB_LINE")
echo "$HUB_LINE hub_cpu_us=$HUB_CPU"
# shellcheck disable=SC2086
BEFORE=$(cpu $NGINX_PIDS)
NGINX_LINE=$(run --mode direct --url "http://127.0.0.1:$NGINX_PORT" --issuer "$HUB" \
    --keys "$DATA/keys" --label nginx)
# shellcheck disable=SC2086
NGINX_CPU=$(per_request "$BEFORE" "$(cpu $NGINX_PIDS)" "$NGINX_LINE")
echo "$NGINX_LINE nginx_cpu_us=$NGINX_CPU"
run --mode direct --url "$SIM" --issuer "$HUB" --keys "$DATA/keys" --label simulator

# Latency at a steady offered load: an open loop at a share of the maximum
# rate the hub just reached, each request timed from when it was due.
rps() { echo "$1" | sed -n 's/.* rps=\([0-9.]*\).*/\1/p'; }
HUB_RPS=$(rps "$HUB_LINE")
NGINX_RPS=$(rps "$NGINX_LINE")
STEADY_RATE=$(awk -v h="$HUB_RPS" -v s="${STEADY_SHARE:-0.5}" 'BEGIN { printf "%.0f", h * s }')
echo "== steady load: $STEADY_RATE lookups/s offered for ${DURATION} s"
STEADY_LINE=$(run --mode hub --url "$HUB" --rate "$STEADY_RATE" --label hub-steady)
echo "$STEADY_LINE"

if [ "${PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
    echo "== perf: the hub under the same load"
    "$LOADGEN" run --dir "$WORK" --concurrency "$CONCURRENCY" --warmup 2 --duration 12 \
        --mode hub --url "$HUB" --label hub-profiled &
    LOAD=$!
    sleep 3
    perf record -F 499 -g -p "$HUB_PID" -o "$WORK/perf.data" -- sleep 8 >/dev/null 2>&1 || true
    wait "$LOAD" || true
    perf report -i "$WORK/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -12 || true
    perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -12 || true
    perf report -i "$WORK/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
        grep -v '^#' | grep -v '^$' | head -40 || true
fi

HWM=$(awk '/VmHWM/ {print $2, $3}' "/proc/$HUB_PID/status")
RSS=$(awk '/VmRSS/ {print $2, $3}' "/proc/$HUB_PID/status")

echo "== results"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "$HUB_LINE"
echo "$NGINX_LINE"
echo "$STEADY_LINE"
awk -v h="$HUB_RPS" -v n="$NGINX_RPS" 'BEGIN { if (n > 0) printf "throughput ratio hub/nginx: %.2f (goal >= 0.6)\n", h / n }'
echo "CPU per request, warm-up included: hub $HUB_CPU µs a lookup, nginx $NGINX_CPU µs a proxied request"
P99=$(echo "$STEADY_LINE" | sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p')
echo "p99 at the steady load ($STEADY_RATE/s): $P99 ms (goal <= 20 ms)"
echo "hub memory: peak $HWM (VmHWM), now $RSS (goal <= 200 MiB)"
exit 0
