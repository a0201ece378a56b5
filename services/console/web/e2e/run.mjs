// The console in a real browser (Debian's chromium driven by playwright-core, never a
// downloaded browser) against a running `srs serve` (SRS_E2E_URL, an admin SRS_E2E_USER /
// SRS_E2E_PASSWORD with an active experiment "load" recording; scripts/console-e2e.sh sets
// it up). Screenshots go to e2e/output/. Exits non-zero on the first failed check.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
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
const page = await context.newPage();
// Every request the console makes, to prove it never leaves its own origin.
const requests = [];
page.on("request", (request) => requests.push(request.url()));
const failures = [];
page.on("pageerror", (error) => failures.push(String(error)));

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
  await page.screenshot({ path: `${output}dashboard.png` });
});

await check("the alerts page lists the channels and sends nothing on a channel that is off", async () => {
  await page.getByRole("link", { name: "Alerts" }).click();
  await page.waitForURL(/\/console\/admin\/notifications$/);
  const email = page.getByTestId("channel-email");
  await email.getByText("off (not configured)").waitFor();
  assert.equal(await email.getByRole("button", { name: "Send test" }).isDisabled(), true);
  await page.screenshot({ path: `${output}alerts.png` });
});

await check("an expired session returns to sign-in and then to the page it was on", async () => {
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

await check("every request stayed on the console's own origin, and no script failed", async () => {
  const elsewhere = requests.filter((url) => !url.startsWith(base) && !url.startsWith(base.replace("http", "ws")));
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(failures, []);
});

await browser.close();
console.log(`console e2e: every check passed (${requests.length} requests, screenshots in ${output})`);
