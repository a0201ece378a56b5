#!/usr/bin/env bash
# A short run of the lab's k6 load scenario (tests/load/srs-scenario.js) with the scenario's own
# thresholds (no failed request; p99 under SMOKE_P99_MS, default 1000: debug builds sharing two
# cores with the whole topology measure no speed, so the smoke only catches a stall): against
# SRS_URL when it is set (the gateway, in scripts/gateway-e2e.sh), else against a fresh
# `srs serve` ($SRS_BIN) during a recording.
# SMOKE_VUS and SMOKE_DURATION size it (defaults 10 and 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v k6 >/dev/null || { echo "k6 is missing (scripts/test.sh installs it into .venv)" >&2; exit 1; }
if [ -z "${SRS_URL:-}" ]; then
    . scripts/lab-server.sh
    start_lab_server smoke "smoke password"
    SRS_URL=$URL
fi
k6 run -q --no-color -e SRS_URL="$SRS_URL" -e SRS_VUS="${SMOKE_VUS:-10}" -e SRS_DURATION="${SMOKE_DURATION:-10s}" -e SRS_P99_MS="${SMOKE_P99_MS:-1000}" tests/load/srs-scenario.js
