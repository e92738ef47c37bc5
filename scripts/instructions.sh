#!/usr/bin/env bash
# Instructions per request of the load benchmark's rows, counted by callgrind:
# a figure that, unlike requests/s, does not depend on how busy the machine is,
# so it can be compared across commits and machines.
#
#   scripts/instructions.sh [row ...]    # default: every memory and cookie row
#
# For each row, serves the row's app (`load-bench serve <row>`) under
# `valgrind --tool=callgrind` twice, drives it with INSTRUCTIONS_N1 (default
# 2000) and then INSTRUCTIONS_N2 (default 12000) requests (`load-bench drive`,
# BENCH_CONNECTIONS connections, default 4), reads each run's total Ir and
# reports (Ir(N2) - Ir(N1)) / (N2 - N1): start-up, warm-up and shutdown cancel
# out. Only the server runs under callgrind; the load generator runs natively.
# The N2 run's profile of each row stays in target/instructions/<row>.callgrind.
#
# Fails, naming the row, if a server answers anything but 2xx.
set -euo pipefail

cd "$(dirname "$0")/.."

n1=${INSTRUCTIONS_N1:-2000}
n2=${INSTRUCTIONS_N2:-12000}
if ! [[ $n1 =~ ^[0-9]+$ && $n2 =~ ^[0-9]+$ ]] || ((n2 <= n1)); then
    echo "INSTRUCTIONS_N1 and INSTRUCTIONS_N2 must be whole numbers, N2 larger than N1" >&2
    exit 2
fi
export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-4}

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    echo "valgrind is missing; installing it" >&2
    apt-get install -y valgrind >&2 || { apt-get update >&2 && apt-get install -y valgrind >&2; }
fi

cargo build --release -p examples --bin load-bench
bin=target/release/load-bench
out=target/instructions
mkdir -p "$out"

if (($# > 0)); then
    rows=("$@")
else
    # The Redis rows need a server; name them to measure them.
    mapfile -t rows < <(env -u REDIS_URL "$bin" rows | cut -f1)
fi
known=$("$bin" rows | cut -f1)
for row in "${rows[@]}"; do
    if ! grep -qx -- "$row" <<<"$known"; then
        echo "no row \`$row\` (with REDIS_URL set for the Redis rows); the rows are:" >&2
        "$bin" rows >&2
        exit 2
    fi
done

work=$(mktemp -d)
server=
ir=
cleanup() {
    if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# measure ROW REQUESTS PROFILE: serves ROW under callgrind into PROFILE, sends
# it REQUESTS requests, stops it, and sets `ir` to the run's total Ir.
measure() {
    local row=$1 requests=$2 profile=$3 log=$work/valgrind.log input=$work/input port=
    rm -f "$input" "$work/port"
    mkfifo "$input"
    # The server stops when its standard input ends: the fifo's only writer
    # is this script, so it stops when told and also if this script dies,
    # with no signal to deliver through valgrind.
    valgrind --tool=callgrind --callgrind-out-file="$profile" --log-file="$log" \
        "$bin" serve "$row" 0 <"$input" >"$work/port" 2>"$work/server.err" &
    server=$!
    exec {keep}>"$input"
    for _ in $(seq 600); do
        port=$(head -n1 "$work/port" 2>/dev/null || true)
        if [[ -n $port ]] || ! kill -0 "$server" 2>/dev/null; then break; fi
        sleep 0.2
    done
    if [[ -z $port ]]; then
        exec {keep}>&-
        echo "the server of \`$row\` did not start:" >&2
        cat "$work/server.err" "$log" >&2
        exit 1
    fi
    if ! "$bin" drive "$port" "$requests" >"$work/drive" 2>&1; then
        exec {keep}>&-
        echo "the server of \`$row\` did not answer every request with 2xx:" >&2
        cat "$work/drive" >&2
        exit 1
    fi
    echo "  $row, $requests requests: $(cat "$work/drive")" >&2
    exec {keep}>&-
    if ! wait "$server"; then
        server=
        echo "the server of \`$row\` did not stop cleanly:" >&2
        cat "$work/server.err" "$log" >&2
        exit 1
    fi
    server=
    # callgrind writes the sum of all events as `summary:` (and `totals:`).
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$profile")
    if ! [[ $ir =~ ^[0-9]+$ ]]; then
        echo "no total Ir in $profile" >&2
        exit 1
    fi
}

declare -A per_request
for row in "${rows[@]}"; do
    measure "$row" "$n1" "$work/first.callgrind"
    first=$ir
    measure "$row" "$n2" "$out/$row.callgrind"
    per_request[$row]=$(((ir - first) / (n2 - n1)))
done

echo
echo "instructions per request, (Ir($n2 requests) - Ir($n1 requests)) / $((n2 - n1)), $BENCH_CONNECTIONS connections"
echo
echo "| row | instructions/request | vs bare |"
echo "|---|---:|---:|"
for row in "${rows[@]}"; do
    ratio=-
    if [[ -n ${per_request[bare]:-} ]]; then
        ratio=$(awk -v a="${per_request[$row]}" -v b="${per_request[bare]}" 'BEGIN { printf "%.2fx", a / b }')
    fi
    echo "| $row | ${per_request[$row]} | $ratio |"
done
echo
echo "Profiles of the $n2-request runs (start-up included):"
for row in "${rows[@]}"; do
    echo "  callgrind_annotate --inclusive=yes $out/$row.callgrind | less"
done
