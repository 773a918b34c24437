# Shared by the benchmark scripts: `source "$(dirname "$0")/common.sh"`.

# Waits for a line starting with $2 in file $1; prints the rest of it.
wait_line() {
    for _ in $(seq 1 300); do
        if line=$(grep -m1 "^$2" "$1" 2>/dev/null); then
            echo "${line#"$2"}" | awk '{print $1}'
            return 0
        fi
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1" >&2
    cat "$1" >&2
    return 1
}
