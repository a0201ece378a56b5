#!/usr/bin/env bash
# The console end to end in Debian's chromium (playwright-core) against a fresh `srs serve`
# ($SRS_BIN) with an active experiment and a running recording. Needs the console built
# (scripts/console.sh build) and chromium installed (scripts/test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/chromium ] || { echo "chromium is missing (scripts/test.sh installs it)" >&2; exit 1; }
. scripts/lab-server.sh
PASSWORD="console e2e password"
start_lab_server console-admin "$PASSWORD"
cd services/console/web
SRS_E2E_URL="$URL" SRS_E2E_USER=console-admin SRS_E2E_PASSWORD="$PASSWORD" node e2e/run.mjs
