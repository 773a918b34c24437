#!/usr/bin/env bash
# The citizen portal's browser test: Debian's Chromium driven by
# playwright-core, with axe-core. Screenshots go to target/browser-screenshots/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ ! -x /usr/bin/chromium ]]; then
    echo "installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

cargo build -p hub --bin crossroads
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
rm -rf "$root/target/browser-screenshots"
node "$here/portal.test.mjs" "$target_dir/debug/crossroads"
echo "screenshots: $(ls "$root/target/browser-screenshots" | wc -l) in target/browser-screenshots/"
