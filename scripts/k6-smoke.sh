#!/usr/bin/env bash
# A short run of the lab's k6 load scenario (tests/load/srs-scenario.js) against `srs serve`
# during a recording, with the scenario's own thresholds (no failed request, p99 < 50 ms).
# scripts/test.sh runs it; SMOKE_VUS and SMOKE_DURATION size it (defaults 10 and 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v k6 >/dev/null || { echo "k6 is missing (scripts/test.sh installs it into .venv)" >&2; exit 1; }
# scripts/test.sh passes the binary its test run built (SRS_BIN); alone, build it.
if [ -z "${SRS_BIN:-}" ]; then
    cargo build -q --bin srs
    SRS_BIN=$PWD/target/debug/srs
fi
SRS=$SRS_BIN
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export RUST_LOG=warn
echo "smoke password" | (cd "$WORK" && "$SRS" --data-dir data user add --username smoke --role admin --password-stdin >/dev/null)
(cd "$WORK" && exec "$SRS" serve --data-dir data --listen "127.0.0.1:$PORT" >/dev/null) &
PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
scripts/lab-setup.py "http://127.0.0.1:$PORT" smoke "smoke password" >/dev/null
k6 run -q --no-color -e SRS_URL="http://127.0.0.1:$PORT" -e SRS_VUS="${SMOKE_VUS:-10}" -e SRS_DURATION="${SMOKE_DURATION:-10s}" tests/load/srs-scenario.js
