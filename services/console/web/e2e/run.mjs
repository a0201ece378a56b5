// The console in a real browser (Debian's chromium driven by playwright-core, never a
// downloaded browser) against a running `srs serve` (SRS_E2E_URL, an admin SRS_E2E_USER /
// SRS_E2E_PASSWORD with an active experiment "load" recording; scripts/console-e2e.sh sets
// it up). SRS_E2E_OFF_CHANNEL names a notification channel the server leaves off (default
// email). Screenshots go to e2e/output/. Exits non-zero on the first failed check.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const base = process.env.SRS_E2E_URL;
const [user, password] = [process.env.SRS_E2E_USER, process.env.SRS_E2E_PASSWORD];
assert.ok(base && user && password, "SRS_E2E_URL, SRS_E2E_USER and SRS_E2E_PASSWORD must be set");
const output = new URL("./output/", import.meta.url).pathname;
mkdirSync(output, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.SRS_E2E_CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
// The internet is blocked for the browser: anything not for the server is aborted (and kept,
// to show it was asked for).
const blocked = [];
await context.route(
  (url) => url.origin !== new URL(base).origin,
  (route) => {
    blocked.push(route.request().url());
    return route.abort("internetdisconnected");
  },
);
const page = await context.newPage();
// Every request the console makes, to prove it never leaves its own origin.
const requests = [];
page.on("request", (request) => requests.push(request.url()));
const failures = [];
page.on("pageerror", (error) => failures.push(String(error)));
// Confirmations are accepted, and their questions kept to check what they say.
const dialogs = [];
page.on("dialog", (dialog) => {
  dialogs.push(dialog.message());
  void dialog.accept();
});

async function check(name, steps) {
  try {
    await steps();
    console.log(`ok   ${name}`);
  } catch (error) {
    await page.screenshot({ path: `${output}failed-${name.replace(/\W+/g, "-")}.png` });
    console.error(`FAIL ${name}\n${error.stack ?? error}`);
    await browser.close();
    process.exit(1);
  }
}

async function signIn(secret) {
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
}

await check("the root leads to sign-in, remembering the page", async () => {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/console\/login\?next=%2Fdashboard$/);
  await page.getByRole("heading", { name: "Sign in to SRS" }).waitFor();
});

await check("a wrong password shows the server's words", async () => {
  await signIn("not the password");
  const error = page.getByRole("alert");
  await error.waitFor();
  assert.match(await error.innerText(), /wrong|password/i);
  await page.screenshot({ path: `${output}sign-in-error.png` });
});

await check("signing in opens the dashboard with the running recording and the sensors", async () => {
  await signIn(password);
  await page.waitForURL(/\/console\/dashboard$/);
  await page.getByTestId("active-experiment").filter({ hasText: "load" }).waitFor();
  await page.getByTestId("recording").waitFor();
  // A sensor posts: its tile turns live.
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("srs.session")).access);
  const posted = await fetch(`${base}/api/v1/sensors/ecg-1/samples`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ values: { lead_i: 0.5, lead_ii: -0.25 } }),
  });
  assert.equal(posted.status, 200, await posted.text());
  await page.getByTestId("sensor-ecg-1").locator(".badge.live").waitFor({ timeout: 10_000 });
  // Charted: ecg-1's values (250 Hz) draw points once ingest knows the sensor is watched.
  await page.getByTestId("sensor-ecg-1").getByLabel("Chart").check();
  const chart = page.getByTestId("chart-ecg-1");
  for (let round = 0; round < 40 && Number(await chart.getAttribute("data-points")) < 20; round++) {
    const start = Date.now() * 1e6;
    const samples = Array.from({ length: 50 }, (_, i) => ({ sensor_id: "ecg-1", ts: start + i * 4e6, values: { lead_i: Math.sin(i / 5), lead_ii: Math.cos(i / 5) } }));
    await fetch(`${base}/api/v1/samples`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(samples) });
    await page.waitForTimeout(250);
  }
  assert.ok(Number(await chart.getAttribute("data-points")) >= 20, "the chart has points");
  await chart.locator("canvas").waitFor();
  await page.screenshot({ path: `${output}dashboard-chart.png`, fullPage: true });
  await page.getByTestId("sensor-ecg-1").getByLabel("Chart").uncheck();
});

