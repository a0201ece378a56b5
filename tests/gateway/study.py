#!/usr/bin/env python3
"""A whole study through the gateway of the dev-up topology (scripts/dev-up.sh: two ingest and
two control replicas, the other services, RabbitMQ and Traefik), reaching SRS only through the
gateway's port: admin made with the CLI, sign-in, sensor config, experiment with tasks, an
operator and participants, activation, a simulated camera, a recording (the camera is told to
start and stop and acknowledges), sensors posting (each ingest replica gets traffic), a sensor
publishing over MQTT to the topology's Mosquitto (its ACL refusing another sensor's topic), a live
client seeing their values, an export downloaded and read back with pyarrow, and the
export-completed email received by a real SMTP server (aiosmtpd).

    tests/gateway/study.py GATEWAY_URL DEV_DIR SMTP_INBOX_FILE

scripts/gateway-e2e.sh starts the topology and the SMTP server and runs this.
"""
import asyncio
import io
import json
import os
import subprocess
import sys
import time

import pyarrow.parquet as pq
import websockets

from lab import Camera, Gateway, Topology, check, in_thread, wait_for

GATEWAY_URL, DEV_DIR, INBOX = sys.argv[1:4]
GATEWAY = Gateway(GATEWAY_URL)
call = GATEWAY.call
PASSWORD = "gateway study password"


async def live_points(token, sensor, seconds):
    """The number of ecg points a live client subscribed at 50 Hz sees while samples arrive."""
    points = 0
    async with websockets.connect(f"{GATEWAY.ws}/api/v1/ws/live?access_token={token}") as socket:
        await socket.send(json.dumps({"type": "subscribe", "sensors": [sensor], "max_hz": 50}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), timeout=0.5))
            except asyncio.TimeoutError:
                continue
            if message.get("type") == "values" and message.get("sensor_id") == sensor:
                points += len(message["ts"])
    return points


def post_samples(recording_start_ns):
    """Posts ECG batches, IMU and door samples, each with an id; returns stored counts by type."""
    stored = {"ecg": 0, "imu": 0, "door": 0}
    for batch in range(40):
        base = recording_start_ns + batch * 100_000_000
        ecg = [{"sensor_id": "ecg-1", "id": f"ecg-1:{batch}:{i}", "ts": base + i * 4_000_000,
                "values": {"lead_i": (i % 7) * 0.1, "lead_ii": -0.2, "heart_rate": 71.0}} for i in range(25)]
        imu = [{"sensor_id": "imu-left", "id": f"imu:{batch}:{i}", "ts": base + i * 10_000_000,
                "values": {"acc_x": 0.1, "acc_y": 0.2, "acc_z": 9.81, "gyro_x": 0, "gyro_y": 0, "gyro_z": 0.01}} for i in range(10)]
        for kind, samples in (("ecg", ecg), ("imu", imu)):
            _, answer = call("POST", "/api/v1/samples", samples)
            if answer["accepted"] != len(samples):
                raise AssertionError(f"batch {batch} {kind}: {answer}")
            stored[kind] += answer["stored"]
        _, answer = call("POST", "/api/v1/sensors/door-1/samples", {"id": f"door:{batch}", "ts": base, "values": {"open": batch % 2 == 0}})
        stored["door"] += answer["stored"]
    # A retried batch (same ids) is stored once: all duplicates.
    _, answer = call("POST", "/api/v1/samples", [{"sensor_id": "door-1", "id": "door:0", "ts": recording_start_ns, "values": {"open": True}}])
    check(answer["duplicates"] == 1 and answer["stored"] == 0, "a retried sample is a duplicate, not stored twice")
    return stored


def publish_over_mqtt(mqtt_url, recording_start_ns):
    """door-1 publishes 10 samples as mosquitto_pub does (QoS 1, its own user and topic); a
    publish to another sensor's topic is refused by the broker's ACL. Returns the samples sent."""
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    login = ["-V", "mqttv5", "-h", host, "-p", port, "-u", "door-1", "-P", "sensor-dev-password", "-q", "1"]
    lines = "".join(json.dumps({"id": f"door-mqtt:{n}", "ts": recording_start_ns + 5_000_000_000 + n, "values": {"open": n % 2 == 0}}) + "\n"
                    for n in range(10))
    subprocess.run(["mosquitto_pub", *login, "-t", "srs/samples/door-1", "-l"], input=lines.encode(), check=True, timeout=30)
    refused = subprocess.run(["mosquitto_pub", *login, "-t", "srs/samples/ecg-1", "-m", '{"values": {"lead_i": 1}}'],
                             capture_output=True, text=True, timeout=30)
    check("Not authorized" in refused.stderr, f"the broker's ACL refuses door-1 publishing as ecg-1 ({refused.stderr.strip()})")
    return 10


