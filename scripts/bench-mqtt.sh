#!/usr/bin/env bash
# MQTT intake benchmark, one run on this machine, figures and ratios:
#   1. Mosquitto's own delivery rate: the batch messages at QoS 1 to a subscriber that does
#      nothing (mosquitto_sub), the broker's ceiling;
#   2. SRS ingest over MQTT (`srs serve --services ingest,experiments`, SQLite, during a recording): the same messages — ECG
#      batches of 100 samples, then single samples — published at QoS 1 by PUBLISHERS
#      mosquitto_pub processes; samples/s while ingest commits them (10% to 90% of the run);
#   3. SRS ingest over HTTP, same run: the same kind of samples with wrk, 100 and 1 per request.
# The broker runs with the deployment's configuration (compose/mosquitto/: logins, ACL,
# persistence). BENCH_MESSAGES sets the batch messages (default 6000, i.e. 600,000 samples),
# BENCH_SINGLES the single-sample messages (60,000), BENCH_SECS each wrk run (15 s).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
MESSAGES=${BENCH_MESSAGES:-6000}
SINGLES=${BENCH_SINGLES:-60000}
PUBLISHERS=${BENCH_PUBLISHERS:-4}
SECS=${BENCH_SECS:-15}

command -v wrk >/dev/null 2>&1 || { $SUDO apt-get install -y -q wrk >/dev/null || die "cannot install wrk"; }
ensure_mosquitto_installed
cargo build --release -q --bin srs
SRS=$PWD/target/release/srs
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

MQTT_PORT=$(free_port)
render_mosquitto_config "$WORK/mosquitto" "$MQTT_PORT" ingest-pw sensor-pw
"$(mosquitto_binary)" -c "$WORK/mosquitto/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 & PIDS+=($!)
for _ in $(seq 50); do port_open 127.0.0.1 "$MQTT_PORT" && break; sleep 0.1; done

# The messages: one per line, each an array of SIZE ECG samples with unique ts and id.
messages() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys, time
count, size, offset = map(int, sys.argv[1:4])
start = time.time_ns() - 3_600_000_000_000 + offset
for m in range(count):
    samples = []
    for i in range(size):
        ts = start + (m * size + i) * 1000
        samples.append(f'{{"ts":{ts},"id":"{ts}","values":{{"lead_i":0.1234,"lead_ii":-0.3141,"heart_rate":71.5}}}}')
    print("[" + ",".join(samples) + "]")
PY
}
messages "$MESSAGES" 100 0 >"$WORK/batches"
messages "$SINGLES" 1 1 >"$WORK/singles"
split -n "l/$PUBLISHERS" "$WORK/batches" "$WORK/batches."
split -n "l/$PUBLISHERS" "$WORK/singles" "$WORK/singles."

# publish FILE_PREFIX: every part by its own mosquitto_pub, QoS 1, 100 messages in flight each.
publish() {
    local part pids=()
    for part in "$1".*; do
        mosquitto_pub -V mqttv5 -p "$MQTT_PORT" -u ecg-1 -P sensor-pw -t srs/samples/ecg-1 -q 1 -M 100 -l <"$part" & pids+=($!)
    done
    wait "${pids[@]}"
}
now() { date +%s.%N; }

# 1. The broker's ceiling: a subscriber that does nothing, the same batch messages.
mosquitto_sub -V mqttv5 -p "$MQTT_PORT" -u srs-ingest -P ingest-pw -t srs/samples/ecg-1 -q 1 -C "$MESSAGES" >/dev/null & sub=$!
sleep 0.5
started=$(now)
publish "$WORK/batches"
wait "$sub"
broker_secs=$(python3 -c "print($(now) - $started)")

