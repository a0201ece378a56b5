#!/usr/bin/env bash
# The production topology as processes on this host: RabbitMQ (started if nothing answers),
# Mosquitto with the deployment's configuration (compose/mosquitto/: password file and ACL),
# the six services as separate binaries — two ingest and two control replicas, the ingest ones
# sharing the broker's subscription — and Traefik (from the project's virtualenv) in front of
# them with the routes of proxy/. Everything HTTP is reached through one port, printed as
# `gateway: http://127.0.0.1:PORT` once every process is ready, and sensors publish to
# `mqtt: mqtt://127.0.0.1:PORT` (user = sensor id, password SRS_DEV_SENSOR_PASSWORD, default
# sensor-dev-password). Stop it with scripts/dev-down.sh.
#
#   scripts/dev-up.sh                 build (release) and start
#   scripts/dev-up.sh restart NAME    start one process again (after a crash), e.g. ingest-1
#
# Environment:
#   SRS_GATEWAY_PORT   the gateway's port (default 8000)
#   SRS_DEV_DIR        state: data/ (the shared SQLite store, JWT keys, exports), logs/ (one
#                      file per process, Traefik's access log), run/ (pids, ports, topology.env)
#                      (default .dev)
#   SRS_BIN_DIR        take the binaries from here instead of building them (the tests pass
#                      target/debug)
#   SRS_MONGODB_URI    store in this MongoDB (a replica set) instead of the shared SQLite file
#   SRS_AMQP_URL       the broker (default amqp://guest:guest@127.0.0.1:5672/%2f)
#   SRS_MQTT_PORT      the MQTT broker's port (default: a free one)
# Any SRS__SECTION__KEY setting in the environment reaches every service (e.g. the notifier's
# mail relay), as do Traefik's SRS_GATEWAY_* limits (proxy/dynamic/srs.yml).
set -euo pipefail
cd "$(dirname "$0")/.."

AMQP_URL=${SRS_AMQP_URL:-}
source scripts/lib/setup.sh

DEV_DIR=$(mkdir -p "${SRS_DEV_DIR:-.dev}" && cd "${SRS_DEV_DIR:-.dev}" && pwd)
DATA=$DEV_DIR/data
LOGS=$DEV_DIR/logs
RUN=$DEV_DIR/run
GATEWAY_PORT=${SRS_GATEWAY_PORT:-8000}
# Every process of the topology: name and binary.
PROCESSES=(ingest-1:srs-ingest ingest-2:srs-ingest control-1:srs-control control-2:srs-control
    experiments:srs-experiments exporter:srs-exporter notifier:srs-notifier console:srs-console)

binary_of() {
    local entry
    for entry in "${PROCESSES[@]}"; do
        [ "${entry%%:*}" = "$1" ] && { echo "${entry#*:}"; return 0; }
    done
    die "no process $1 (one of: ${PROCESSES[*]%%:*})"
}

# Starts process NAME on its port (kept in run/NAME.port, so a restart answers where it did).
start_process() {
    local name=$1 binary port
    binary=$(binary_of "$name")
    port=$(cat "$RUN/$name.port")
    local store=(SRS__STORE__BACKEND=sqlite) mqtt=()
    # Each ingest replica has its own client id: its persistent session at the broker.
    case $name in ingest-*) mqtt=("SRS__MQTT__URL=mqtt://127.0.0.1:$(cat "$RUN/mosquitto.port")" SRS__MQTT__USERNAME=srs-ingest
        "SRS__MQTT__PASSWORD=$(cat "$RUN/mqtt-ingest-password")" "SRS__MQTT__CLIENT_ID=srs-$name") ;; esac
    [ -n "${SRS_MONGODB_URI:-}" ] && store=(SRS__STORE__BACKEND=mongodb "SRS__STORE__MONGODB_URI=$SRS_MONGODB_URI")
    env SRS__SERVER__LISTEN="127.0.0.1:$port" SRS__DATA__DIR="$DATA" SRS__LOG__FORMAT=json \
        SRS__BUS__BACKEND=amqp SRS__BUS__AMQP_URL="$AMQP_URL" "${store[@]}" \
        SRS__SERVER__BEHIND_PROXY=true SRS__SERVER__TRUSTED_PROXIES=127.0.0.1 "${mqtt[@]}" \
        "$BIN_DIR/$binary" >>"$LOGS/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
}

wait_ready() {
    local name=$1 url=$2
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "$url" && return 0
        kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null || die "$name exited; see $LOGS/$name.log"
        sleep 0.1
    done
    die "$name is not ready at $url after 30 s; see $LOGS/$name.log"
}

if [ "${1:-}" = "restart" ]; then
    name=${2:?usage: scripts/dev-up.sh restart NAME}
    BIN_DIR=$(cat "$RUN/bin_dir")
    start_process "$name"
    wait_ready "$name" "http://127.0.0.1:$(cat "$RUN/$name.port")/readyz"
    echo "$name: http://127.0.0.1:$(cat "$RUN/$name.port")"
    exit 0
fi

