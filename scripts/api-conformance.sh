#!/usr/bin/env bash
# API conformance: schemathesis runs every check (server errors, status codes, content types,
# response schemas and headers, negative and positive data, undeclared methods, auth, use after
# free, resource availability) against a fresh `srs serve`, from /api/v1/openapi.json, as an
# admin, with stateful sequences along the links it infers, for CONFORMANCE_SECS seconds
# (default 120). Exits non-zero on any failure or schema error.
# Settings: tests/api/schemathesis.toml. scripts/test.sh runs it with SRS_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v schemathesis >/dev/null || { echo "schemathesis is missing (scripts/test.sh installs it into .venv)" >&2; exit 1; }
. scripts/lab-server.sh
PASSWORD="conformance password"
# The TTN webhook on, and its secret on every request schemathesis makes (it also leaves it out).
export SRS__TTN__WEBHOOK_SECRET="conformance ttn secret"
# An active experiment with a recording, so that sample posts and recordings meet real data.
start_lab_server conformance "$PASSWORD"
TOKEN=$(curl -sf -X POST "$URL/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\": \"conformance\", \"password\": \"$PASSWORD\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
status=0
schemathesis --config-file tests/api/schemathesis.toml run "$URL/api/v1/openapi.json" \
    --checks all --header "Authorization: Bearer $TOKEN" --header "X-SRS-TTN-Secret: $SRS__TTN__WEBHOOK_SECRET" --max-time "${CONFORMANCE_SECS:-120}" \
    --workers 2 --no-color --output-truncate false || status=$?
# A panic or an error logged by the server is a failure even when every answer looked right
# (actix logs a client's unparsable header as an error; that one is the client's).
if grep -E "panicked|ERROR" "$WORK/serve.log" | grep -v "request parse error" >&2; then
    echo "srs serve logged errors during the run (above)" >&2
    status=1
fi
exit $status
