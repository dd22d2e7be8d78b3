// Drives the dashboard in Debian's headless Chromium against real agents.
//   node dashboard.mjs URL LOGIN_URL GUEST SCREENSHOT.png
// The guest must be connected and stale, and the host slowed with --max-rate so the push can
// be watched. Exits 0 when every check passes.
import { chromium } from "playwright-core";

const [url, login, guest, shot] = process.argv.slice(2);
const fail = (why) => { console.error("FAILED: " + why); process.exit(1); };

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const started = Date.now();
  // Without the login anyone may look, but the page offers no push and the server refuses one.
  await page.goto(url);
  const row = page.locator(`tr[data-guest="${guest}"]`);
  const badge = row.locator(".badge");
  await badge.waitFor({ timeout: 15000 });
  if (!(await row.locator("button[data-push]").isDisabled())) fail("a visitor may push");
  const visitor = await page.evaluate(async () => (await fetch("/api/push", {
    method: "POST", headers: { "X-CSRF-Token": document.querySelector('meta[name="gpupv-csrf"]').content },
    body: '{"guest":null}' })).status);
  if (visitor !== 403) fail(`a visitor's push got ${visitor}`);
  // The administrator's one-time link logs this browser in and lands on the dashboard.
  await page.goto(login);
  if (new URL(page.url()).pathname !== "/") fail("the login link did not lead to the dashboard");
  await badge.waitFor({ timeout: 15000 });
  const before = await badge.getAttribute("data-state");
  if (before !== "stale") fail(`the guest should start stale, shows ${before}`);
  // the summary line counts the fleet; the row names the failing check and its fix
  const summary = await page.locator("#summary").innerText();
  if (!/^\d+ in sync, \d+ stale, \d+ failing a GPU check$/.test(summary)) fail(`summary: ${summary}`);
  if (!/[1-9]\d* stale/.test(summary)) fail(`the stale guest is not counted: ${summary}`);
  const gpuCell = await row.locator('td[data-label="GPU"]').innerText();
  if (!/fix: /.test(gpuCell)) fail(`the GPU cell shows no fix: ${gpuCell}`);
  await page.evaluate(() => { window.notReloaded = true; });

  // A tampered token and a missing token are refused by the server.
  const statuses = await page.evaluate(async () => {
    const post = (headers) => fetch("/api/push", { method: "POST", headers, body: '{"guest":null}' })
      .then((r) => r.status);
    return [await post({ "X-CSRF-Token": "0".repeat(64) }), await post({})];
  });
  if (statuses[0] !== 403 || statuses[1] !== 403) fail(`forged pushes got ${statuses}`);
  if ((await badge.getAttribute("data-state")) !== "stale") fail("a forged push changed the guest");

  // The push button starts a push; the bar moves and the row turns in sync, all without reload.
  await row.locator("button[data-push]").click();
  const bar = row.locator("progress");
  await bar.waitFor({ timeout: 15000 });
  const first = Number(await bar.getAttribute("value"));
  await page.waitForFunction(
    ([g, v]) => { const p = document.querySelector(`tr[data-guest="${g}"] progress`);
                  return !p || Number(p.getAttribute("value")) > v; },
    [guest, first], { timeout: 30000 });
  const moved = await bar.count() ? Number(await bar.getAttribute("value")) : Infinity;
  if (!(moved > first)) fail("the progress bar did not move");
  await page.waitForFunction(
    (g) => document.querySelector(`tr[data-guest="${g}"] .badge`)?.dataset.state === "in_sync",
    guest, { timeout: 60000 });
  if (!(await page.evaluate(() => window.notReloaded))) fail("the page reloaded");
  const text = await row.innerText();
  if (!/in sync/.test(text)) fail("the row does not say in sync: " + text);
  await page.screenshot({ path: shot, fullPage: true });
  // The same page on a phone-sized screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: shot.replace(/\.png$/, "-phone.png"), fullPage: true });
  console.log(`dashboard checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await browser.close();
}
