#!/usr/bin/env bash
# The dev-up topology end to end (scripts/dev-up.sh with the binaries of $SRS_BIN_DIR, default
# target/debug): a real SMTP server (aiosmtpd) for the notifier's mail, a whole study through
# the gateway (tests/gateway/study.py), the k6 load scenario's smoke and the console's browser
# test through the gateway, then faults in a topology of their own (tests/gateway/faults.py).
# Everything is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export SRS_BIN_DIR=${SRS_BIN_DIR:-$PWD/target/debug}
export SRS_DEV_DIR=$(mktemp -d)
PYTHON=${SRS_TEST_PYTHON:-$PWD/.venv/bin/python}
export PATH="$PWD/.venv/bin:$PATH"
source scripts/lib/setup.sh
SMTP_PORT=$(free_port)
INBOX=$SRS_DEV_DIR/inbox.jsonl

cleanup() {
    scripts/dev-down.sh >/dev/null || true
    [ -n "${SMTP_PID:-}" ] && kill "$SMTP_PID" 2>/dev/null
    wait 2>/dev/null
    if [ "${KEEP:-}" = 1 ]; then echo "kept $SRS_DEV_DIR"; else rm -rf "$SRS_DEV_DIR"; fi
}
trap cleanup EXIT

# The mail relay: every message's subject and text, one JSON line each.
"$PYTHON" - "$SMTP_PORT" "$INBOX" <<'PY' &
import asyncio, email, email.policy, json, sys
from aiosmtpd.controller import Controller
port, inbox = int(sys.argv[1]), sys.argv[2]
class Keep:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain", "html"))
        with open(inbox, "a") as file:
            file.write(json.dumps({"subject": str(message["subject"]), "to": envelope.rcpt_tos, "body": body.get_content() if body else ""}) + "\n")
        return "250 OK"
Controller(Keep(), hostname="127.0.0.1", port=port).start()
asyncio.get_event_loop().run_forever()
PY
SMTP_PID=$!

export SRS_GATEWAY_PORT=$(free_port)
export SRS__NOTIFIER__EMAIL__SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
export SRS__NOTIFIER__EMAIL__TO="lab@lab.example"
export SRS__NOTIFIER__CONSOLE_URL="http://127.0.0.1:$SRS_GATEWAY_PORT"
# The k6 smoke and the browser test come from one address: room for them above the defaults.
export SRS_GATEWAY_INGEST_RATE=2000 SRS_GATEWAY_INGEST_BURST=4000
export RUST_LOG=${RUST_LOG:-warn}
scripts/dev-up.sh | tee "$SRS_DEV_DIR/dev-up.out"
GATEWAY=$(sed -n 's/^gateway: //p' "$SRS_DEV_DIR/dev-up.out")

echo "==> a whole study through the gateway"
"$PYTHON" tests/gateway/study.py "$GATEWAY" "$SRS_DEV_DIR" "$INBOX"

echo "==> the load scenario's smoke through the gateway (k6)"
# Five users, not the direct smoke's ten: here ten debug-built processes, RabbitMQ, Traefik and
# k6 share the machine (the benchmark in scripts/bench-gateway.sh runs release builds).
SRS_URL=$GATEWAY SMOKE_VUS=${SMOKE_VUS:-5} scripts/k6-smoke.sh

echo "==> the console in chromium through the gateway"
PASSWORD="console e2e password"
echo "$PASSWORD" | "$SRS_BIN_DIR/srs" --data-dir "$SRS_DEV_DIR/data" user add --username console-admin --role admin --password-stdin >/dev/null
scripts/lab-setup.py "$GATEWAY" console-admin "$PASSWORD" >/dev/null
(cd services/console/web && SRS_E2E_URL="$GATEWAY" SRS_E2E_USER=console-admin SRS_E2E_PASSWORD="$PASSWORD" SRS_E2E_OFF_CHANNEL=slack node e2e/run.mjs)

# The faults start a topology of their own (its broker link goes through a proxy they cut); the
# first one stops before, so that no two exporters or notifiers share the broker's queues.
scripts/dev-down.sh >/dev/null
echo "==> faults: replicas, the exporter and the broker link killed during the posting"
"$PYTHON" tests/gateway/faults.py
echo "gateway end to end: every check passed"
