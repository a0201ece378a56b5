#!/usr/bin/env bash
# Stops what scripts/dev-up.sh started: Traefik first (no new requests), then every service with
# SIGTERM (they finish in-flight requests and commit what they accepted), SIGKILL after 30 s,
# then Mosquitto.
# The data and logs stay in SRS_DEV_DIR (default .dev); `--purge` removes them too. RabbitMQ is
# left running.
set -uo pipefail
cd "$(dirname "$0")/.."
DEV_DIR=${SRS_DEV_DIR:-.dev}
RUN=$DEV_DIR/run

stop() {
    local pid_file=$1 pid
    pid=$(cat "$pid_file" 2>/dev/null) || return 0
    rm -f "$pid_file"
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    echo "$(basename "$pid_file" .pid) did not stop in 30 s: killed" >&2
    kill -KILL "$pid" 2>/dev/null
}

if [ -d "$RUN" ]; then
    stop "$RUN/traefik.pid"
    for pid_file in "$RUN"/*.pid; do
        [ "$pid_file" = "$RUN/mosquitto.pid" ] && continue
        [ -e "$pid_file" ] && stop "$pid_file" &
    done
    wait
    # The broker last: the ingest replicas acknowledge what they committed on their way out.
    stop "$RUN/mosquitto.pid"
fi
if [ "${1:-}" = "--purge" ]; then
    rm -rf "$DEV_DIR"
fi
echo "stopped"
