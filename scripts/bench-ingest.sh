#!/usr/bin/env bash
# Ingest benchmark: wrk (from the OS packages) on this machine, one run, figures and ratios:
#   1. a bare actix-web endpoint parsing the same JSON body, answering 204 (the HTTP ceiling);
#   2. SRS ingest (`srs serve`, SQLite), one sample per request, 64 connections, during a
#      recording (every 200 is a committed, durable write), samples with `ts` and no `id`
#      (deduplicated on (sensor, ts), as InfluxDB keys its points);
#   3. SRS ingest, 1,000 samples per request; then 2 and 3 again with a client id per sample;
#   4. InfluxDB 1.6 (OS package, same machine): one point per request and 5,000 points per
#      request of the same data as line protocol;
#   5. the k6 lab scenario (tests/load/srs-scenario.js, 50 users) against SRS and, as the
#      latency floor of this machine and k6, against the bare endpoint: p50 and p99.
# BENCH_SECS sets each wrk run's length (default 15), BENCH_CONNECTIONS the connections (64),
# K6_DURATION the k6 runs' (default 30s). k6 comes from .venv (made here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${BENCH_SECS:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SRS_PORT=18080 BARE_PORT=18081 INFLUX_PORT=18086

source scripts/lib/bench.sh
need wrk wrk
need influxd influxdb

ensure_venv
export PATH="$PWD/$VENV/bin:$PATH"
source scripts/lib/k6.sh
cargo build --release -q --bin srs --example bare_endpoint

# run NAME URL SCRIPT [ENV=VALUE...]: prints requests/s (and warns about non-2xx answers).
run() {
    local name=$1 url=$2 script=$3; shift 3
    local out
    out=$(env "$@" wrk -t2 -c"$CONNECTIONS" -d"${SECS}s" -s "$script" "$url")
    local errors
    errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    if [ -n "$errors" ]; then echo "  warning: $name had $errors non-2xx answers" >&2; fi
    echo "$out" | awk '/Requests\/sec/ {print $2}'
}

# 1. The HTTP ceiling.
"$ROOT/target/release/examples/bare_endpoint" "127.0.0.1:$BARE_PORT" >/dev/null & PIDS+=($!)
wait_for "http://127.0.0.1:$BARE_PORT/"
bare=$(run bare "http://127.0.0.1:$BARE_PORT/api/v1/samples" scripts/bench/srs-samples.lua SAMPLES=1)
k6_summary "$WORK/k6-bare.json" "http://127.0.0.1:$BARE_PORT" 50 "${K6_DURATION:-30s}"

# 2-3. SRS during a recording.
start_srs "$SRS_PORT"
sleep 1
k6_summary "$WORK/k6-srs.json" "http://127.0.0.1:$SRS_PORT" 50 "${K6_DURATION:-30s}"
srs_one=$(run srs-1 "http://127.0.0.1:$SRS_PORT/api/v1/samples" scripts/bench/srs-samples.lua SAMPLES=1)
srs_batch=$(run srs-1000 "http://127.0.0.1:$SRS_PORT/api/v1/samples" scripts/bench/srs-samples.lua SAMPLES=1000)
srs_one_ids=$(run srs-1-ids "http://127.0.0.1:$SRS_PORT/api/v1/samples" scripts/bench/srs-samples.lua SAMPLES=1 IDS=1)
srs_batch_ids=$(run srs-1000-ids "http://127.0.0.1:$SRS_PORT/api/v1/samples" scripts/bench/srs-samples.lua SAMPLES=1000 IDS=1)
stored=$(sqlite3 "$WORK/srs/srs.db" "SELECT COALESCE(SUM(rows), 0) FROM sample_blocks" 2>/dev/null || echo "?")

# 4. InfluxDB 1.6, its own data directory and port.
start_influx "$INFLUX_PORT"
curl -s -XPOST "http://127.0.0.1:$INFLUX_PORT/query" --data-urlencode "q=CREATE DATABASE bench" >/dev/null
influx_one=$(run influx-1 "http://127.0.0.1:$INFLUX_PORT/write?db=bench&precision=ns" scripts/bench/influx-points.lua POINTS=1)
influx_batch=$(run influx-5000 "http://127.0.0.1:$INFLUX_PORT/write?db=bench&precision=ns" scripts/bench/influx-points.lua POINTS=5000)

python3 - "$bare" "$srs_one" "$srs_batch" "$influx_one" "$influx_batch" "$srs_one_ids" "$srs_batch_ids" "$stored" "$SECS" "$CONNECTIONS" "$WORK" <<'PY'
import json, sys
bare, one, batch, influx_one, influx_batch, one_ids, batch_ids = map(float, sys.argv[1:8])
stored, secs, connections, work = sys.argv[8], sys.argv[9], sys.argv[10], sys.argv[11]
def k6(name):
    metrics = json.load(open(f"{work}/{name}.json"))["metrics"]
    return metrics["http_req_duration"]["med"], metrics["http_req_duration"]["p(99)"], metrics["http_req_failed"]["value"], metrics["http_reqs"]["count"]
print(f"ingest benchmark: wrk -t2 -c{connections}, {secs} s per run, one machine")
print(f"  bare actix-web endpoint (ceiling)      {bare:>12,.0f} req/s")
print(f"  SRS, 1 sample/request, durable         {one:>12,.0f} req/s   {one / bare:.2f}x bare   {one / influx_one:.2f}x InfluxDB 1-point")
print(f"  SRS, 1,000 samples/request             {batch * 1000:>12,.0f} samples/s   {batch * 1000 / (influx_batch * 5000):.2f}x InfluxDB batched")
print(f"  SRS, 1 sample/request with client ids   {one_ids:>12,.0f} req/s   {one_ids / bare:.2f}x bare")
print(f"  SRS, 1,000/request with client ids     {batch_ids * 1000:>12,.0f} samples/s   {batch_ids * 1000 / (influx_batch * 5000):.2f}x InfluxDB batched")
print(f"  InfluxDB 1.6, 1 point/request          {influx_one:>12,.0f} req/s")
print(f"  InfluxDB 1.6, 5,000 points/request     {influx_batch * 5000:>12,.0f} points/s")
print(f"  samples stored by SRS in the store:    {stored}")
(bare_p50, bare_p99, _, _), (srs_p50, srs_p99, failed, count) = k6("k6-bare"), k6("k6-srs")
print(f"  k6 lab scenario, 50 users: SRS p50 {srs_p50:.2f} ms, p99 {srs_p99:.2f} ms, {failed:.2%} of {count:,.0f} failed;"
      f" bare endpoint p50 {bare_p50:.2f} ms, p99 {bare_p99:.2f} ms (p99 {srs_p99 / bare_p99:.2f}x bare)")
PY
