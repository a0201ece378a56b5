#!/usr/bin/env python3
"""Faults in the dev-up topology, while sensors post through the gateway as real ones do
(retrying a request until it gets a 200, with the same sample ids):

1. SIGKILL of one ingest replica: the other takes the traffic; restarted, it takes part again.
2. SIGKILL of the control replica holding the camera: the camera connects again, to the other
   replica, and a command reaches it.
3. The RabbitMQ connections cut (every service reaches the broker through a TCP proxy this test
   controls): /readyz says `bus` while it is cut, and every service is ready again once it is back.
4. SIGKILL of the exporter in the middle of an export job: restarted, it runs the job again.

Then every sample that got a 200 is in the export exactly once, and in nothing else.

    tests/gateway/faults.py       (SRS_BIN_DIR names the binaries; scripts/gateway-e2e.sh runs it)
"""
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pyarrow.parquet as pq

from lab import Camera, Gateway, Topology, check, wait_for

PASSWORD = "gateway faults password"
CLIENTS = 4
BATCH = 100
# Between a client's batches: about 8,000 samples a second in all, as a busy lab sends.
PAUSE_SECS = 0.05


class BrokerLink:
    """A TCP proxy in front of RabbitMQ that can cut every connection and refuse new ones."""

    def __init__(self, upstream=("127.0.0.1", 5672)):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.sockets = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            if not self.open.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(source, target), daemon=True).start()

    @staticmethod
    def pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for side in (source, target):
            try:
                side.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.open.clear()
        with self.lock:
            for side in self.sockets:
                try:
                    side.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets.clear()

    def restore(self):
        self.open.set()


