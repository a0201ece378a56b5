# Sourced by the scripts that need the machine set up (test.sh, dev-up.sh, gateway-e2e.sh, the
# benchmarks): what a fresh machine needs installed and running. AMQP_URL (the broker)
# may be set before; VENV (the Python tools' virtualenv) and SUDO are set here.

AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
VENV=.venv
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

# host and port of the broker the tests use
broker_host_port() {
    local rest=${AMQP_URL#*://}
    rest=${rest#*@}
    rest=${rest%%/*}
    case $rest in *:*) echo "${rest%%:*} ${rest##*:}" ;; *) echo "$rest 5672" ;; esac
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

ensure_rabbitmq() {
    read -r host port < <(broker_host_port)
    port_open "$host" "$port" && return 0
    case $host in 127.0.0.1|localhost) ;; *) die "no AMQP broker answers at $host:$port (SRS_TEST_AMQP_URL)";; esac
    say "no broker on $host:$port: installing/starting RabbitMQ from the OS packages"
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server \
            || die "cannot install rabbitmq-server"
    fi
    $SUDO rabbitmq-server -detached >/dev/null 2>&1 || $SUDO service rabbitmq-server start || true
    for _ in $(seq 1 90); do
        port_open "$host" "$port" && return 0
        sleep 1
    done
    die "RabbitMQ did not start on $host:$port"
}

# Mosquitto and its clients from the OS packages.
ensure_mosquitto_installed() {
    command -v mosquitto >/dev/null 2>&1 && command -v mosquitto_passwd >/dev/null 2>&1 && return 0
    [ -x /usr/sbin/mosquitto ] && command -v mosquitto_passwd >/dev/null 2>&1 && return 0
    say "installing Mosquitto from the OS packages"
    $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto mosquitto-clients \
        || die "cannot install mosquitto"
}

mosquitto_binary() { command -v mosquitto 2>/dev/null || echo /usr/sbin/mosquitto; }

# The MQTT broker the tests use (SRS_TEST_MQTT_URL, default 127.0.0.1:1883): started (anonymous,
# local only) when nothing answers there.
ensure_mosquitto() {
    local url=${SRS_TEST_MQTT_URL:-mqtt://127.0.0.1:1883} host port
    host=$(echo "$url" | sed -E 's#^[a-z]+://([^:/]+).*#\1#')
    port=$(echo "$url" | sed -nE 's#^[a-z]+://[^:/]+:([0-9]+).*#\1#p')
    port=${port:-1883}
    port_open "$host" "$port" && return 0
    case $host in 127.0.0.1|localhost) ;; *) die "no MQTT broker answers at $host:$port (SRS_TEST_MQTT_URL)";; esac
    ensure_mosquitto_installed
    say "no MQTT broker on $host:$port: starting Mosquitto"
    mkdir -p .test-mosquitto
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$port" >.test-mosquitto/mosquitto.conf
    "$(mosquitto_binary)" -c .test-mosquitto/mosquitto.conf -d || die "Mosquitto did not start"
    for _ in $(seq 1 50); do
        port_open "$host" "$port" && return 0
        sleep 0.1
    done
    die "Mosquitto did not start on $host:$port"
}

# Renders the deployment's broker configuration (compose/mosquitto/: password file, ACL, queue
# limits) into DIR for a broker on 127.0.0.1:PORT, with the users `srs-ingest` (password
# INGEST_PASSWORD) and every sensor of the example sensors file (password SENSOR_PASSWORD).
render_mosquitto_config() {
    local dir=$1 port=$2 ingest_password=$3 sensor_password=$4 sensor
    mkdir -p "$dir/conf.d" "$dir/data"
    sed -e "s#/mosquitto/config/conf.d#$dir/conf.d#; s#/mosquitto/config/#$dir/#; s#/mosquitto/data/#$dir/data/#" \
        -e "s#^listener 1883\$#listener $port 127.0.0.1#" compose/mosquitto/mosquitto.conf >"$dir/mosquitto.conf"
    # Started by root, Mosquitto would switch to its own user, which cannot read these files.
    echo "user $(id -un)" >>"$dir/mosquitto.conf"
    cp compose/mosquitto/acl "$dir/acl"
    rm -f "$dir/passwd"
    touch "$dir/passwd"
    chmod 600 "$dir/passwd"
    mosquitto_passwd -b "$dir/passwd" srs-ingest "$ingest_password"
    for sensor in $(python3 -c 'import json; print(" ".join(s["id"] for s in json.load(open("config/sensors.example.json"))["sensors"]))'); do
        mosquitto_passwd -b "$dir/passwd" "$sensor" "$sensor_password"
    done
}

ensure_venv() {
    local stamp="$VENV/.requirements.sha256" want
    want=$(sha256sum scripts/requirements-test.txt | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
    say "preparing the Python test tools in $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv || die "cannot install python3-venv"
        python3 -m venv "$VENV" || die "cannot create $VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements-test.txt || die "cannot install scripts/requirements-test.txt"
    echo "$want" >"$stamp"
}

# The console's browser tests drive Debian's chromium (never a downloaded browser).
ensure_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    say "installing chromium from the OS packages (the console's browser tests)"
    $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || die "cannot install chromium"
}

# free_port: a TCP port nothing listens on now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# render_traefik_config ADDRESS PING_ADDRESS ACCESS_LOG OUT: proxy/traefik.local.yml for one
# host, with the routes of proxy/dynamic/.
render_traefik_config() {
    sed -e "s#@ADDRESS@#$1#" -e "s#@PING_ADDRESS@#$2#" -e "s#@DYNAMIC_DIR@#$PWD/proxy/dynamic#" -e "s#@ACCESS_LOG@#$3#" \
        proxy/traefik.local.yml >"$4"
}
