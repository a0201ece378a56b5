#!/usr/bin/env python3
"""Prepares a running SRS for load: signs in, creates a sensor config, an experiment with one
participant, activates it and starts a recording, so that posted samples are stored.

    scripts/lab-setup.py http://127.0.0.1:8080 USERNAME PASSWORD

Prints the recording id. Used by scripts/bench-ingest.sh and the k6 smoke in scripts/test.sh.
"""
import json
import sys
import urllib.request


def main(base, username, password):
    def call(path, body, token=None):
        request = urllib.request.Request(f"{base}/api/v1{path}", json.dumps(body).encode(), {"content-type": "application/json"})
        if token:
            request.add_header("authorization", f"Bearer {token}")
        return json.load(urllib.request.urlopen(request))

    token = call("/auth/login", {"username": username, "password": password})["access_token"]
    config = call("/sensor-configs", {"name": "load"}, token)
    experiment = call("/experiments", {"name": "load", "sensor_config_id": config["id"]}, token)
    participant = call(f"/experiments/{experiment['id']}/participants", {"code": "P01"}, token)
    call(f"/experiments/{experiment['id']}/activate", {}, token)
    recording = call("/recordings", {"experiment_id": experiment["id"], "participant_id": participant["id"]}, token)
    print(recording["id"])


if __name__ == "__main__":
    main(*sys.argv[1:4])