def study():
    processes = Topology(DEV_DIR)
    processes.add_admin("admin", PASSWORD)
    admin = GATEWAY.sign_in("admin", PASSWORD)
    check(bool(admin), "the admin made with the CLI signs in through the gateway")

    _, config = call("POST", "/api/v1/sensor-configs", {"name": "gateway study"}, admin)
    wanted = {"ecg-1", "imu-left", "door-1", "cam-1"}
    sensors = [{"id": s["id"], "enabled": s["id"] in wanted} for s in config["sensors"]]
    call("PUT", f"/api/v1/sensor-configs/{config['id']}", {"sensors": sensors}, admin)
    _, experiment = call("POST", "/api/v1/experiments", {"name": "Gateway study", "sensor_config_id": config["id"]}, admin)
    eid = experiment["id"]
    _, task = call("POST", f"/api/v1/experiments/{eid}/tasks", {"name": "walk"}, admin)
    call("POST", f"/api/v1/experiments/{eid}/tasks", {"name": "rest"}, admin)
    _, operator = call("POST", "/api/v1/users", {"username": "oskar", "password": PASSWORD, "role": "operator"}, admin)
    call("PUT", f"/api/v1/experiments/{eid}/operators", {"user_ids": [operator["id"]]}, admin)
    _, participant = call("POST", f"/api/v1/experiments/{eid}/participants", {"code": "P01"}, admin)
    call("POST", f"/api/v1/experiments/{eid}/participants", {"code": "P02"}, admin)
    call("POST", f"/api/v1/experiments/{eid}/activate", {}, admin)
    oskar = GATEWAY.sign_in("oskar", PASSWORD)
    check(True, "experiment with two tasks, an operator and two participants, activated")

    camera = Camera(GATEWAY).start()
    check(camera.connected.wait(10), "a simulated camera connects to its device socket through the gateway")
    wait_for("control to list the camera", lambda: any(d["sensor_id"] == "cam-1" for d in call("GET", "/api/v1/devices", token=oskar)[1]))
    check(True, "the camera is connected (listed by control through the gateway)")

    _, recording = call("POST", "/api/v1/recordings", {"experiment_id": eid, "participant_id": participant["id"], "task_id": task["id"]}, oskar)
    wait_for("the camera to get start_recording", lambda: "start_recording" in camera.commands, 10)
    check(True, "the camera received start_recording and acknowledged it")

    before = {name: processes.metric(name, "srs_ingest_samples_accepted_total") for name in ("ingest-1", "ingest-2")}
    start_ns = time.time_ns()
    live, points = in_thread(live_points(oskar, "ecg-1", 6))
    time.sleep(1)
    stored = post_samples(start_ns)
    check(stored == {"ecg": 1000, "imu": 400, "door": 40}, f"every sample posted through the gateway is stored: {stored}")
    mqtt_before = {name: processes.metric(name, 'srs_ingest_mqtt_samples_total{broker="mqtt"}') for name in ("ingest-1", "ingest-2")}
    published = publish_over_mqtt(processes.urls["SRS_MQTT_URL"], start_ns)
    mqtt_taken = lambda: {name: processes.metric(name, 'srs_ingest_mqtt_samples_total{broker="mqtt"}') - mqtt_before[name] for name in mqtt_before}
    wait_for("ingest to commit the MQTT samples", lambda: sum(mqtt_taken().values()) >= published, 15)
    taken = mqtt_taken()
    check(all(n > 0 for n in taken.values()), f"both ingest replicas took MQTT messages from the shared subscription: {taken}")
    stored["door"] += published
    for name in ("ingest-1", "ingest-2"):
        after = processes.metric(name, "srs_ingest_samples_accepted_total")
        check(after > before[name], f"{name} took part of the traffic ({after - before[name]:.0f} samples)")
    live.join()
    points = points[0]
    check(points > 0, f"a live client saw the ECG's values through the gateway ({points} points)")

    _, stopped = call("POST", f"/api/v1/recordings/{recording['id']}/stop", {}, oskar)
    total = sum(stored.values())
    check(stopped["sample_count"] == total, f"the recording counts {total} samples")
    wait_for("the camera to get stop_recording", lambda: "stop_recording" in camera.commands, 10)
    check(True, "the camera received stop_recording and acknowledged it")
    _, logbook = call("GET", f"/api/v1/experiments/{eid}/logbook", token=oskar)
    check(any("cam-1 acknowledged start_recording" in entry["message"] for entry in logbook), "the logbook records the camera's acknowledgement")

    _, export = call("POST", "/api/v1/exports", {"experiment_id": eid}, oskar, expect=(202,))
    done = wait_for("the export", lambda: (lambda e: e if e["status"] in ("done", "failed") else None)(call("GET", f"/api/v1/exports/{export['id']}", token=oskar)[1]), 60)
    check(done["status"] == "done", f"the export completed ({done['progress']['rows_written']} rows)")
    rows = {}
    for file in done["files"]:
        if file["path"].endswith(".parquet"):
            _, data = call("GET", f"/api/v1/exports/{export['id']}/files/{file['path']}", token=oskar)
            table = pq.read_table(io.BytesIO(data))
            check(table.num_rows == file["rows"], f"{file['path']}: {table.num_rows} rows read back with pyarrow")
            kind = file["path"].rsplit("/", 1)[1].removesuffix(".parquet")
            rows[kind] = rows.get(kind, 0) + table.num_rows
    check(rows == {"ecg": 1000, "imu": 400, "door": 50}, f"the downloaded Parquet files hold every stored sample once: {rows}")

    def export_mail():
        if not os.path.exists(INBOX):
            return None
        with open(INBOX) as file:
            mails = [json.loads(line) for line in file if line.strip()]
        return next((m for m in mails if "Export of Gateway study is ready" in m["subject"] + m["body"]), None)
    mail = wait_for("the export-completed email", export_mail, 30)
    check(True, f"the export-completed email arrived: {mail['subject']!r}")

    # Unrouted paths answer SRS's problem document.
    status, problem = call("GET", "/healthz", expect=(404,))
    check(problem["code"] == "not_found", "a service's /healthz is not reachable through the gateway")


if __name__ == "__main__":
    print(f"study through {GATEWAY_URL}")
    study()
    print("study: every check passed")
