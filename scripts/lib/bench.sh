# Shared by the benchmarks that run SRS beside InfluxDB (bench-ingest.sh, bench-disk.sh):
# installs what they need, starts processes in a temporary directory and stops them on exit.
# Source it from the repository root; it sets WORK and PIDS (and what scripts/lib/setup.sh sets).

source scripts/lib/setup.sh
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# need COMMAND PACKAGE: installs the OS package when the command is missing.
need() {
    command -v "$1" >/dev/null 2>&1 && return
    say "installing $2 from the OS packages"
    $SUDO apt-get install -y -q "$2" >/dev/null
}

wait_for() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return; sleep 0.1; done; echo "$1 did not come up" >&2; exit 1; }

# start_srs PORT: the release `srs serve` in $WORK/srs during a recording, with user bench.
start_srs() {
    local port=$1 srs="$PWD/target/release/srs"
    export RUST_LOG=warn
    echo "bench password" | (cd "$WORK" && "$srs" --data-dir srs user add --username bench --role admin --password-stdin >/dev/null)
    (cd "$WORK" && exec "$srs" serve --data-dir srs --listen "127.0.0.1:$port" >/dev/null) & PIDS+=($!)
    wait_for "http://127.0.0.1:$port/healthz"
    scripts/lab-setup.py "http://127.0.0.1:$port" bench "bench password" >/dev/null
}

# start_influx PORT [compact]: InfluxDB 1.x with its defaults (WAL, fsync per write) in
# $WORK/influx. With "compact", a shard idle for a second is snapshotted and fully compacted
# (what a shard of finished data gets after hours), so its size on disk can be read soon after.
start_influx() {
    local port=$1 cold="10m" full_cold="4h"
    if [ "${2:-}" = compact ]; then cold="1s" full_cold="1s"; fi
    mkdir -p "$WORK/influx"
    cat > "$WORK/influx/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$((port + 2))"
[meta]
  dir = "$WORK/influx/meta"
[data]
  dir = "$WORK/influx/data"
  wal-dir = "$WORK/influx/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "$cold"
  compact-full-write-cold-duration = "$full_cold"
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[logging]
  level = "error"
CONF
    influxd -config "$WORK/influx/influxdb.conf" >/dev/null 2>&1 & PIDS+=($!)
    wait_for "http://127.0.0.1:$port/ping"
}
