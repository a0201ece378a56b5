#!/usr/bin/env bash
# A short run of the lab's k6 load scenario (tests/load/srs-scenario.js) against `srs serve`
# during a recording, with the scenario's own thresholds (no failed request, p99 < 50 ms).
# scripts/test.sh runs it with SRS_BIN; SMOKE_VUS and SMOKE_DURATION size it (defaults 10 and 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v k6 >/dev/null || { echo "k6 is missing (scripts/test.sh installs it into .venv)" >&2; exit 1; }
. scripts/lab-server.sh
start_lab_server smoke "smoke password"
k6 run -q --no-color -e SRS_URL="$URL" -e SRS_VUS="${SMOKE_VUS:-10}" -e SRS_DURATION="${SMOKE_DURATION:-10s}" tests/load/srs-scenario.js
