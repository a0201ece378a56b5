#!/usr/bin/env python3
"""Disk benchmark (scripts/bench-disk.sh): the same ECG and IMU points stored by SRS (over HTTP,
during a recording) and by InfluxDB 1.x (line protocol), then bytes on disk per sample of each.

    disk.py SRS_URL SRS_DB_FILE INFLUX_URL INFLUX_DATA_DIR INFLUX_WAL_DIR SAMPLES

SRS's figure is the growth of its database file (after a WAL checkpoint) while one example was
posted; InfluxDB's the size of that example's database (its TSM files) once its shards were
fully compacted. Both get the values a device sends: a few decimals, a smooth signal with noise.
"""
import json
import math
import os
import random
import sqlite3
import sys
import time
import urllib.request

START_NS = 1_795_392_000_000_000_000  # 2026-11-23T00:00:00Z


def ecg(n):
    t = n / 250
    return {
        "lead_i": round(math.sin(2 * math.pi * 1.2 * t) * 0.8 + random.gauss(0, 0.02), 4),
        "lead_ii": round(math.sin(2 * math.pi * 1.2 * t + 0.3) * 1.1 + random.gauss(0, 0.02), 4),
        "heart_rate": round(72 + 3 * math.sin(t / 30), 1),
    }


def imu(n):
    t = n / 100
    return {
        "acc_x": round(0.3 * math.sin(t) + random.gauss(0, 0.01), 3),
        "acc_y": round(0.1 * math.cos(t / 3) + random.gauss(0, 0.01), 3),
        "acc_z": round(9.81 + random.gauss(0, 0.02), 3),
        "gyro_x": round(random.gauss(0, 0.005), 4),
        "gyro_y": round(0.02 * math.sin(t / 2), 4),
        "gyro_z": round(random.gauss(0, 0.005), 4),
    }


EXAMPLES = [("ecg", "ecg-1", 250, ecg), ("imu", "imu-left", 100, imu)]


def post(url, body, content_type):
    request = urllib.request.Request(url, body.encode(), {"content-type": content_type})
    with urllib.request.urlopen(request) as answer:
        return answer.read()


def sqlite_size(path):
    """The database file's size once every WAL frame is in it. A second connection may
    checkpoint while SRS runs, but a checkpoint that a reader held back would leave pages in the
    WAL and make the figure too small: retry until SQLite reports it complete."""
    for _ in range(100):
        with sqlite3.connect(path) as conn:
            busy, frames, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy == 0 and frames == done:
            return os.path.getsize(path)
        time.sleep(0.1)
    raise SystemExit(f"the WAL of {path} could not be checkpointed: no figure")


def tsm_bytes(directory):
    total = 0
    for root, _, files in os.walk(directory):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(".tsm"))
    return total


def wait_for_full_compaction(directory, wal_directory):
    """Until the WAL is empty and the TSM files stop changing for 10 s; fails after 5 minutes
    rather than print the size of a shard that is not compacted yet."""
    deadline, last, stable_since = time.time() + 300, None, time.time()
    while time.time() < deadline:
        wal = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(wal_directory) for f in fs)
        state = sorted((f, os.path.getsize(os.path.join(r, f))) for r, _, fs in os.walk(directory) for f in fs if f.endswith(".tsm"))
        if state != last or wal > 0:
            last, stable_since = state, time.time()
        elif time.time() - stable_since > 10:
            return
        time.sleep(1)
    raise SystemExit(f"InfluxDB did not finish compacting {directory} within 5 minutes: no figure")


def main(srs, srs_db, influx, influx_data, influx_wal, samples):
    samples = int(samples)
    print(f"disk benchmark: {samples:,} samples per example, SRS over HTTP (1,000 per request), InfluxDB 1.x line protocol (5,000 per request)")
    for kind, sensor, hz, values in EXAMPLES:
        step = 1_000_000_000 // hz
        random.seed(7)
        before = sqlite_size(srs_db)
        for first in range(0, samples, 1000):
            batch = [{"sensor_id": sensor, "ts": START_NS + n * step, "values": values(n)} for n in range(first, min(first + 1000, samples))]
            answer = json.loads(post(f"{srs}/api/v1/samples", json.dumps(batch), "application/json"))
            assert answer["stored"] == len(batch), answer
        srs_bytes = sqlite_size(srs_db) - before

        random.seed(7)
        post(f"{influx}/query", f"q=CREATE DATABASE {kind}", "application/x-www-form-urlencoded")
        for first in range(0, samples, 5000):
            lines = []
            for n in range(first, min(first + 5000, samples)):
                fields = ",".join(f"{k}={v}" for k, v in values(n).items())
                lines.append(f"{kind},sensor_id={sensor} {fields} {START_NS + n * step}")
            post(f"{influx}/write?db={kind}&precision=ns", "\n".join(lines), "text/plain")
        wait_for_full_compaction(os.path.join(influx_data, kind), os.path.join(influx_wal, kind))
        influx_bytes = tsm_bytes(os.path.join(influx_data, kind))

        ratio = srs_bytes / influx_bytes if influx_bytes else float("nan")
        print(
            f"  {kind:<4} SRS {srs_bytes / samples:6.2f} bytes/sample   InfluxDB (compacted) {influx_bytes / samples:6.2f} bytes/sample   "
            f"SRS / InfluxDB {ratio:.2f}x (aim: at most 2x)"
        )


if __name__ == "__main__":
    main(*sys.argv[1:7])
