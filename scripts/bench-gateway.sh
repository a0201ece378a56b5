#!/usr/bin/env bash
# Gateway benchmark, one run on this machine, release builds of the dev-up topology
# (scripts/dev-up.sh: two ingest replicas behind Traefik) during a recording:
#   1. the lab's k6 scenario (tests/load/srs-scenario.js: 50 users, every sensor type every
#      500 ms, 60 s) through Traefik, then directly against one ingest replica: p50, p99,
#      requests/s, and the gateway's overhead as ratios;
#   2. wrk, one sample per request: directly against one ingest replica, through Traefik to
#      that one replica, and through Traefik to both (the scaling ratio); and 1,000 samples per
#      request directly and through Traefik (what the gateway costs a batching sensor).
# BENCH_K6_DURATION (60s) and BENCH_K6_VUS (50) size the k6 runs; BENCH_SECS (15) and
# BENCH_CONNECTIONS (64) the wrk runs.
set -euo pipefail
cd "$(dirname "$0")/.."
AMQP_URL=${SRS_AMQP_URL:-}
source scripts/lib/setup.sh
SECS=${BENCH_SECS:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
K6_DURATION=${BENCH_K6_DURATION:-60s}
K6_VUS=${BENCH_K6_VUS:-50}

command -v wrk >/dev/null || { say "installing wrk from the OS packages"; $SUDO apt-get install -y -q wrk >/dev/null; }
ensure_venv
export PATH="$PWD/$VENV/bin:$PATH"
cargo build --release --locked -q --bins

export SRS_DEV_DIR=$(mktemp -d) SRS_BIN_DIR=$PWD/target/release SRS_GATEWAY_PORT=$(free_port) RUST_LOG=warn
# The benchmark comes from one address: no per-client limit in the way.
export SRS_GATEWAY_INGEST_RATE=10000000 SRS_GATEWAY_INGEST_BURST=10000000
ONE_REPLICA_PID=""
cleanup() {
    [ -n "$ONE_REPLICA_PID" ] && kill "$ONE_REPLICA_PID" 2>/dev/null
    scripts/dev-down.sh --purge >/dev/null
}
trap cleanup EXIT
scripts/dev-up.sh >/dev/null
source "$SRS_DEV_DIR/run/topology.env"
echo "bench password" | target/release/srs --data-dir "$SRS_DEV_DIR/data" user add --username bench --role admin --password-stdin >/dev/null
scripts/lab-setup.py "$SRS_GATEWAY_URL" bench "bench password" >/dev/null

# A second Traefik with the same routes whose ingest is ingest-1 alone.
one_port=$(free_port)
render_traefik_config "127.0.0.1:$one_port" "127.0.0.1:$(free_port)" "$SRS_DEV_DIR/logs/access-one.log" "$SRS_DEV_DIR/run/traefik-one.yml"
SRS_INGEST_URLS=$SRS_INGEST_1_URL SRS_CONSOLE_URLS=$SRS_CONSOLE_URL SRS_EXPERIMENTS_URLS=$SRS_EXPERIMENTS_URL \
    "$VENV/bin/traefik" --configFile="$SRS_DEV_DIR/run/traefik-one.yml" >"$SRS_DEV_DIR/logs/traefik-one.log" 2>&1 &
ONE_REPLICA_PID=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$one_port/api/v1/openapi.json" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$one_port/api/v1/openapi.json" || die "the one-replica Traefik does not route"

source scripts/lib/k6.sh
say "k6 lab scenario through the gateway ($K6_VUS users, $K6_DURATION)"
k6_summary "$SRS_DEV_DIR/gateway.json" "$SRS_GATEWAY_URL" "$K6_VUS" "$K6_DURATION"
say "k6 lab scenario directly against one ingest replica"
k6_summary "$SRS_DEV_DIR/direct.json" "$SRS_INGEST_1_URL" "$K6_VUS" "$K6_DURATION"

# wrk NAME URL [SAMPLES]: SAMPLES (1) per request; prints requests/s (warns about non-2xx answers).
wrk_run() {
    local out errors
    out=$(SAMPLES=${3:-1} wrk -t2 -c"$CONNECTIONS" -d"${SECS}s" -s scripts/bench/srs-samples.lua "$2/api/v1/samples")
    errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    [ -z "$errors" ] || echo "  warning: $1 had $errors non-2xx answers" >&2
    echo "$out" | awk '/Requests\/sec/ {print $2}'
}
say "wrk, one sample per request"
direct=$(wrk_run direct "$SRS_INGEST_1_URL")
one=$(wrk_run gateway-1 "http://127.0.0.1:$one_port")
two=$(wrk_run gateway-2 "$SRS_GATEWAY_URL")
say "wrk, 1,000 samples per request"
batch_direct=$(wrk_run direct-1000 "$SRS_INGEST_1_URL" 1000)
batch_gateway=$(wrk_run gateway-1000 "http://127.0.0.1:$one_port" 1000)

python3 - "$SRS_DEV_DIR" "$direct" "$one" "$two" "$batch_direct" "$batch_gateway" "$K6_VUS" "$K6_DURATION" "$SECS" "$CONNECTIONS" <<'PY'
import json, sys
dev_dir, direct, one, two, batch_direct, batch_gateway = sys.argv[1], *map(float, sys.argv[2:7])
vus, duration, secs, connections = sys.argv[7:11]
def k6(name):
    summary = json.load(open(f"{dev_dir}/{name}.json"))["metrics"]
    latency = summary["http_req_duration"]
    return latency["med"], latency["p(99)"], summary["http_reqs"]["rate"], summary["http_req_failed"]["value"]
g, d = k6("gateway"), k6("direct")
print(f"\ngateway benchmark (release builds, one machine)")
print(f"  k6 lab scenario, {vus} users, {duration}:      p50        p99      req/s   failed")
for name, (p50, p99, rate, failed) in (("through Traefik (2 ingest replicas)", g), ("directly against one ingest", d)):
    print(f"    {name:<36} {p50:7.2f} ms {p99:7.2f} ms {rate:9,.0f}   {failed:.2%}")
print(f"    gateway overhead: p50 {g[0] / d[0]:.2f}x, p99 {g[1] / d[1]:.2f}x, requests/s {g[2] / d[2]:.2f}x")
print(f"  wrk, 1 sample per request, -c{connections}, {secs} s:")
print(f"    directly against one ingest        {direct:>10,.0f} req/s")
print(f"    through Traefik, one ingest        {one:>10,.0f} req/s   {one / direct:.2f}x direct")
print(f"    through Traefik, two ingest        {two:>10,.0f} req/s   {two / one:.2f}x one replica (scaling)")
print(f"  wrk, 1,000 samples per request:")
print(f"    directly against one ingest        {batch_direct * 1000:>10,.0f} samples/s")
print(f"    through Traefik, one ingest        {batch_gateway * 1000:>10,.0f} samples/s   {batch_gateway / batch_direct:.2f}x direct")
PY
