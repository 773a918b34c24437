#!/usr/bin/env bash
# Verifies a running hub's checkpoint, an inclusion proof, a consistency
# proof and its tiles with Go's golang.org/x/mod/sumdb/{note,tlog}, an
# implementation independent of ours. Installs Debian's packages if needed;
# skips (exit 0, with a message) only if they cannot be installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
gopath=/usr/share/gocode
if ! command -v go >/dev/null || [[ ! -d $gopath/src/golang.org/x/mod/sumdb/tlog ]]; then
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-golang-x-mod-dev; } >/dev/null 2>&1; then
        echo "SKIPPED: Go interop check: cannot install golang-go and golang-golang-x-mod-dev"
        exit 0
    fi
fi
if [[ -z ${CROSSROADS_BIN:-} ]]; then
    # Built (or found up to date) here, wherever cargo puts its target folder.
    (cd "$root" && cargo build -q -p hub --bin crossroads)
    target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    CROSSROADS_BIN="$target_dir/debug/crossroads"
fi
bin="$CROSSROADS_BIN"
work="$(mktemp -d)"
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export CROSSROADS_DATA_DIR="$work/data" CROSSROADS_LOG_ORIGIN="interop.example/log"
unset CROSSROADS_DATABASE_URL CROSSROADS_CONFIG
token=""
for i in $(seq 1 299); do
    token="$("$bin" operator token --name "auditor-$i" 2>/dev/null)"
done
key="$("$bin" audit verifier-key 2>/dev/null)"
# A person: the entry of the registration names them by commitment.
person="$("$bin" person register --given-names Anna --family-name Peeters --birth-date 1985-07-30 2>/dev/null | sed -n 's/^common ID: *//p' | tr -d '.-')"
[[ -n $person ]] || { echo "cannot register a person"; exit 1; }
"$bin" serve --listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/out" && break; sleep 0.1; done
url="$(sed -n 's/^crossroads listening on //p' "$work/out" | head -1)"
[[ -n $url ]] || { cat "$work/err"; exit 1; }
# A checkpoint seen before 20 more entries: the later one must extend it.
curl -fsS "$url/log/checkpoint" >"$work/old.note"
for i in $(seq 1 20); do "$bin" operator token --name "late-$i" >/dev/null 2>&1; done
cd "$here"
GO111MODULE=off GOPATH="$gopath" GOFLAGS= go run main.go -url "$url" -key "$key" -token "$token" -seq 41 -old "$work/old.note" -person "$person"
echo "Go interop check passed"
