// The lab's load scenario (k6): 50 virtual users, each posting one sample for every sensor type
// of the example sensors file every 500 ms for 60 s, with thresholds of no failed request and
// p99 latency under 50 ms.
//
//   k6 run -e SRS_URL=http://127.0.0.1:8080 tests/load/srs-scenario.js     (srs serve)
//   k6 run -e SRS_URL=http://127.0.0.1:8000 tests/load/srs-scenario.js     (through the gateway of
//                                                                           scripts/dev-up.sh)
//
// SRS_VUS and SRS_DURATION shorten it (scripts/test.sh runs a smoke of it); SRS_P99_MS moves the
// latency threshold (the smoke's debug builds on a shared machine measure no speed, so it only
// catches a stall there; the speed figures come from full runs of release builds). Samples are stored
// while a recording runs; otherwise they are accepted for the live view — both answer 200.
import http from "k6/http";
import { check, sleep } from "k6";

const BASE = __ENV.SRS_URL || "http://127.0.0.1:8080";
const PERIOD_S = 0.5;

export const options = {
  scenarios: {
    lab: {
      executor: "constant-vus",
      vus: Number(__ENV.SRS_VUS || 50),
      duration: __ENV.SRS_DURATION || "60s",
    },
  },
  thresholds: {
    http_req_failed: ["rate==0"],
    http_req_duration: [`p(99)<${Number(__ENV.SRS_P99_MS || 50)}`],
  },
};

// One sensor of each type in config/sensors.example.json, with realistic values.
const SENSORS = [
  ["door-1", () => ({ open: Math.random() < 0.5 })],
  ["ecg-1", () => ({ lead_i: Math.random() - 0.5, lead_ii: Math.random() - 0.5, heart_rate: 60 + Math.random() * 40 })],
  ["eye-1", () => ({ gaze_x: Math.random(), gaze_y: Math.random(), pupil_left: 3 + Math.random(), pupil_right: 3 + Math.random(), valid: true })],
  ["imu-left", () => ({ acc_x: Math.random(), acc_y: Math.random(), acc_z: 9.81, gyro_x: 0, gyro_y: 0, gyro_z: Math.random() })],
  ["co2-1", () => ({ co2_ppm: 400 + Math.floor(Math.random() * 800), temperature: 21.5, humidity: 40 })],
  ["cam-1", () => ({ frame: Math.floor(Math.random() * 1e6) })],
  ["buttons-1", () => ({ button: 1 + Math.floor(Math.random() * 4), pressed: true })],
];

const PARAMS = { headers: { "Content-Type": "application/json" }, tags: { name: "POST /api/v1/samples" } };

export default function () {
  const started = Date.now();
  const at = new Date().toISOString();
  const requests = SENSORS.map(([sensor, values]) => [
    "POST",
    `${BASE}/api/v1/samples`,
    JSON.stringify({ sensor_id: sensor, ts: at, id: `${sensor}:${__VU}:${__ITER}`, values: values() }),
    PARAMS,
  ]);
  for (const response of http.batch(requests)) {
    check(response, { "200": (r) => r.status === 200 });
  }
  sleep(Math.max(0, PERIOD_S - (Date.now() - started) / 1000));
}