[ -e "$RUN/traefik.pid" ] && kill -0 "$(cat "$RUN/traefik.pid")" 2>/dev/null && die "already running (scripts/dev-down.sh stops it)"
port_open 127.0.0.1 "$GATEWAY_PORT" && die "port $GATEWAY_PORT is taken (SRS_GATEWAY_PORT chooses another)"

ensure_rabbitmq
ensure_mosquitto_installed
ensure_venv
if [ -n "${SRS_BIN_DIR:-}" ]; then
    BIN_DIR=$(cd "$SRS_BIN_DIR" && pwd)
else
    scripts/console.sh build
    cargo build --release --locked --bins
    BIN_DIR=$PWD/target/release
fi

mkdir -p "$DATA" "$LOGS" "$RUN"
echo "$BIN_DIR" >"$RUN/bin_dir"
# One key pair for every service, made before any starts (each would otherwise make its own).
[ -e "$DATA/jwt/public.pem" ] || "$BIN_DIR/srs" --data-dir "$DATA" keys generate --out "$DATA/jwt" >/dev/null

# The sensors' broker, with the deployment's password file and ACL.
mqtt_port=${SRS_MQTT_PORT:-$(free_port)}
port_open 127.0.0.1 "$mqtt_port" && die "port $mqtt_port is taken (SRS_MQTT_PORT chooses another)"
[ -e "$RUN/mqtt-ingest-password" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$RUN/mqtt-ingest-password"
render_mosquitto_config "$DEV_DIR/mosquitto" "$mqtt_port" "$(cat "$RUN/mqtt-ingest-password")" "${SRS_DEV_SENSOR_PASSWORD:-sensor-dev-password}"
"$(mosquitto_binary)" -c "$DEV_DIR/mosquitto/mosquitto.conf" >>"$LOGS/mosquitto.log" 2>&1 &
echo $! >"$RUN/mosquitto.pid"
echo "$mqtt_port" >"$RUN/mosquitto.port"
for _ in $(seq 1 50); do port_open 127.0.0.1 "$mqtt_port" && break; sleep 0.1; done
port_open 127.0.0.1 "$mqtt_port" || die "Mosquitto did not start; see $LOGS/mosquitto.log"

topology=("SRS_GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT" "SRS_MQTT_URL=mqtt://127.0.0.1:$mqtt_port")
# Every port at once, all distinct: a port picked while an earlier process has not bound its
# own yet could be the same one.
ports=($(python3 -c 'import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))' "${#PROCESSES[@]}"))
for index in "${!PROCESSES[@]}"; do
    name=${PROCESSES[$index]%%:*}
    echo "${ports[$index]}" >"$RUN/$name.port"
    topology+=("SRS_$(echo "${name//-/_}" | tr '[:lower:]' '[:upper:]')_URL=http://127.0.0.1:${ports[$index]}")
done
# The first process creates and migrates a new store alone; then the others start together.
first=${PROCESSES[0]%%:*}
start_process "$first"
wait_ready "$first" "http://127.0.0.1:$(cat "$RUN/$first.port")/readyz"
for entry in "${PROCESSES[@]:1}"; do start_process "${entry%%:*}"; done
for entry in "${PROCESSES[@]:1}"; do
    name=${entry%%:*}
    wait_ready "$name" "http://127.0.0.1:$(cat "$RUN/$name.port")/readyz"
done

# The replicas of a service, as proxy/dynamic/srs.yml reads them.
urls_of() {
    local name list=()
    for name in "$@"; do list+=("http://127.0.0.1:$(cat "$RUN/$name.port")"); done
    (IFS=,; echo "${list[*]}")
}
ping_port=$(free_port)
render_traefik_config "127.0.0.1:$GATEWAY_PORT" "127.0.0.1:$ping_port" "$LOGS/access.log" "$RUN/traefik.yml"
SRS_INGEST_URLS=$(urls_of ingest-1 ingest-2) SRS_CONTROL_URLS=$(urls_of control-1 control-2) \
    SRS_EXPERIMENTS_URLS=$(urls_of experiments) SRS_EXPORTER_URLS=$(urls_of exporter) \
    SRS_NOTIFIER_URLS=$(urls_of notifier) SRS_CONSOLE_URLS=$(urls_of console) \
    "$VENV/bin/traefik" --configFile="$RUN/traefik.yml" >>"$LOGS/traefik.log" 2>&1 &
echo $! >"$RUN/traefik.pid"
echo "$ping_port" >"$RUN/traefik.port"
wait_ready traefik "http://127.0.0.1:$ping_port/ping"
# Traefik reads the routes just after it answers its ping: wait until the gateway routes.
gateway_routes() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GATEWAY_PORT/api/v1/openapi.json")" = 200 ]; }
for _ in $(seq 1 100); do gateway_routes && break; sleep 0.1; done
gateway_routes || die "Traefik does not route after 10 s; see $LOGS/traefik.log"

printf '%s\n' "${topology[@]}" >"$RUN/topology.env"
echo "logs: $LOGS"
echo "mqtt: mqtt://127.0.0.1:$mqtt_port"
echo "gateway: http://127.0.0.1:$GATEWAY_PORT"
