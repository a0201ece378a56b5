"""What the gateway tests share: requests through the gateway, the processes of a dev-up
topology (their addresses and pids), metrics, waiting, the admin made with the CLI, and a
simulated camera on its device socket."""
import asyncio
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request

import websockets


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"  ok  {what}", flush=True)


class Gateway:
    """Requests to SRS through the gateway at `base`."""

    def __init__(self, base):
        self.base = base
        self.ws = base.replace("http://", "ws://")

    def call(self, method, path, body=None, token=None, expect=(200, 201, 202), timeout=30):
        """One request; returns (status, JSON body or raw bytes); any other status than
        `expect` is an AssertionError."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data, method=method)
        if body is not None:
            request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw, kind = response.status, response.read(), response.headers.get("content-type", "")
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers.get("content-type", "")
        if status not in expect:
            raise AssertionError(f"{method} {path}: {status} {raw[:400]!r}")
        return status, (json.loads(raw) if "json" in kind and raw else raw)

    def sign_in(self, username, password):
        return self.call("POST", "/api/v1/auth/login", {"username": username, "password": password})[1]["access_token"]


class Topology:
    """The processes scripts/dev-up.sh started in `dev_dir`."""

    def __init__(self, dev_dir):
        self.dev_dir = dev_dir
        with open(os.path.join(dev_dir, "run", "topology.env")) as file:
            self.urls = dict(line.strip().split("=", 1) for line in file if "=" in line)

    def url(self, name):
        """A process's own address (e.g. ingest-1), for /metrics and /readyz."""
        return self.urls[f"SRS_{name.upper().replace('-', '_')}_URL"]

    def pid(self, name):
        with open(os.path.join(self.dev_dir, "run", f"{name}.pid")) as file:
            return int(file.read())

    def add_admin(self, username, password):
        """The first admin, made with the CLI on the topology's store."""
        subprocess.run([os.path.join(os.environ["SRS_BIN_DIR"], "srs"), "--data-dir", os.path.join(self.dev_dir, "data"), "user", "add",
                        "--username", username, "--role", "admin", "--password-stdin"], input=password.encode(), check=True,
                       stdout=subprocess.DEVNULL)

    def readyz(self, name):
        """(status, body) of a process's /readyz; (None, reason) when it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.url(name)}/readyz", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError as error:
            return None, str(error)

    def metric(self, name, metric):
        return metric_of(self.url(name), metric)


def metric_of(base, name):
    """The value of a metric on `base`/metrics, labels included as /metrics prints them (0 when absent)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def wait_for(what, probe, timeout=20, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def in_thread(coroutine):
    """Runs a coroutine in a thread of its own (the tests themselves make blocking calls); the
    returned list gets its result."""
    result = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)), daemon=True)
    thread.start()
    return thread, result


class Camera:
    """A simulated camera on its device socket through the gateway: acknowledges every command
    and keeps them; like a real device it connects again when its socket closes."""

    def __init__(self, gateway, sensor="cam-1"):
        self.url = f"{gateway.ws}/api/v1/ws/devices/{sensor}"
        self.commands = []
        self.connections = 0
        self.connected = threading.Event()

    def start(self):
        in_thread(self.run())
        return self

    async def run(self):
        while True:
            try:
                async with websockets.connect(self.url, open_timeout=5) as socket:
                    await socket.send(json.dumps({"type": "status", "state": {"recording": False}}))
                    self.connections += 1
                    self.connected.set()
                    async for frame in socket:
                        message = json.loads(frame)
                        if message.get("type") == "command":
                            self.commands.append(message["command"])
                            await socket.send(json.dumps({"type": "ack", "id": message["id"], "ok": True}))
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
                pass
            self.connected.clear()
            await asyncio.sleep(0.3)
