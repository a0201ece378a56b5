# Sourced by the scripts that need the machine set up (test.sh, dev-up.sh, gateway-e2e.sh,
# bench-gateway.sh): what a fresh machine needs installed and running. AMQP_URL (the broker)
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
