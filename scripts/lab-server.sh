# Sourced by scripts that exercise a running platform (k6-smoke.sh, api-conformance.sh):
# `start_lab_server USERNAME PASSWORD` runs `srs serve` ($SRS_BIN, or a fresh debug build) in a
# temporary data directory on a free port with an admin USERNAME, prepares an active experiment
# with a running recording (scripts/lab-setup.py), and sets URL, WORK (the directory; the
# server logs to $WORK/serve.log) and PID. Everything is removed when the script exits.

start_lab_server() {
    local username=$1 password=$2 port
    if [ -z "${SRS_BIN:-}" ]; then
        cargo build -q --bin srs
        SRS_BIN=$PWD/target/debug/srs
    fi
    WORK=$(mktemp -d)
    trap 'stop_lab_server' EXIT
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    URL="http://127.0.0.1:$port"
    export RUST_LOG=${RUST_LOG:-warn}
    echo "$password" | (cd "$WORK" && "$SRS_BIN" --data-dir data user add --username "$username" --role admin --password-stdin >/dev/null)
    (cd "$WORK" && exec "$SRS_BIN" serve --data-dir data --listen "127.0.0.1:$port" >"$WORK/serve.log" 2>&1) &
    PID=$!
    for _ in $(seq 100); do curl -s -o /dev/null "$URL/healthz" && break; sleep 0.1; done
    scripts/lab-setup.py "$URL" "$username" "$password" >/dev/null
}

stop_lab_server() {
    [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