// A figure, not a check: how smoothly 8 charts draw while 8 sensors send at 250 Hz (shown at
// 50 Hz each), as frames per second of the page and its longest frame.
await check("eight live charts at 50 Hz (figure)", async () => {
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("srs.session")).access);
  const eight = { "ecg-1": ["lead_i", "lead_ii"], "ecg-2": ["lead_i", "lead_ii"], "imu-left": ["acc_x", "acc_y", "acc_z"], "imu-right": ["acc_x", "acc_y", "acc_z"], "eye-1": ["gaze_x", "gaze_y"], "co2-1": ["co2_ppm"], "door-1": ["open"], "buttons-1": ["button", "pressed"] };
  const value = (field, i) => (field === "open" || field === "pressed" ? i % 2 === 0 : field === "co2_ppm" || field === "button" ? 400 + (i % 7) : Math.sin(i / 9));
  for (const sensor of Object.keys(eight)) await page.getByTestId(`sensor-${sensor}`).getByLabel("Chart").check();
  let posting = true;
  const poster = (async () => {
    for (let round = 0; posting; round++) {
      const start = Date.now() * 1e6;
      const samples = Object.entries(eight).flatMap(([sensor, fields]) =>
        Array.from({ length: 50 }, (_, i) => ({ sensor_id: sensor, ts: start + i * 4e6, values: Object.fromEntries(fields.map((f) => [f, value(f, round * 50 + i)])) })),
      );
      await fetch(`${base}/api/v1/samples`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(samples) });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  await page.getByTestId("chart-imu-right").and(page.locator("[data-points]:not([data-points='0'])")).waitFor({ timeout: 15_000 });
  const frames = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const times = [];
        const tick = (t) => {
          times.push(t);
          if (t - times[0] < 5000) requestAnimationFrame(tick);
          else resolve(times);
        };
        requestAnimationFrame(tick);
      }),
  );
  posting = false;
  await poster;
  const gaps = frames.slice(1).map((t, i) => t - frames[i]);
  const points = await page.getByTestId("chart-ecg-2").getAttribute("data-points");
  console.log(`     figure: 8 live charts, 8 sensors at 250 Hz shown at 50 Hz: ${((gaps.length * 1000) / (frames.at(-1) - frames[0])).toFixed(1)} frames/s, longest frame ${Math.max(...gaps).toFixed(0)} ms, ${points} points in ecg-2's chart`);
  await page.screenshot({ path: `${output}dashboard-eight-charts.png`, fullPage: true });
  for (const sensor of Object.keys(eight)) await page.getByTestId(`sensor-${sensor}`).getByLabel("Chart").uncheck();
});

await check("the alerts page lists the channels and sends nothing on a channel that is off", async () => {
  await page.getByRole("link", { name: "Alerts" }).click();
  await page.waitForURL(/\/console\/admin\/notifications$/);
  const off = page.getByTestId(`channel-${process.env.SRS_E2E_OFF_CHANNEL ?? "email"}`);
  await off.getByText("off (not configured)").waitFor();
  assert.equal(await off.getByRole("button", { name: "Send test" }).isDisabled(), true);
  await page.screenshot({ path: `${output}alerts.png` });
});

await check("the running recording of the lab is stopped from its experiment page", async () => {
  await page.getByRole("link", { name: "Experiments" }).click();
  await page.getByRole("link", { name: "load" }).click();
  await page.getByTestId("running").waitFor();
  await page.getByRole("button", { name: "Stop recording" }).click();
  await page.getByRole("button", { name: "Pre-flight check" }).waitFor();
});

await check("a study is set up: config, experiment, two tasks, two participants, activated", async () => {
  await page.getByRole("link", { name: "Experiments" }).click();
  await page.getByLabel("A new sensor config").fill("Study config");
  await page.getByRole("button", { name: "Create config" }).click();
  await page.getByLabel("Sensor config").locator("option", { hasText: "Study config" }).waitFor({ state: "attached" });
  await page.getByLabel("Name", { exact: true }).fill("Sleep study");
  await page.getByLabel("Description").fill("Two nights per participant");
  await page.getByRole("button", { name: "Create experiment" }).click();
  await page.waitForURL(/\/console\/experiments\/[^/]+$/);
  await page.getByRole("heading", { name: "Sleep study" }).waitFor();
  for (const task of ["rest", "walk"]) {
    await page.getByLabel("Task", { exact: true }).fill(task);
    await page.getByRole("button", { name: "Add task" }).click();
    await page.getByRole("listitem").filter({ hasText: task }).waitFor();
  }
  for (const code of ["P01", "P02"]) {
    await page.getByLabel("Code").fill(code);
    await page.getByRole("button", { name: "Add participant" }).click();
    await page.getByRole("listitem").filter({ hasText: code }).waitFor();
  }
  // A participant code twice: the server's words.
  await page.getByLabel("Code").fill("P01");
  await page.getByRole("button", { name: "Add participant" }).click();
  await page.getByRole("alert").filter({ hasText: /P01/ }).waitFor();
  await page.getByRole("button", { name: "Activate" }).click();
  await page.getByRole("heading", { name: "Sleep study" }).locator(".badge.live").waitFor();
  await page.screenshot({ path: `${output}experiment.png`, fullPage: true });
});

