#!/usr/bin/env bash
# Disk benchmark: bytes on disk per stored sample for the ECG and IMU examples, SRS (`srs
# serve` on SQLite, posted over HTTP during a recording) beside InfluxDB 1.x (OS package) after
# its full compaction, the same points in one run (scripts/bench/disk.py).
# BENCH_SAMPLES sets the samples per example (default 1,000,000).
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLES=${BENCH_SAMPLES:-1000000}
SRS_PORT=18090 INFLUX_PORT=18096

source scripts/lib/bench.sh
need influxd influxdb
cargo build --release -q --bin srs
start_srs "$SRS_PORT"
start_influx "$INFLUX_PORT" compact
python3 scripts/bench/disk.py "http://127.0.0.1:$SRS_PORT" "$WORK/srs/srs.db" "http://127.0.0.1:$INFLUX_PORT" "$WORK/influx/data" "$WORK/influx/wal" "$SAMPLES"
