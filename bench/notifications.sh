#!/usr/bin/env bash
# Change notifications through the hub on SQLite: delivered per second and
# change-to-delivery latency, beside lookups, at a few publishing rates.
#
#   bench/notifications.sh                        # R = 100, 300, 500 changes/s, 30 s each
#   RATES=300 DURATION=20 bench/notifications.sh
#   PERSONS=1000 SUBSCRIBERS=10 LOOKUPS=8 bench/notifications.sh
#   SKIP_BUILD=1 bench/notifications.sh           # use the release binaries as built
#   PROFILE=1 bench/notifications.sh              # also `perf record` the hub at the last rate
#   HUB_BIN=path/to/crossroads bench/notifications.sh
#   KEEP=1 bench/notifications.sh                 # keep the work directory (hub.log, perf.data)
#
# One publishing agency (the source of person.address) and SUBSCRIBERS
# consumer agencies, each holding a `file` reference on every one of
# PERSONS persons and authorized without consent; the first half subscribe
# by pull (a long-polling reader each in the load generator, reading on
# with the cursor), the others by webhook (a minimal receiver each in the
# load generator, which records arrivals without verifying the signature).
# At each rate the provider publishes changes open loop for DURATION
# seconds, while LOOKUPS lookups are kept in flight through the hub
# (against the agency simulator); then the run waits up to DRAIN seconds
# for the last notifications. The hub runs on SQLite with the audit log
# durable (the default). perf for PROFILE (apt-get install linux-perf).
set -euo pipefail

RATES=${RATES:-100,300,500}
DURATION=${DURATION:-30}
DRAIN=${DRAIN:-30}
PERSONS=${PERSONS:-1000}
SUBSCRIBERS=${SUBSCRIBERS:-10}
LOOKUPS=${LOOKUPS:-8}
PROVIDER=BE-0200000001

cd "$(dirname "$0")/.."
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
    if [ "${KEEP:-0}" = 1 ]; then echo "kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# shellcheck source=bench/common.sh
source bench/common.sh

export CROSSROADS_DATA_DIR=$WORK/data
export CROSSROADS_TRUST_ANCHORS_FILE=$WORK/ca.pem
export CROSSROADS_ALLOW_INSECURE_PROVIDERS=true
export CROSSROADS_ALLOW_INSECURE_WEBHOOKS=true
export CROSSROADS_WEBHOOK_ALLOW_PRIVATE=true
"$LOADGEN" prepare --dir "$WORK" --subscribers "$SUBSCRIBERS"
"$HUB_BIN" migrate >/dev/null 2>&1
OPERATOR=$("$HUB_BIN" operator token --name bench 2>/dev/null | tail -n1)

echo "== starting the hub and the simulator"
"$HUB_BIN" serve --listen 127.0.0.1:0 >"$WORK/hub.out" 2>"$WORK/hub.log" &
HUB_PID=$!
PIDS+=("$HUB_PID")
HUB=$(wait_line "$WORK/hub.out" "crossroads listening on ")

SIM_PORT=$("$LOADGEN" free-port)
echo "== setting up $PERSONS persons, $SUBSCRIBERS subscribers with a file on each"
LOADGEN_OPERATOR_TOKEN=$OPERATOR "$LOADGEN" setup --dir "$WORK" --hub "$HUB" \
    --endpoint "http://127.0.0.1:$SIM_PORT" --persons "$PERSONS" --consents 0 \
    --subscribers "$SUBSCRIBERS" --files
"$BIN/crossroads" agency-sim --id "$PROVIDER" --hub "$HUB" --records "$WORK/records.json" \
    --listen "127.0.0.1:$SIM_PORT" >"$WORK/sim.out" 2>"$WORK/sim.log" &
PIDS+=("$!")
wait_line "$WORK/sim.out" "agency-sim $PROVIDER listening on " >/dev/null

if [ "${PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
    # perf records the hub for 12 s from 5 s into the last rate.
    LAST=${RATES##*,}
    (
        for _ in $(seq 1 6000); do
            grep -q "^starting: rate=$LAST/s" "$WORK/results.txt" 2>/dev/null && break
            sleep 0.1
        done
        sleep 5
        perf record -F 499 -g -p "$HUB_PID" -o "$WORK/perf.data" -- sleep 12 >/dev/null 2>&1 || true
    ) &
    PERF=$!
fi

echo "== publishing at $RATES changes/s, ${DURATION} s each, $LOOKUPS lookups in flight"
"$LOADGEN" notify --dir "$WORK" --url "$HUB" --subscribers "$SUBSCRIBERS" --rates "$RATES" \
    --duration "$DURATION" --drain "$DRAIN" --lookups "$LOOKUPS" --hub-pid "$HUB_PID" |
    tee "$WORK/results.txt"

if [ -n "${PERF:-}" ]; then
    wait "$PERF" || true
    echo "== perf: the hub at $LAST changes/s"
    for sort in comm dso sym; do
        perf report -i "$WORK/perf.data" --no-children --sort $sort --stdio -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -30 || true
    done
fi

echo "== results"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
grep -E '^(notifications|lookups|hub)' "$WORK/results.txt" || true
echo "hub memory: peak $(awk '/VmHWM/ {print $2, $3}' "/proc/$HUB_PID/status") (VmHWM), now $(awk '/VmRSS/ {print $2, $3}' "/proc/$HUB_PID/status")"
echo "goal: >= 3000 deliveries/s with p99 <= 2000 ms"
exit 0