// A simulated camera on its own page: its socket acks every command it gets.
const camera = await context.newPage();
await camera.evaluate(async (url) => {
  window.commands = [];
  const socket = new WebSocket(url);
  socket.onmessage = (message) => {
    const command = JSON.parse(message.data);
    window.commands.push(command.command);
    socket.send(JSON.stringify({ type: "ack", id: command.id, ok: true, detail: `${command.command} done` }));
  };
  await new Promise((resolve) => (socket.onopen = resolve));
}, `${base.replace("http", "ws")}/api/v1/ws/devices/cam-1`);

const experimentUrl = page.url();
await check("the pre-flight check shows the camera, and the recording starts with its ack", async () => {
  // The socket is open; control lists the device once it has recorded holding it.
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("srs.session")).access);
  for (let i = 0; i < 100; i++) {
    const devices = await (await fetch(`${base}/api/v1/devices`, { headers: { authorization: `Bearer ${token}` } })).json();
    if (devices.some((d) => d.sensor_id === "cam-1")) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await page.getByRole("button", { name: "Pre-flight check" }).click();
  await page.getByTestId("preflight").getByRole("row").filter({ hasText: "cam-1" }).filter({ hasText: "connected" }).waitFor();
  await page.getByLabel("Participant", { exact: true }).selectOption({ label: "P01" });
  await page.locator("#rec-task").selectOption({ label: "rest" });
  // cam-2 never posts and never connects (and has a recording hook): starting anyway asks
  // first, naming it.
  await page.getByRole("button", { name: "Start recording" }).click();
  await page.getByTestId("running").waitFor();
  assert.match(dialogs.pop() ?? "", /^Start anyway\? The pre-flight check found: not live: .*cam-2.*; device not connected: cam-2\.$/);
  await camera.waitForFunction(() => window.commands.includes("start_recording"));
  await page.getByTestId("logbook").filter({ hasText: "cam-1 acknowledged start_recording" }).waitFor({ timeout: 10_000 });
});

await check("the dashboard shows the camera, and its snapshot button is acked", async () => {
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("srs.session")).access);
  const samples = Array.from({ length: 50 }, (_, i) => ({ sensor_id: "ecg-1", values: { lead_i: i / 10, lead_ii: -i / 10 } }));
  const posted = await fetch(`${base}/api/v1/samples`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(samples),
  });
  const answer = await posted.text();
  assert.equal(posted.status, 200, answer);
  assert.equal(JSON.parse(answer).stored, 50, answer);
  await page.getByRole("link", { name: "Dashboard" }).click();
  await page.getByTestId("samples").filter({ hasText: /^50$/ }).waitFor();
  const device = page.getByTestId("device-cam-1");
  await device.getByRole("button", { name: "snapshot" }).click();
  await device.getByTestId("outcome-snapshot").filter({ hasText: "acked: snapshot done" }).waitFor();
  await page.screenshot({ path: `${output}dashboard-recording.png`, fullPage: true });
});

await check("a logbook line, the stop, and the participant's progress", async () => {
  await page.goto(experimentUrl);
  await page.getByLabel("Note").fill("P01 comfortable, lights off");
  await page.getByRole("button", { name: "Add to the logbook" }).click();
  await page.getByTestId("logbook").filter({ hasText: "P01 comfortable, lights off" }).waitFor();
  await page.getByRole("button", { name: "Stop recording" }).click();
  await page.getByRole("button", { name: "Pre-flight check" }).waitFor();
  await camera.waitForFunction(() => window.commands.includes("stop_recording"));
  const saved = page.waitForResponse((r) => r.url().includes("/progress/") && r.request().method() === "PUT");
  await page.getByLabel("P01, rest").selectOption("done");
  assert.equal((await saved).status(), 200);
  await page.reload();
  assert.equal(await page.getByLabel("P01, rest").inputValue(), "done");
});

