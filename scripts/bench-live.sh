#!/usr/bin/env bash
# Live fan-out benchmark, one `srs serve` (SQLite, in-process bus) during a recording, one run:
#   200 sensors post in real time (10 ECG at 250 Hz in batches, 190 at 5 Hz one by one);
#   1. without live clients: ingest's one-sample req/s (wrk, as bench-ingest.sh) beside them;
#   2. with 1,000 live clients (all on the activity feed, 100 watching the 10 ECG sensors at
#      50 Hz): what the clients measured — frames/s, latency (p50, p99) from the frames' own
#      stamps — first under the lab's load alone, then beside the same wrk run; and the
#      server's RSS per connection.
# Prints the figures and ingest's ratio with/without clients. BENCH_SECS sets each run's length
# (default 15), BENCH_CLIENTS the clients (1000), BENCH_VALUE_CLIENTS the watchers (100).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${BENCH_SECS:-15}
CLIENTS=${BENCH_CLIENTS:-1000}
VALUE_CLIENTS=${BENCH_VALUE_CLIENTS:-100}
PORT=18090

command -v wrk >/dev/null 2>&1 || {
    echo "installing wrk from the OS packages"
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -q wrk >/dev/null; else sudo apt-get install -y -q wrk >/dev/null; fi
}
# Each live client is a socket on both ends.
ulimit -n "$(ulimit -Hn)"

cargo build --release -q --bin srs --bin srs-live-load
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# The example sensors (wrk posts ecg-1) and the bench's 200.
python3 - config/sensors.example.json "$WORK/sensors.json" <<'PY'
import json, sys
sensors = json.load(open(sys.argv[1]))
sensors["sensor_types"] += [
    {"name": "bench_ecg", "fields": [{"name": n, "type": "f64"} for n in ("lead_i", "lead_ii", "heart_rate")]},
    {"name": "bench_env", "fields": [{"name": n, "type": "f64"} for n in ("temperature_c", "humidity_pct")]},
]
sensors["sensors"] += [{"id": f"bench-ecg-{i}", "type": "bench_ecg"} for i in range(10)]
sensors["sensors"] += [{"id": f"bench-env-{i}", "type": "bench_env"} for i in range(190)]
json.dump(sensors, open(sys.argv[2], "w"))
PY

SRS="$ROOT/target/release/srs"
LOAD="$ROOT/target/release/srs-live-load"
URL="http://127.0.0.1:$PORT"
export RUST_LOG=warn SRS__SENSORS__FILE="$WORK/sensors.json"
echo "bench password" | (cd "$WORK" && "$SRS" --data-dir srs user add --username bench --role admin --password-stdin >/dev/null)
(cd "$WORK" && exec "$SRS" serve --data-dir srs --listen "127.0.0.1:$PORT" >/dev/null) & SERVER=$!
PIDS+=("$SERVER")
for _ in $(seq 100); do curl -s -o /dev/null "$URL/healthz" && break; sleep 0.1; done
scripts/lab-setup.py "$URL" bench "bench password" >/dev/null
TOKEN=$(curl -s -H 'Content-Type: application/json' -d '{"username": "bench", "password": "bench password"}' "$URL/api/v1/auth/login" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

wrk_run() {
    local out errors
    out=$(SAMPLES=1 wrk -t2 -c64 -d"${SECS}s" -s scripts/bench/srs-samples.lua "$URL/api/v1/samples")
    errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    if [ -n "$errors" ]; then echo "  warning: $errors non-2xx answers" >&2; fi
    echo "$out" | awk '/Requests\/sec/ {print $2}'
}

# run_load OUT ARGS...: the load tool in the background (its report in OUT); once it wrote its
# ready file, a wrk run, whose req/s go to OUT.wrk. Not in a subshell, so the exit trap knows
# the tool's pid.
run_load() {
    local out=$1; shift
    rm -f "$WORK/ready"
    "$LOAD" --url "$URL" --token "$TOKEN" --secs "$SECS" --server-pid "$SERVER" --ready-file "$WORK/ready" "$@" > "$out" & LOADER=$!
    PIDS+=("$LOADER")
    for _ in $(seq 1200); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
    [ -f "$WORK/ready" ] || { echo "the load never got ready" >&2; exit 1; }
    wrk_run > "$out.wrk"
    wait "$LOADER"
}

# 1. Sensors only; 2. sensors and live clients (measured alone first, then beside wrk).
run_load "$WORK/sensors.txt"
run_load "$WORK/live.txt" --clients "$CLIENTS" --value-clients "$VALUE_CLIENTS"
without=$(cat "$WORK/sensors.txt.wrk")
with=$(cat "$WORK/live.txt.wrk")

echo "live benchmark: one srs serve, ${SECS} s per run, one machine (clients, sensors and wrk share its 2 cores)"
cat "$WORK/live.txt" "$WORK/sensors.txt"
python3 - "$without" "$with" <<'PY'
import sys
without, with_clients = map(float, sys.argv[1:3])
print(f"  ingest, 1 sample/request, no live clients   {without:>10,.0f} req/s")
print(f"  ingest, 1 sample/request, with live clients {with_clients:>10,.0f} req/s   {with_clients / without:.2f}x")
PY