# 2. SRS over MQTT, during a recording.
SRS_PORT=$(free_port)
export RUST_LOG=warn
echo "bench password" | (cd "$WORK" && "$SRS" --data-dir srs user add --username bench --role admin --password-stdin >/dev/null)
(cd "$WORK" && SRS__MQTT__URL="mqtt://127.0.0.1:$MQTT_PORT" SRS__MQTT__USERNAME=srs-ingest SRS__MQTT__PASSWORD=ingest-pw \
    SRS__MQTT__CLIENT_ID=bench-ingest exec "$SRS" serve --services ingest,experiments --data-dir srs --listen "127.0.0.1:$SRS_PORT" >/dev/null) & PIDS+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$SRS_PORT/readyz" && break; sleep 0.1; done
scripts/lab-setup.py "http://127.0.0.1:$SRS_PORT" bench "bench password" >/dev/null
sleep 1
# mqtt_run FILE_PREFIX SAMPLES: ingest's samples/s while it takes the messages, over the middle
# of the run (from 10% to 90% of SAMPLES committed: no connecting, no last stragglers), as the
# HTTP runs measure a steady state.
mqtt_run() {
    python3 - "http://127.0.0.1:$SRS_PORT/metrics" "$2" >"$WORK/rate" <<'PY' & local monitor=$!
import re, sys, time, urllib.request
url, samples = sys.argv[1], int(sys.argv[2])
def taken():
    text = urllib.request.urlopen(url).read().decode()
    match = re.search(r'^srs_ingest_mqtt_samples_total\{broker="mqtt"\} (\S+)', text, re.M)
    return float(match.group(1)) if match else 0.0
start = taken()
marks = {}
while True:
    done = taken() - start
    now = time.monotonic()
    for fraction in (0.1, 0.9):
        if done >= fraction * samples and fraction not in marks:
            marks[fraction] = (now, done)
    if done >= samples:
        break
    time.sleep(0.005)
(t1, n1), (t2, n2) = marks[0.1], marks[0.9]
print((n2 - n1) / (t2 - t1))
PY
    sleep 0.3
    publish "$1"
    wait "$monitor"
    cat "$WORK/rate"
}
mqtt_batch=$(mqtt_run "$WORK/batches" $((MESSAGES * 100)))
mqtt_single=$(mqtt_run "$WORK/singles" "$SINGLES")

# 3. SRS over HTTP, same process, same recording.
http_rate() { wrk -t2 -c64 -d"${SECS}s" -s scripts/bench/srs-samples.lua "http://127.0.0.1:$SRS_PORT/api/v1/samples" | awk '/Requests\/sec/ {print $2}'; }
http_batch=$(SAMPLES=100 http_rate)
http_single=$(SAMPLES=1 http_rate)
stored=$(sqlite3 "$WORK/srs/srs.db" "SELECT COALESCE(SUM(rows), 0) FROM sample_blocks" 2>/dev/null || echo "?")

python3 - "$MESSAGES" "$broker_secs" "$mqtt_batch" "$mqtt_single" "$http_batch" "$http_single" "$PUBLISHERS" "$stored" <<'PY'
import sys
messages = int(sys.argv[1])
broker_secs, batch, single, http_batch, http_single = map(float, sys.argv[2:7])
publishers, stored = sys.argv[7], sys.argv[8]
broker = messages * 100 / broker_secs
print(f"MQTT intake benchmark: {publishers} mosquitto_pub publishers at QoS 1, one machine, one run")
print(f"  Mosquitto to an idle subscriber         {messages / broker_secs:>10,.0f} msg/s  = {broker:>10,.0f} samples/s (ceiling)")
print(f"  SRS over MQTT, 100 samples/message      {batch:>10,.0f} samples/s  {batch / (http_batch * 100):.2f}x HTTP   {batch / broker:.2f}x broker")
print(f"  SRS over HTTP, 100 samples/request      {http_batch * 100:>10,.0f} samples/s")
print(f"  SRS over MQTT, 1 sample/message         {single:>10,.0f} samples/s  {single / http_single:.2f}x HTTP")
print(f"  SRS over HTTP, 1 sample/request         {http_single:>10,.0f} samples/s")
print(f"  samples stored by SRS in the store:     {stored}")
PY