await check("the data page: a guarded delete, an export to done, a Parquet download read by pyarrow", async () => {
  await page.getByRole("link", { name: "Data and exports" }).click();
  await page.getByTestId("total").filter({ hasText: "50" }).waitFor();
  await page.getByRole("button", { name: "Delete samples" }).click();
  await page.getByRole("alert").filter({ hasText: /export/i }).waitFor();
  assert.equal(dialogs.pop(), "Delete 50 samples of Sleep study (P01: 50)? This cannot be undone.");
  await page.getByLabel("ecg", { exact: true }).check();
  await page.getByLabel("P01", { exact: true }).check();
  await page.getByRole("button", { name: "Export", exact: true }).click();
  await page.getByTestId("export-status").filter({ hasText: "done" }).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: `${output}data.png`, fullPage: true });
  const [file] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: /Download .*ecg\.parquet/ }).click()]);
  const saved = `${output}${file.suggestedFilename()}`;
  await file.saveAs(saved);
  const python = process.env.SRS_TEST_PYTHON ?? new URL("../../../../.venv/bin/python", import.meta.url).pathname;
  const rows = execFileSync(existsSync(python) ? python : "python3", ["-c", "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).num_rows)", saved]);
  assert.equal(String(rows).trim(), "50");
  await page.getByRole("button", { name: "Delete anyway, unexported samples too" }).click();
  await page.getByRole("status").filter({ hasText: "Deleted 50 samples." }).waitFor();
  assert.match(dialogs.pop() ?? "", /^Delete 50 samples of Sleep study \(P01: 50\), including samples in no completed export\?/);
});

await check("an admin creates an operator (a bad form is refused in place) and issues and revokes a device token", async () => {
  await page.getByRole("link", { name: "Users" }).click();
  await page.getByLabel("Username").fill("olga lovelace");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByText("Username may hold only letters, digits and . _ - @").waitFor();
  await page.getByText("Password must be at least 8 characters (and at most 1024)").waitFor();
  assert.equal(await page.getByTestId("user-olga lovelace").count(), 0);
  await page.getByLabel("Username").fill("olga");
  await page.getByLabel("Password").fill("operator password");
  await page.getByLabel("Role", { exact: true }).selectOption("operator");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByTestId("user-olga").waitFor();
  await page.locator("#token-sensor").selectOption("cam-1");
  await page.getByRole("button", { name: "Issue token" }).click();
  const token = await page.getByTestId("token-cam-1").getByTestId("token-value").innerText();
  assert.match(token, /^\S{20,}$/);
  await page.screenshot({ path: `${output}users.png`, fullPage: true });
  await page.getByTestId("token-cam-1").getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("status").filter({ hasText: "revoked" }).waitFor();
});

await check("the operator is assigned to the study", async () => {
  await page.goto(experimentUrl);
  await page.getByLabel("olga").check();
  await page.getByRole("button", { name: "Save operators" }).click();
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
});

await check("an operator sees the study assigned to them, not another's experiment, nor the admin pages", async () => {
  const other = await browser.newContext();
  const operator = await other.newPage();
  await operator.goto(`${base}/console/experiments`);
  await operator.getByLabel("Username").fill("olga");
  await operator.getByLabel("Password").fill("operator password");
  await operator.getByRole("button", { name: "Sign in" }).click();
  await operator.waitForURL(/\/console\/experiments$/);
  await operator.getByRole("link", { name: "Sleep study" }).waitFor();
  assert.equal(await operator.getByRole("link", { name: "load", exact: true }).count(), 0);
  await operator.getByText("olga (operator)").waitFor();
  assert.equal(await operator.getByRole("link", { name: "Users" }).count(), 0);
  await other.close();
});

await check("the pages fit a tablet (768 x 1024) without sideways scrolling", async () => {
  await page.setViewportSize({ width: 768, height: 1024 });
  for (const path of ["/console/dashboard", experimentUrl.slice(base.length), "/console/admin/users"]) {
    await page.goto(`${base}${path}`);
    await page.getByRole("heading", { level: 1 }).first().waitFor();
    await page.waitForTimeout(300);
    const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `${path}: ${scroll} px wide in a ${width} px window`);
  }
  await page.screenshot({ path: `${output}tablet-users.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
});

await check("an expired session returns to sign-in and then to the page it was on", async () => {
  await page.getByRole("link", { name: "Alerts" }).click();
  await page.waitForURL(/\/console\/admin\/notifications$/);
  await page.evaluate(() => {
    const stored = JSON.parse(sessionStorage.getItem("srs.session"));
    sessionStorage.setItem("srs.session", JSON.stringify({ ...stored, expiresAt: 0, refresh: "no-longer-valid" }));
  });
  await page.reload();
  await page.waitForURL(/\/console\/login\?next=%2Fadmin%2Fnotifications$/);
  await signIn(password);
  await page.waitForURL(/\/console\/admin\/notifications$/);
});

await check("signing out forgets the session", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/console\/login$/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("srs.session")), null);
  await page.goto(`${base}/console/dashboard`);
  await page.waitForURL(/\/console\/login\?next=%2Fdashboard$/);
});

await check("with the internet blocked, every request stayed on the console's own origin, and no script failed", async () => {
  const elsewhere = requests.filter((url) => !url.startsWith(base) && !url.startsWith(base.replace("http", "ws")));
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(blocked, []);
  assert.deepEqual(failures, []);
});

await browser.close();
console.log(`console e2e: every check passed (${requests.length} requests, screenshots in ${output})`);