class Sensors:
    """CLIENTS threads posting batches through the gateway; each batch is retried until a 200,
    and its ids are then the acknowledged ones."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.acknowledged = []
        self.retries = 0
        # What stopped a client for good (an answer a retry cannot mend): the test fails on it.
        self.failures = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.next_ts = time.time_ns()
        self.threads = [threading.Thread(target=self.post, args=(client,), daemon=True) for client in range(CLIENTS)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def timestamps(self, count):
        with self.lock:
            first = self.next_ts
            self.next_ts += count * 1_000
        return [first + i * 1_000 for i in range(count)]

    def post(self, client):
        try:
            self.post_until_stopped(client)
        except Exception as error:  # noqa: BLE001 - any failure ends the client; halt() reports it
            with self.lock:
                self.failures.append(f"client {client}: {error!r}")

    def post_until_stopped(self, client):
        sensor = "ecg-1" if client % 2 == 0 else "imu-left"
        values = {"lead_i": 0.1, "lead_ii": -0.1} if sensor == "ecg-1" else {"acc_x": 0.1, "acc_z": 9.81}
        number = 0
        while not self.stop.is_set():
            ids = [f"c{client}:{number}:{i}" for i in range(BATCH)]
            batch = [{"sensor_id": sensor, "id": id_, "ts": ts, "values": values} for id_, ts in zip(ids, self.timestamps(BATCH))]
            while True:
                try:
                    status, answer = self.gateway.call("POST", "/api/v1/samples", batch, expect=(200, 429, 502, 503, 504), timeout=10)
                except OSError:
                    status = None
                if status == 200:
                    assert answer["stored"] + answer["duplicates"] == BATCH, answer
                    break
                with self.lock:
                    self.retries += 1
                time.sleep(0.2)
            with self.lock:
                self.acknowledged += ids
            number += 1
            time.sleep(PAUSE_SECS)

    def halt(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in self.threads), "a posting client did not stop"
        assert not self.failures, f"posting clients failed: {self.failures}"

    def count(self):
        with self.lock:
            assert not self.failures, f"posting clients failed: {self.failures}"
            return len(self.acknowledged)


def restart(name):
    subprocess.run(["scripts/dev-up.sh", "restart", name], check=True, stdout=subprocess.DEVNULL)


def kill(processes, name):
    os.kill(processes.pid(name), signal.SIGKILL)
    wait_for(f"{name} to be gone", lambda: processes.readyz(name)[0] is None, 10)


def faults(gateway, processes, broker):
    processes.add_admin("admin", PASSWORD)
    admin = gateway.sign_in("admin", PASSWORD)
    _, config = gateway.call("POST", "/api/v1/sensor-configs", {"name": "faults"}, admin)
    sensors = [{"id": s["id"], "enabled": s["id"] in ("ecg-1", "imu-left", "cam-1")} for s in config["sensors"]]
    gateway.call("PUT", f"/api/v1/sensor-configs/{config['id']}", {"sensors": sensors}, admin)
    _, experiment = gateway.call("POST", "/api/v1/experiments", {"name": "Faults", "sensor_config_id": config["id"]}, admin)
    _, participant = gateway.call("POST", f"/api/v1/experiments/{experiment['id']}/participants", {"code": "F01"}, admin)
    gateway.call("POST", f"/api/v1/experiments/{experiment['id']}/activate", {}, admin)
    camera = Camera(gateway).start()
    check(camera.connected.wait(10), "the camera is connected")
    _, recording = gateway.call("POST", "/api/v1/recordings", {"experiment_id": experiment["id"], "participant_id": participant["id"]}, admin)
    posting = Sensors(gateway).start()
    wait_for("the first acknowledged samples", lambda: posting.count() > 0)

    # 1. An ingest replica dies.
    kill(processes, "ingest-1")
    at_kill = posting.count()
    wait_for("samples acknowledged by the other replica", lambda: posting.count() > at_kill + 2 * BATCH * CLIENTS, 20)
    check(True, f"with ingest-1 killed, the sensors go on through ingest-2 ({posting.retries} retries so far)")
    restart("ingest-1")
    before = processes.metric("ingest-1", "srs_ingest_samples_accepted_total")
    wait_for("ingest-1 to take traffic again", lambda: processes.metric("ingest-1", "srs_ingest_samples_accepted_total") > before, 20)
    check(True, "restarted, ingest-1 takes part of the traffic again")

    # 2. The control replica holding the camera dies.
    holder = wait_for("one control replica to hold the camera", lambda: next(
        (name for name in ("control-1", "control-2") if processes.metric(name, "srs_devices_connected") == 1), None))
    other = "control-2" if holder == "control-1" else "control-1"
    connections = camera.connections
    kill(processes, holder)
    wait_for("the camera to connect again", lambda: camera.connections > connections and camera.connected.is_set(), 20)
    check(processes.metric(other, "srs_devices_connected") == 1, f"with {holder} killed, the camera connects again, to {other}")

    def snapshot():
        status, answer = gateway.call("POST", "/api/v1/devices/cam-1/commands", {"command": "snapshot", "timeout_ms": 3000}, admin, expect=(200, 404, 502, 504))
        return status == 200 and answer["status"] == "acked"
    wait_for("a command to reach the camera again", snapshot, 20, every=0.5)
    check("snapshot" in camera.commands, "a command through the gateway reaches the camera on the surviving replica and is acked")
    restart(holder)

    # 3. The broker connections are cut.
    reconnects = sum(processes.metric(name, "srs_bus_reconnects_total") for name in ("ingest-2", "experiments", "control-2"))
    broker.cut()
    for name in ("ingest-2", "experiments", "control-1", "exporter", "notifier"):
        status, body = wait_for(f"{name}'s /readyz to report the bus", lambda n=name: (lambda r: r if r[0] == 503 else None)(processes.readyz(n)), 30)
        check("bus" in body, f"with the broker cut, {name}'s /readyz answers {status} naming the bus")
    time.sleep(2)
    broker.restore()
    names = ("ingest-1", "ingest-2", "control-1", "control-2", "experiments", "exporter", "notifier", "console")
    wait_for("every process to be ready again", lambda: all(processes.readyz(n)[0] == 200 for n in names), 60, every=0.5)
    after = sum(processes.metric(name, "srs_bus_reconnects_total") for name in ("ingest-2", "experiments", "control-2"))
    check(after > reconnects, f"the broker back, every process is ready again by itself ({after - reconnects:.0f} reconnects counted)")

    # Enough samples for an export that takes a while, then the recording stops.
    wait_for("enough samples", lambda: posting.count() >= 150_000, 120, every=0.5)
    posting.halt()
    acknowledged = posting.acknowledged
    check(len(set(acknowledged)) == len(acknowledged), f"{len(acknowledged)} samples acknowledged ({posting.retries} retried requests)")
    _, stopped = gateway.call("POST", f"/api/v1/recordings/{recording['id']}/stop", {}, admin)
    check(stopped["sample_count"] == len(acknowledged), f"the recording holds {stopped['sample_count']} samples: every acknowledged one, once")

    # 4. The exporter dies in the middle of the job.
    _, export = gateway.call("POST", "/api/v1/exports", {"experiment_id": experiment["id"]}, admin, expect=(202,))

    def running():
        _, job = gateway.call("GET", f"/api/v1/exports/{export['id']}", token=admin)
        assert job["status"] != "done", "the export finished before the exporter could be killed in the middle of it"
        return job["status"] == "running"
    wait_for("the export to be running", running, 60, every=0.02)
    kill(processes, "exporter")
    status, problem = gateway.call("GET", f"/api/v1/exports/{export['id']}", token=admin, expect=(502,))
    check(problem["code"] == "service_unreachable", "the exporter killed with the job running; meanwhile the gateway answers 502 service_unreachable")
    restart("exporter")
    job = wait_for("the export to finish", lambda: (lambda j: j if j["status"] in ("done", "failed") else None)(gateway.call("GET", f"/api/v1/exports/{export['id']}", token=admin)[1]), 120, every=0.5)
    check(job["status"] == "done", f"restarted, the exporter completed the job ({job['progress']['rows_written']} rows)")

    exported = []
    for file in job["files"]:
        if file["path"].endswith(".parquet"):
            _, data = gateway.call("GET", f"/api/v1/exports/{export['id']}/files/{file['path']}", token=admin)
            exported += pq.read_table(io.BytesIO(data), columns=["sample_id"]).column("sample_id").to_pylist()
    check(len(exported) == len(set(exported)), f"no sample is twice in the export ({len(exported)} rows)")
    check(set(exported) == set(acknowledged), "every sample that got a 200 is in the export, and nothing else")


def main():
    broker = BrokerLink()
    dev_dir = tempfile.mkdtemp(prefix="srs-faults-")
    port = socket.create_server(("127.0.0.1", 0))
    gateway_port = port.getsockname()[1]
    port.close()
    env = dict(os.environ, SRS_DEV_DIR=dev_dir, SRS_GATEWAY_PORT=str(gateway_port),
               SRS_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{broker.port}/%2f",
               SRS_GATEWAY_INGEST_RATE="5000", SRS_GATEWAY_INGEST_BURST="10000",
               # Quick to notice a dead broker and to take over a dead exporter's job.
               SRS__BUS__HEARTBEAT_SECS="2", SRS__EXPORTER__LEASE_SECS="3")
    os.environ.update(env)
    subprocess.run(["scripts/dev-up.sh"], check=True, stdout=subprocess.DEVNULL)
    try:
        print(f"faults in the dev-up topology at http://127.0.0.1:{gateway_port}", flush=True)
        faults(Gateway(f"http://127.0.0.1:{gateway_port}"), Topology(dev_dir), broker)
    finally:
        subprocess.run(["scripts/dev-down.sh", "--purge"], stdout=subprocess.DEVNULL)
    print("faults: every check passed")


if __name__ == "__main__":
    sys.exit(main())
